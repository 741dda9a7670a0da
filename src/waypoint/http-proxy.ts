/**
 * HTTP/1.1 inside HBONE tunnels: each tunnel stream is handed to one node:http server as a
 * connection (its strict llhttp parser refuses smuggling shapes — Content-Length with
 * Transfer-Encoding, duplicate Content-Length, obs-fold, bare LF — and oversized headers). Each
 * request becomes a plugin-API RequestContext, runs its listener's filter chain (chains.ts), and
 * the chain's terminal stage carries it to an endpoint of the destination the router chose (or
 * the listener's own service when no route is attached) through the upstream agents.
 *
 * Invariants:
 * - a request is carried only for the destination its tunnel was admitted for (the listener the
 *   CONNECT authority matched); the Host header does not choose it, routes do;
 * - filters and routes see the normalized path (normalize-path.ts: `/a/../admin` is `/admin`);
 *   the upstream gets that path too, so what was authorized is what is served;
 * - bodies are piped natively unless a filter reads them (lazy-body.ts);
 * - a try is repeated on another endpoint only while nothing of the request has been sent or the
 *   request has no body; retries beyond connection failures follow the route's retry policy;
 * - every request ends in exactly one telemetry record, whatever ends it.
 */
import { randomBytes } from "node:crypto";
import http from "node:http";
import { Readable, type Duplex } from "node:stream";
import type { ReadableStream as NodeWebStream } from "node:stream/web";
import { MeshError } from "../errors/mesh-error.ts";
import { formatEndpoint, type Endpoint } from "../net/endpoint.ts";
import { createHeaders, RequestContext, type PluginHost, type UpstreamSelection } from "../plugin-api/index.ts";
import type { Logger } from "../telemetry/log.ts";
import { ListenerChains, type BuiltIns } from "./chains.ts";
import { endToEnd, headerObject, upstreamRequestHeaders } from "./forward-headers.ts";
import { asHttpSocket } from "./http-socket.ts";
import { lazyBody, untouchedSource } from "./lazy-body.ts";
import { grpcLocalReply, LOCAL_REPLIES, type LocalReply } from "./local-reply.ts";
import { normalizePath } from "./normalize-path.ts";
import { hopsFor, partiesOf } from "./request-route.ts";
import type { RequestTelemetry } from "./request-telemetry.ts";
import type { ListenerMatch, WaypointState } from "./state.ts";
import { UPSTREAM_CONNECT_FAILED, type Upstream } from "./upstream.ts";
import type { UpstreamHop } from "./upstream-plan.ts";

/** What the HBONE layer established for a tunnel before any HTTP was read. */
export interface TunnelFacts {
  readonly peerIdentity: string;
  /** The original client: `forwarded: for=` where the peer vouches for it, else the peer. */
  readonly client: Endpoint;
  readonly match: ListenerMatch;
}

export interface HttpProxyLimits {
  /** Request header block, bytes (node:http's maxHeaderSize). */
  readonly maxHeaderBytes: number;
  /** Time for a request's headers to arrive. */
  readonly headersTimeoutMs: number;
  /** Time for a whole request to arrive. */
  readonly requestTimeoutMs: number;
  /** An idle keep-alive connection is closed after this. */
  readonly keepAliveTimeoutMs: number;
  /** Per upstream try, unless the route says otherwise: response headers must arrive within this. */
  readonly upstreamTimeoutMs: number;
}

export const DEFAULT_HTTP_LIMITS: HttpProxyLimits = {
  maxHeaderBytes: 16 * 1024,
  headersTimeoutMs: 10_000,
  requestTimeoutMs: 300_000,
  keepAliveTimeoutMs: 60_000,
  // Envoy's default route timeout.
  upstreamTimeoutMs: 15_000,
};

