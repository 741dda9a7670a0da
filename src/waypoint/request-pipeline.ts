/**
 * One request's way through the waypoint, the same for both HTTP engines: its plugin-API
 * RequestContext (peer, connection, destination from the tunnel), its listener's filter chain
 * (chains.ts; one set of chains per config version for the whole waypoint, so a plugin's state is
 * shared by HTTP/1.1 and HTTP/2 requests), and the chain's terminal stage, which carries the
 * request to the router's backend (or the listener's own destination):
 * - hops from the upstream plan in outlier order; per-try and overall timeouts; retries with
 *   exponential backoff on the route's statuses and on resets; failover from hops that cannot be
 *   connected; requests a hop never processed sent again (next-step.ts decides, pure);
 * - mirrors (RequestMirror) sent as Envoy shadows, their answers dropped;
 * - local replies in Envoy's words — to gRPC requests trailers-only with grpc-status.
 * How a try is written upstream and its response read back is the engine's (upstream-transport.ts).
 *
 * Invariants: after `run`, ctx.response is set; a request is carried only for the destination its
 * tunnel was admitted for; the exchange's flag is the local reply's Envoy flag ("-" otherwise).
 */
import { MeshError } from "../errors/mesh-error.ts";
import { createHeaders, RequestContext, type PluginHost, type UpstreamSelection } from "../plugin-api/index.ts";
import type { Logger } from "../telemetry/log.ts";
import { ListenerChains, type BuiltIns } from "./chains.ts";
import { headerObject } from "./forward-headers.ts";
import type { TunnelFacts } from "./http-proxy.ts";
import { grpcLocalReply, LOCAL_REPLIES, type LocalReply } from "./local-reply.ts";
import { nextStep } from "./next-step.ts";
import { hopsFor } from "./request-route.ts";
import type { WaypointState } from "./state.ts";
import type { Upstream } from "./upstream.ts";
import type { UpstreamHop } from "./upstream-plan.ts";
import type { Exchange, TryFailure, UpstreamRequest } from "./upstream-transport.ts";

export interface RequestPipelineOptions {
  readonly state: () => WaypointState;
  readonly upstream: Upstream;
  readonly log: Logger;
  /** What plugins get: logger, metrics, clock, random, fetch. */
  readonly plugins: PluginHost;
  /** The first-party plugins (chains.ts builtInPlugins); default: public roots for a jwksUri. */
  readonly builtIns?: BuiltIns;
  readonly hbonePort: number;
  /** Per try, unless the route says otherwise: the response head must arrive within this (Envoy's default route timeout). */
  readonly upstreamTimeoutMs?: number;
}

/** What an engine read off the wire, before the chain. */
export interface IncomingRequest {
  readonly method: string;
  readonly authority: string;
  /** Normalized (normalize-path.ts). */
  readonly path: string;
  readonly query: string;
  readonly headers: ReadonlyArray<readonly [string, string]>;
  readonly body: ReadableStream<Uint8Array> | null;
}

/** Envoy response flags for the plugin API's local-reply details. */
const FLAG_OF_DETAILS: Readonly<Record<string, string>> = { route_not_found: "NR", fault_filter_abort: "FI", filter_failed: "UAEX" };

const REPLY_OF: Readonly<Record<TryFailure, LocalReply>> = { connect: LOCAL_REPLIES.connectFailure, reset: LOCAL_REPLIES.upstreamReset, refused: LOCAL_REPLIES.upstreamReset, timeout: LOCAL_REPLIES.timeout };

const sleep = (ms: number, signal: AbortSignal) =>
  new Promise<void>((resolve) => {
    const t = setTimeout(resolve, ms);
    signal.addEventListener("abort", () => (clearTimeout(t), resolve()), { once: true });
  });

/** The Host of a mirror copy: "-shadow" appended to the name, as Envoy's request mirror policy does. */
export function shadowAuthority(authority: string): string {
  const colon = authority.lastIndexOf(":");
  return colon > 0 && !authority.endsWith("]") ? `${authority.slice(0, colon)}-shadow${authority.slice(colon)}` : `${authority}-shadow`;
}

/** A local reply as the plugin API's response; to a gRPC client trailers-only (HTTP 200, grpc-status), as Envoy answers. */
export function localReply(ctx: RequestContext, exchange: Exchange, reply: LocalReply): void {
  exchange.flag = reply.flag;
  if (ctx.grpc) {
    const h = grpcLocalReply(reply);
    ctx.respond(200, { headers: { "content-type": h["content-type"], "grpc-status": h["grpc-status"], "grpc-message": h["grpc-message"] }, details: reply.details });
  } else ctx.respond(reply.status, { headers: { "content-type": "text/plain" }, body: reply.body, details: reply.details });
}

export class RequestPipeline {
  readonly #o: RequestPipelineOptions;
  readonly #chains: ListenerChains;
  readonly #exchanges = new WeakMap<RequestContext, Exchange>();
  readonly #upstreamTimeoutMs: number;
  #next = 0;

  constructor(options: RequestPipelineOptions) {
    this.#o = options;
    this.#upstreamTimeoutMs = options.upstreamTimeoutMs ?? 15_000;
    this.#chains = new ListenerChains(options.plugins, (ctx) => this.#forward(ctx), options.builtIns);
  }

