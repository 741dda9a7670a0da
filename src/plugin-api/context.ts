/**
 * One request's context, as every filter of the chain sees it: the request (changeable until the
 * upstream stage reads it), the response (set by a local reply or by the upstream, changeable on
 * the way back), who sent it (peer) and to what (destination), what the router decided (route,
 * upstream), typed per-request values, and cleanup callbacks run at stream end.
 *
 * Invariants: `response` is null until someone replies; `respond` replaces any earlier response
 * (cancelling its body); `finish` runs each onDone callback once, newest first, and never throws.
 * Per-request allocation is this object plus what filters put in it (values and callbacks are
 * allocated on first use).
 */
import { bodyOf, type HasBody } from "./body.ts";
import { createHeaders, type HeaderInit, type HeaderMap } from "./headers.ts";
import type { PluginLogger, PluginMetrics } from "./host.ts";

export interface HttpRequest extends HasBody {
  method: string;
  scheme: "http" | "https";
  /** Host and optional port, as in the :authority pseudo-header or Host header. */
  authority: string;
  /** The path without the query, e.g. "/reviews/1". */
  path: string;
  /** The raw query without "?", "" when none. */
  query: string;
  readonly headers: HeaderMap;
}

export interface HttpResponse extends HasBody {
  status: number;
  readonly headers: HeaderMap;
  /** Why a local reply was sent (Envoy's response code details, e.g. "route_not_found"); null from the upstream. */
  details: string | null;
}

/** Who sent the request, as the tunnel proved it. */
export interface Peer {
  /** The client workload's SPIFFE ID (spiffe://td/ns/NS/sa/SA), null for plain-text traffic. */
  readonly identity: string | null;
  /** The same without the scheme (td/ns/NS/sa/SA): Istio's source.principal. */
  readonly principal: string | null;
  readonly address: string;
  readonly port: number;
}

/** What the request was sent to: one listener (a service or workload the waypoint fronts) and port. */
export interface Destination {
  /** The listener key, "<namespace>/<hostname>" for a service. */
  readonly listener: string;
  readonly hostname: string;
  readonly port: number;
}

/**
 * The request's authenticated end user, from a validated JWT (set by the jwt plugin, read by authz
 * and others): Istio's request.auth.* attributes. Null when no token was presented; an invalid
 * token never reaches the chain past the jwt filter (it answers 401).
 */
export interface RequestAuth {
  /** `<iss>/<sub>`: Istio's request.auth.principal and requestPrincipals. */
  readonly principal: string;
  readonly issuer: string;
  readonly subject: string;
  /** The token's `aud`, as a list. */
  readonly audiences: readonly string[];
  /** The `azp` claim, null when absent. */
  readonly presenter: string | null;
  /** Every claim of the validated payload. */
  readonly claims: Readonly<Record<string, unknown>>;
}

/** What is known about the connection the request came on (inside the tunnel). */
export interface ConnectionInfo {
  /** TLS server name of the request's connection, null for plain text (Istio's connection.sni). */
  readonly sni: string | null;
  /** The original client's address when a trusted hop vouches for it, else the peer's (remoteIpBlocks). */
  readonly remoteAddress: string;
}

/** The route rule that matched, set by the router. */
export interface MatchedRoute {
  readonly kind: "HTTPRoute" | "GRPCRoute";
  readonly namespace: string;
  readonly name: string;
  readonly rule: number;
  readonly ruleName: string | null;
}

/** A Gateway API backendRef with its defaults filled in. */
export interface BackendRef {
  readonly group: string;
  readonly kind: string;
  readonly namespace: string;
  readonly name: string;
  readonly port: number;
}

export interface RetryPolicy {
  /** Retries after the first try (Gateway API `attempts`). */
  readonly attempts: number;
  /** HTTP statuses that are retried (connection failures always are). */
  readonly codes: readonly number[];
  readonly backoffMs: number;
}

/** What the upstream stage does with the request: set by the router, read by the waypoint. */
export interface UpstreamSelection {
  readonly backend: BackendRef;
  /** Which backendRef of the rule won the weighted draw, and its weight out of the total. */
  readonly weight: { readonly index: number; readonly weight: number; readonly total: number };
  /** Whole request (all tries) and per try; null: no bound. */
  readonly timeouts: { readonly requestMs: number | null; readonly backendRequestMs: number | null };
  readonly retry: RetryPolicy | null;
  /** Backends to send a copy of the request to (already sampled by their percentage); responses are dropped. */
  readonly mirrors: readonly BackendRef[];
}

/** A typed key for per-request values, like connect-es's context keys. */
export interface ContextKey<T> {
  readonly id: symbol;
  readonly defaultValue: T;
  readonly description: string;
}

export function createContextKey<T>(defaultValue: T, options: { description: string }): ContextKey<T> {
  return { id: Symbol(options.description), defaultValue, description: options.description };
}