export interface HttpProxyOptions {
  readonly state: () => WaypointState;
  readonly upstream: Upstream;
  readonly telemetry: RequestTelemetry;
  readonly log: Logger;
  /** What plugins get: logger, metrics, clock, random. */
  readonly plugins: PluginHost;
  /** The first-party plugins (chains.ts builtInPlugins); default: public roots for a jwksUri. */
  readonly builtIns?: BuiltIns;
  readonly hbonePort: number;
  readonly limits?: Partial<HttpProxyLimits>;
}

/** Per request, beside the plugin context: what the access log and the upstream stage need. */
interface Exchange {
  readonly req: http.IncomingMessage;
  readonly facts: TunnelFacts;
  hop: UpstreamHop | undefined;
  /** Envoy's response flag for a local reply. */
  flag: string;
  /** Body bytes from the client (counted as they are sent upstream) and to it. */
  requestBytes: number;
  responseBytes: number;
}

/** Count a stream's bytes as they pass (a counter, not a transform: the bytes are not touched). */
function counted(stream: Readable, add: (n: number) => void): Readable {
  stream.on("data", (chunk: Uint8Array) => add(chunk.byteLength));
  return stream;
}

const randomHex = (bytes: number) => randomBytes(bytes).toString("hex");

const hasBody = (req: http.IncomingMessage) => req.headers["transfer-encoding"] !== undefined || (req.headers["content-length"] !== undefined && req.headers["content-length"] !== "0");

/** Envoy response flags for the plugin API's local-reply details. */
const FLAG_OF_DETAILS: Readonly<Record<string, string>> = { route_not_found: "NR", fault_filter_abort: "FI", filter_failed: "UAEX" };

const sleep = (ms: number, signal: AbortSignal) =>
  new Promise<void>((resolve) => {
    const t = setTimeout(resolve, ms);
    signal.addEventListener("abort", () => (clearTimeout(t), resolve()), { once: true });
  });

export class HttpProxy {
  readonly #o: HttpProxyOptions;
  readonly #limits: HttpProxyLimits;
  readonly #server: http.Server;
  readonly #facts = new WeakMap<object, TunnelFacts>();
  readonly #exchanges = new WeakMap<RequestContext, Exchange>();
  readonly #chains: ListenerChains;
  #next = 0;