  /** The plugin context of a request that arrived on a tunnel. */
  context(request: IncomingRequest, facts: TunnelFacts, signal: AbortSignal): RequestContext {
    const { listener, port } = facts.match;
    return new RequestContext({
      request,
      peer: { identity: facts.peerIdentity, principal: facts.peerIdentity.replace(/^spiffe:\/\//, ""), address: facts.client.address, port: facts.client.port },
      connection: { sni: null, remoteAddress: facts.client.address },
      destination: { listener: listener.key, hostname: listener.hostname, port: port.port },
      signal,
      log: this.#o.plugins.log,
      metrics: this.#o.plugins.metrics,
    });
  }

  /** Run the request's chain (and through it the upstream stage); ctx.response is set afterwards. */
  async run(ctx: RequestContext, exchange: Exchange, requestId: string): Promise<void> {
    const config = this.#o.state().config;
    this.#exchanges.set(ctx, exchange);
    try {
      if (!config) throw new MeshError("unavailable", "no config");
      await this.#chains.for(config, exchange.facts.match.listener).chain(ctx);
    } catch (err) {
      this.#o.log.error("filter chain failed", { error: MeshError.from(err).message, request_id: requestId });
      ctx.respond(500, { body: "internal error", details: "filter_chain_failed" });
    }
    if (!ctx.response) ctx.respond(500, { body: "no response", details: "no_response" });
    const details = ctx.response?.details;
    if (details) exchange.flag = FLAG_OF_DETAILS[details] ?? exchange.flag;
  }

  /** The chain's terminal stage: carry the request to the chosen destination and set ctx.response. */
  async #forward(ctx: RequestContext): Promise<void> {
    const exchange = this.#exchanges.get(ctx) as Exchange;
    const state = this.#o.state();
    const planned = hopsFor(state, exchange.facts.match, ctx.upstream, { hbonePort: this.#o.hbonePort, start: this.#next++ });
    if (planned instanceof MeshError) {
      this.#o.log.debug("no upstream", { error: planned.message });
      return localReply(ctx, exchange, LOCAL_REPLIES.noHealthyUpstream);
    }
    const outliers = this.#o.upstream.outliers;
    const hops = outliers.order(planned);
    const selection = ctx.upstream;
    const retry = selection?.retry ?? null;
    const perTryMs = selection?.timeouts.backendRequestMs ?? selection?.timeouts.requestMs ?? this.#upstreamTimeoutMs;
    const deadline = selection?.timeouts.requestMs ? performance.now() + selection.timeouts.requestMs : Infinity;
    const { method, authority, path, query, headers } = ctx.request;
    const request: UpstreamRequest = { method, authority, path: query ? `${path}?${query}` : path, headers: headerObject(headers.entries()) };
    if (selection && selection.mirrors.length > 0) this.#mirror(ctx, exchange, selection, request);
    let hopIndex = 0;
    let retries = 0;
    let resends = 0;
    for (;;) {
      const remaining = deadline - performance.now();
      if (remaining <= 0) return localReply(ctx, exchange, LOCAL_REPLIES.timeout);
      const hop = hops[hopIndex % hops.length] as UpstreamHop;
      exchange.hop = hop;
      const outcome = await exchange.transport.send(ctx, exchange, hop, request, Math.min(perTryMs, remaining));
      if (outcome.kind === "response") outliers.record(hop, outcome.status);
      else if (outcome.failure === "connect") outliers.record(hop, "connect-failure");
      if (ctx.signal.aborted) {
        if (outcome.kind === "response") outcome.discard();
        return;
      }
      const step = nextStep(outcome, { retry, retries, resends, hopsTried: hopIndex + 1, hops: hops.length });
      if (step.do === "respond" && outcome.kind === "response") {
        ctx.response = { status: outcome.status, headers: createHeaders(outcome.headers), body: outcome.body, details: null };
        return;
      }
      if (outcome.kind === "response") outcome.discard();
      switch (step.do) {
        case "next-hop":
          hopIndex++;
          break;
        case "resend":
          resends++;
          this.#o.log.debug("upstream did not process the request, sending it again", { upstream: `${hop.target.address}:${hop.target.port}` });
          break;
        case "retry":
          hopIndex++;
          retries++;
          await sleep(step.backoffMs, ctx.signal);
          break;
        case "reply":
          return localReply(ctx, exchange, REPLY_OF[step.failure]);
        case "respond":
          return;
      }
    }
  }

  /**
   * RequestMirror, as Envoy shadows: a copy of the request to each mirror backend, Host with
   * "-shadow" appended to its name, the response dropped, failures only logged — the mirror never
   * changes what the client gets. A body is split with the web streams' tee (per-chunk work, paid
   * only where a route mirrors); the mirror's branch is cancelled if its request fails.
   */
  #mirror(ctx: RequestContext, exchange: Exchange, selection: UpstreamSelection, request: UpstreamRequest): void {
    const state = this.#o.state();
    const shadow = { ...request, authority: shadowAuthority(request.authority) };
    for (const backend of selection.mirrors) {
      let body: ReadableStream<Uint8Array> | null = null;
      if (ctx.request.body !== null) [ctx.request.body, body] = ctx.request.body.tee();
      const fail = (why: string) => {
        void body?.cancel().catch(() => {});
        this.#o.log.debug("mirror not sent", { mirror: `${backend.namespace}/${backend.name}`, error: why });
      };
      const hops = hopsFor(state, exchange.facts.match, { ...selection, backend }, { hbonePort: this.#o.hbonePort, start: this.#next++ });
      if (hops instanceof MeshError) fail(hops.message);
      else exchange.transport.mirror(hops[0] as UpstreamHop, shadow, body, this.#upstreamTimeoutMs, fail);
    }
  }
}