export interface RespondInit {
  readonly headers?: HeaderInit;
  readonly body?: string | Uint8Array | ReadableStream<Uint8Array> | null;
  /** Why (for the access log), e.g. "route_not_found"; default "local_reply". */
  readonly details?: string;
}

export interface RequestContextInit {
  readonly request: {
    readonly method: string;
    readonly scheme?: "http" | "https";
    readonly authority: string;
    readonly path: string;
    readonly query?: string;
    readonly headers?: HeaderInit;
    readonly body?: ReadableStream<Uint8Array> | null;
  };
  readonly peer?: Peer;
  readonly connection?: ConnectionInfo;
  readonly destination?: Destination;
  readonly signal?: AbortSignal;
  readonly log: PluginLogger;
  readonly metrics: PluginMetrics;
}

type DoneCallback = () => void | Promise<void>;

const NO_PEER: Peer = { identity: null, principal: null, address: "", port: 0 };

export class RequestContext {
  readonly request: HttpRequest;
  response: HttpResponse | null = null;
  readonly peer: Peer;
  readonly connection: ConnectionInfo;
  readonly destination: Destination;
  /** Aborts when the client goes away or the waypoint drains. */
  readonly signal: AbortSignal;
  readonly log: PluginLogger;
  readonly metrics: PluginMetrics;
  /** Set by the jwt plugin when the request carries a valid token. */
  auth: RequestAuth | null = null;
  /** Set by the router. */
  route: MatchedRoute | null = null;
  /** Set by the router; the upstream stage reads it. */
  upstream: UpstreamSelection | null = null;
  private values: Map<symbol, unknown> | null = null;
  private done: DoneCallback[] | null = null;

  constructor(init: RequestContextInit) {
    const r = init.request;
    this.request = {
      method: r.method,
      scheme: r.scheme ?? "http",
      authority: r.authority,
      path: r.path,
      query: r.query ?? "",
      headers: createHeaders(r.headers),
      body: r.body ?? null,
    };
    this.peer = init.peer ?? NO_PEER;
    this.connection = init.connection ?? { sni: null, remoteAddress: this.peer.address };
    this.destination = init.destination ?? { listener: "", hostname: hostOf(r.authority), port: portOf(r.authority, this.request.scheme) };
    this.signal = init.signal ?? new AbortController().signal;
    this.log = init.log;
    this.metrics = init.metrics;
  }

  /** A gRPC request (content-type application/grpc or application/grpc+proto etc.). */
  get grpc(): boolean {
    return this.request.headers.get("content-type")?.startsWith("application/grpc") ?? false;
  }

  get<T>(key: ContextKey<T>): T {
    return this.values?.has(key.id) ? (this.values.get(key.id) as T) : key.defaultValue;
  }

  set<T>(key: ContextKey<T>, value: T): this {
    (this.values ??= new Map()).set(key.id, value);
    return this;
  }

  delete(key: ContextKey<unknown>): this {
    this.values?.delete(key.id);
    return this;
  }

  /**
   * Reply locally: the response becomes this one. A filter that responds returns without calling
   * next(), so neither the rest of the chain nor the upstream sees the request.
   */
  respond(status: number, init: RespondInit = {}): void {
    void this.response?.body?.cancel("replaced by a local reply").catch(() => undefined);
    const body = init.body instanceof ReadableStream ? init.body : bodyOf(init.body);
    this.response = { status, headers: createHeaders(init.headers), body, details: init.details ?? "local_reply" };
  }

  /** Run `cb` when the request's stream ends (completed, failed or reset). */
  onDone(cb: DoneCallback): void {
    (this.done ??= []).push(cb);
  }

  /** Called once by the waypoint at stream end: every onDone callback, newest first; failures are logged. */
  async finish(): Promise<void> {
    const callbacks = this.done;
    this.done = null;
    if (callbacks === null) return;
    for (let i = callbacks.length - 1; i >= 0; i--) {
      try {
        await (callbacks[i] as DoneCallback)();
      } catch (err) {
        this.log.warn("onDone callback failed", { error: err instanceof Error ? err.message : String(err) });
      }
    }
  }
}

function hostOf(authority: string): string {
  if (authority.startsWith("[")) return authority.slice(0, authority.indexOf("]") + 1);
  const colon = authority.lastIndexOf(":");
  return colon === -1 ? authority : authority.slice(0, colon);
}

function portOf(authority: string, scheme: "http" | "https"): number {
  const colon = authority.lastIndexOf(":");
  const port = colon > authority.lastIndexOf("]") ? Number(authority.slice(colon + 1)) : NaN;
  return Number.isInteger(port) && port > 0 && port < 65536 ? port : scheme === "https" ? 443 : 80;
}