  constructor(options: HttpProxyOptions) {
    this.#o = options;
    this.#limits = { ...DEFAULT_HTTP_LIMITS, ...options.limits };
    this.#chains = new ListenerChains(options.plugins, (ctx) => this.#forward(ctx), options.builtIns);
    this.#server = http.createServer({ maxHeaderSize: this.#limits.maxHeaderBytes, requestTimeout: this.#limits.requestTimeoutMs, headersTimeout: this.#limits.headersTimeoutMs, keepAliveTimeout: this.#limits.keepAliveTimeoutMs }, (req, res) => void this.#handle(req, res));
    this.#server.on("clientError", (err: Error & { code?: string }, socket: Duplex) => {
      const facts = this.#facts.get(socket);
      this.#o.log.warn("bad request refused", { error: err.code ?? err.message, ...(facts ? { "src.identity": facts.peerIdentity, src: formatEndpoint(facts.client) } : {}) });
      if (socket.writable) socket.end(`HTTP/1.1 ${err.code === "HPE_HEADER_OVERFLOW" ? "431 Request Header Fields Too Large" : "400 Bad Request"}\r\nconnection: close\r\ncontent-length: 0\r\n\r\n`);
      else socket.destroy();
    });
  }

  /** Serve HTTP/1.1 on an accepted tunnel. */
  serve(stream: Duplex, facts: TunnelFacts): void {
    this.#facts.set(stream, facts);
    this.#server.emit("connection", asHttpSocket(stream));
  }

  async #handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const started = performance.now();
    const facts = this.#facts.get(req.socket);
    const config = this.#o.state().config;
    if (!facts || !config) {
      res.writeHead(503).end();
      return;
    }
    const { listener, port } = facts.match;
    const { headers, requestId, forwardedFor } = upstreamRequestHeaders(req.rawHeaders, { clientAddress: facts.client.address, randomHex });
    const url = req.url ?? "/";
    const q = url.indexOf("?");
    const path = normalizePath(q < 0 ? url : url.slice(0, q));
    if (path === null) {
      req.resume();
      res.writeHead(400, { "content-type": "text/plain" }).end("bad request target\n");
      this.#o.log.warn("bad request target refused", { "src.identity": facts.peerIdentity, target: url.slice(0, 200) });
      return;
    }
    const abort = new AbortController();
    const ctx = new RequestContext({
      request: { method: req.method ?? "GET", authority: req.headers.host ?? listener.hostname, path, query: q < 0 ? "" : url.slice(q + 1), headers, body: hasBody(req) ? lazyBody(req) : null },
      peer: { identity: facts.peerIdentity, principal: facts.peerIdentity.replace(/^spiffe:\/\//, ""), address: facts.client.address, port: facts.client.port },
      connection: { sni: null, remoteAddress: facts.client.address },
      destination: { listener: listener.key, hostname: listener.hostname, port: port.port },
      signal: abort.signal,
      log: this.#o.plugins.log,
      metrics: this.#o.plugins.metrics,
    });
    const exchange: Exchange = { req, facts, hop: undefined, flag: "-", requestBytes: 0, responseBytes: 0 };
    this.#exchanges.set(ctx, exchange);
    let recorded = false;
    const record = (status: number, flag: string) => {
      if (recorded) return;
      recorded = true;
      this.#record(exchange, requestId, forwardedFor, started, status, flag);
      void ctx.finish();
    };
    res.on("close", () => {
      if (res.writableFinished) return;
      abort.abort();
      record(res.headersSent ? res.statusCode : 0, "DC");
    });
    try {
      await this.#chains.for(config, listener).chain(ctx);
    } catch (err) {
      this.#o.log.error("filter chain failed", { error: MeshError.from(err).message, request_id: requestId });
      ctx.respond(500, { body: "internal error", details: "filter_chain_failed" });
    }
    const response = ctx.response;
    if (!response) {
      ctx.respond(500, { body: "no response", details: "no_response" });
      return this.#write(ctx, res, () => record(500, "-"));
    }
    const flag = (response.details !== null && FLAG_OF_DETAILS[response.details]) || exchange.flag;
    this.#write(ctx, res, () => record(response.status, flag));
  }

  /** Send ctx.response to the client: the upstream body piped natively when no filter touched it. */
  #write(ctx: RequestContext, res: http.ServerResponse, done: () => void): void {
    const response = ctx.response as NonNullable<RequestContext["response"]>;
    const exchange = this.#exchanges.get(ctx) as Exchange;
    const add = (n: number) => void (exchange.responseBytes += n);
    if (res.destroyed) return done();
    res.writeHead(response.status, headerObject(response.headers.entries()));
    res.once("finish", done);
    const body = response.body;
    if (body === null) return void res.end();
    const stream = counted(untouchedSource(body) ?? Readable.fromWeb(body as unknown as NodeWebStream<Uint8Array>), add);
    stream.on("error", () => res.destroy());
    stream.pipe(res);
  }

  #localReply(ctx: RequestContext, reply: LocalReply): void {
    (this.#exchanges.get(ctx) as Exchange).flag = reply.flag;
    // gRPC clients read the status from grpc-status (trailers-only: HTTP 200), as Envoy answers them.
    if (ctx.grpc) {
      const h = grpcLocalReply(reply);
      ctx.respond(200, { headers: { "content-type": h["content-type"], "grpc-status": h["grpc-status"], "grpc-message": h["grpc-message"] }, details: reply.details });
    }
    else ctx.respond(reply.status, { headers: { "content-type": "text/plain" }, body: reply.body, details: reply.details });
  }

  /**
   * The chain's terminal stage: carry the request to the chosen destination and set ctx.response.
   * An endpoint that cannot be connected is skipped for the next (nothing was sent; not a retry);
   * the route's retry policy repeats a try on its status codes and on connection failures, with
   * exponential backoff, on the next endpoint; only requests without a body are tried twice.
   */
  async #forward(ctx: RequestContext): Promise<void> {
    const exchange = this.#exchanges.get(ctx) as Exchange;
    const state = this.#o.state();
    const planned = hopsFor(state, exchange.facts.match, ctx.upstream, { hbonePort: this.#o.hbonePort, start: this.#next++ });
    if (planned instanceof MeshError) {
      this.#o.log.debug("no upstream", { error: planned.message });
      return this.#localReply(ctx, LOCAL_REPLIES.noHealthyUpstream);
    }
    const outliers = this.#o.upstream.outliers;
    const hops = outliers.order(planned);
    const selection = ctx.upstream;
    const replayable = ctx.request.body === null;
    const retry = replayable ? selection?.retry : null;
    const perTryMs = selection?.timeouts.backendRequestMs ?? selection?.timeouts.requestMs ?? this.#limits.upstreamTimeoutMs;
    const deadline = selection?.timeouts.requestMs ? performance.now() + selection.timeouts.requestMs : Infinity;
    const headers = headerObject(ctx.request.headers.entries());
    headers.host = ctx.request.authority;
    const request = { method: ctx.request.method, path: ctx.request.query ? `${ctx.request.path}?${ctx.request.query}` : ctx.request.path, headers };
    if (selection && selection.mirrors.length > 0) this.#mirror(ctx, selection, request);
    let hopIndex = 0;
    let retries = 0;
    for (;;) {
      const remaining = deadline - performance.now();
      if (remaining <= 0) return this.#localReply(ctx, LOCAL_REPLIES.timeout);
      const hop = hops[hopIndex % hops.length] as UpstreamHop;
      exchange.hop = hop;
      const outcome = await this.#try(ctx, hop, request, Math.min(perTryMs, remaining));
      if (outcome.kind === "response") outliers.record(hop, outcome.response.statusCode ?? 502);
      else if (outcome.reply === LOCAL_REPLIES.connectFailure) outliers.record(hop, "connect-failure");
      if (ctx.signal.aborted) return;
      const retryable = retry && retries < retry.attempts && (outcome.kind === "response" ? retry.codes.includes(outcome.response.statusCode ?? 0) : outcome.reply === LOCAL_REPLIES.connectFailure || outcome.reply === LOCAL_REPLIES.upstreamReset);
      if (outcome.kind === "response" && !retryable) {
        ctx.response = { status: outcome.response.statusCode ?? 502, headers: createHeaders(endToEnd(outcome.response.rawHeaders)), body: lazyBody(outcome.response), details: null };
        return;
      }
      if (outcome.kind === "response") outcome.response.resume();
      hopIndex++;
      if (outcome.kind === "failed" && outcome.reply === LOCAL_REPLIES.connectFailure && replayable && hopIndex < hops.length) continue;
      if (!retryable) return this.#localReply(ctx, (outcome as { reply: LocalReply }).reply);
      retries++;
      await sleep((retry as NonNullable<typeof retry>).backoffMs * 2 ** (retries - 1), ctx.signal);
    }
  }

  /**
   * RequestMirror, as Envoy shadows: a copy of the request to each mirror backend, Host with
   * "-shadow" appended to its name, the response dropped, failures only logged — the mirror never
   * changes what the client gets. A body is split with the web streams' tee (per-chunk work, paid
   * only where a route mirrors); the mirror's branch is cancelled if its request fails.
   */
  #mirror(ctx: RequestContext, selection: UpstreamSelection, request: { method: string; path: string; headers: Record<string, string | string[]> }): void {
    const exchange = this.#exchanges.get(ctx) as Exchange;
    const state = this.#o.state();
    const colon = ctx.request.authority.lastIndexOf(":");
    const host = colon > 0 && !ctx.request.authority.endsWith("]") ? `${ctx.request.authority.slice(0, colon)}-shadow${ctx.request.authority.slice(colon)}` : `${ctx.request.authority}-shadow`;
    for (const backend of selection.mirrors) {
      let body: ReadableStream<Uint8Array> | null = null;
      if (ctx.request.body !== null) [ctx.request.body, body] = ctx.request.body.tee();
      const hops = hopsFor(state, exchange.facts.match, { ...selection, backend }, { hbonePort: this.#o.hbonePort, start: this.#next++ });
      const fail = (why: string) => {
        void body?.cancel().catch(() => {});
        this.#o.log.debug("mirror not sent", { mirror: `${backend.namespace}/${backend.name}`, error: why });
      };
      if (hops instanceof MeshError) {
        fail(hops.message);
        continue;
      }
      const hop = hops[0] as UpstreamHop;
      const up = http.request({ host: hop.target.address, port: hop.target.port, method: request.method, path: request.path, headers: { ...request.headers, host }, agent: this.#o.upstream.agentFor(hop), setHost: false });
      up.setTimeout(this.#limits.upstreamTimeoutMs, () => up.destroy(new Error("mirror timed out")));
      up.on("response", (r) => r.resume());
      up.on("error", (err) => fail(err.message));
      if (body === null) up.end();
      else Readable.fromWeb(body as unknown as NodeWebStream<Uint8Array>).pipe(up);
    }
  }

  /** One try on one hop: the response once its headers are in, or the local reply for what went wrong. */
  #try(ctx: RequestContext, hop: UpstreamHop, request: { method: string; path: string; headers: Record<string, string | string[]> }, timeoutMs: number): Promise<{ kind: "response"; response: http.IncomingMessage } | { kind: "failed"; reply: LocalReply }> {
    return new Promise((resolve) => {
      const up = http.request({ host: hop.target.address, port: hop.target.port, method: request.method, path: request.path, headers: request.headers, agent: this.#o.upstream.agentFor(hop), setHost: false });
      const onAbort = () => up.destroy();
      ctx.signal.addEventListener("abort", onAbort, { once: true });
      up.setTimeout(timeoutMs, () => up.destroy(Object.assign(new Error(`no response within ${timeoutMs} ms`), { code: "MESH_UPSTREAM_TIMEOUT" })));
      up.once("response", (response) => {
        up.setTimeout(0);
        ctx.signal.removeEventListener("abort", onAbort);
        resolve({ kind: "response", response });
      });
      up.on("error", (err: Error & { code?: string }) => {
        ctx.signal.removeEventListener("abort", onAbort);
        this.#o.log.debug("upstream try failed", { upstream: formatEndpoint(hop.target), error: err.message });
        resolve({ kind: "failed", reply: err.code === "MESH_UPSTREAM_TIMEOUT" ? LOCAL_REPLIES.timeout : err.code === UPSTREAM_CONNECT_FAILED ? LOCAL_REPLIES.connectFailure : LOCAL_REPLIES.upstreamReset });
      });
      const body = ctx.request.body;
      if (body === null) return void up.end();
      const exchange = this.#exchanges.get(ctx) as Exchange;
      counted(untouchedSource(body) ?? Readable.fromWeb(body as unknown as NodeWebStream<Uint8Array>), (n) => void (exchange.requestBytes += n)).pipe(up);
    });
  }

  #record(exchange: Exchange, requestId: string, forwardedFor: string, started: number, status: number, flag: string): void {
    const { req, facts, hop } = exchange;
    this.#o.telemetry.record({
      method: req.method ?? "-",
      path: req.url ?? "-",
      protocol: `HTTP/${req.httpVersion}`,
      authority: req.headers.host ?? "-",
      status,
      flags: flag,
      durationMs: performance.now() - started,
      requestBytes: exchange.requestBytes,
      responseBytes: exchange.responseBytes,
      requestId,
      userAgent: req.headers["user-agent"],
      forwardedFor,
      upstreamHost: hop ? formatEndpoint(hop.target) : undefined,
      ...partiesOf(this.#o.state(), facts, hop),
    });
  }

  /** Stop taking requests; open connections finish their current request. */
  close(): void {
    this.#server.close();
    this.#server.closeIdleConnections?.();
  }
}
