/**
 * HTTP/1.1 inside HBONE tunnels: each tunnel stream is handed to one node:http server as a
 * connection (its strict llhttp parser refuses smuggling shapes — Content-Length with
 * Transfer-Encoding, duplicate Content-Length, obs-fold, bare LF — and oversized headers), and
 * each request is carried to an endpoint of the destination through the upstream agents.
 *
 * Invariants:
 * - a request is carried only for the destination its tunnel was admitted for (the listener the
 *   CONNECT authority matched); the Host header does not choose it;
 * - a hop that cannot be connected is skipped for the next one only while nothing of the request
 *   has been sent (requests without a body); otherwise the client gets Envoy's 503;
 * - every request ends in exactly one telemetry record, whatever ends it.
 */
import { randomBytes } from "node:crypto";
import http from "node:http";
import type { Duplex } from "node:stream";
import { formatEndpoint, type Endpoint } from "../net/endpoint.ts";
import { identityOf } from "../state/mesh-state.ts";
import type { Logger } from "../telemetry/log.ts";
import { endToEnd, upstreamRequestHeaders } from "./forward-headers.ts";
import { asHttpSocket } from "./http-socket.ts";
import { LOCAL_REPLIES, type LocalReply } from "./local-reply.ts";
import type { RequestTelemetry } from "./request-telemetry.ts";
import type { ListenerMatch, WaypointState } from "./state.ts";
import { UPSTREAM_CONNECT_FAILED, type Upstream } from "./upstream.ts";
import { planUpstream, type UpstreamHop, type UpstreamTarget } from "./upstream-plan.ts";

/** What the HBONE layer established for a tunnel before any HTTP was read. */
export interface TunnelFacts {
  readonly peerIdentity: string;
  /** The original client: `forwarded: for=` as the ztunnel sent it, else the peer. */
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
  /** Per upstream try: response headers must arrive within this. */
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
  readonly hbonePort: number;
  readonly limits?: Partial<HttpProxyLimits>;
}

const randomHex = (bytes: number) => randomBytes(bytes).toString("hex");

/** node:http's raw headers as the object form its writers take (repeated names as arrays). */
function headerObject(pairs: Iterable<readonly [string, string]>): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  for (const [name, value] of pairs) {
    const key = name.toLowerCase();
    const had = out[key];
    out[key] = had === undefined ? value : Array.isArray(had) ? [...had, value] : [had, value];
  }
  return out;
}

const hasBody = (req: http.IncomingMessage) => req.headers["transfer-encoding"] !== undefined || (req.headers["content-length"] !== undefined && req.headers["content-length"] !== "0");

export class HttpProxy {
  readonly #o: HttpProxyOptions;
  readonly #limits: HttpProxyLimits;
  readonly #server: http.Server;
  readonly #facts = new WeakMap<object, TunnelFacts>();
  #next = 0;

  constructor(options: HttpProxyOptions) {
    this.#o = options;
    this.#limits = { ...DEFAULT_HTTP_LIMITS, ...options.limits };
    this.#server = http.createServer({ maxHeaderSize: this.#limits.maxHeaderBytes, requestTimeout: this.#limits.requestTimeoutMs, headersTimeout: this.#limits.headersTimeoutMs, keepAliveTimeout: this.#limits.keepAliveTimeoutMs }, (req, res) => this.#handle(req, res));
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

  #handle(req: http.IncomingMessage, res: http.ServerResponse): void {
    const started = performance.now();
    const facts = this.#facts.get(req.socket);
    if (!facts) {
      res.writeHead(500).end();
      return;
    }
    const state = this.#o.state();
    const { listener, port } = facts.match;
    const target: UpstreamTarget | undefined =
      listener.kind === "service" ? { kind: "service", key: listener.key, port: port.port } : workloadTarget(state, listener.addresses, port.targetPort || port.port);
    const { headers, requestId } = upstreamRequestHeaders(req.rawHeaders, { clientAddress: facts.client.address, randomHex });
    const sourceWorkload = state.workloadAt(facts.client.address);
    const service = listener.kind === "service" ? state.serviceByKey(listener.key) : undefined;
    let hop: UpstreamHop | undefined;
    const finish = (status: number, flags: string) =>
      this.#o.telemetry.record({
        method: req.method ?? "-",
        path: req.url ?? "-",
        protocol: `HTTP/${req.httpVersion}`,
        authority: req.headers.host ?? "-",
        status,
        flags,
        durationMs: performance.now() - started,
        requestId,
        userAgent: req.headers["user-agent"],
        forwardedFor: req.headers["x-forwarded-for"] as string | undefined,
        upstreamHost: hop ? formatEndpoint(hop.target) : undefined,
        source: { principal: facts.peerIdentity, ...(sourceWorkload ? { workload: sourceWorkload.name, namespace: sourceWorkload.namespace } : {}) },
        destination: {
          ...(hop ? { principal: identityOf(hop.workload), workload: hop.workload.name, namespace: hop.workload.namespace } : {}),
          ...(service ? { service: service.hostname, serviceName: service.name, serviceNamespace: service.namespace } : {}),
        },
      });
    const reply = (r: LocalReply) => {
      if (!res.headersSent) res.writeHead(r.status, { "content-type": "text/plain", "content-length": Buffer.byteLength(r.body) }).end(r.body);
      else res.destroy();
      finish(r.status, r.flag);
    };

    const planned = target ? planUpstream(state, target, { hbonePort: this.#o.hbonePort, start: this.#next++ }) : undefined;
    if (!planned || !Array.isArray(planned)) {
      if (planned) this.#o.log.debug("no upstream", { error: planned.message });
      req.resume();
      reply(LOCAL_REPLIES.noHealthyUpstream);
      return;
    }
    const retryable = !hasBody(req);
    const outgoing = headerObject(headers);
    let current: http.ClientRequest | undefined;
    let responded = false;
    res.on("close", () => {
      if (res.writableFinished) return;
      current?.destroy();
      if (!responded) finish(0, "DC");
    });
    const attempt = (i: number) => {
      hop = planned[i] as UpstreamHop;
      const up = http.request({
        host: hop.target.address,
        port: hop.target.port,
        method: req.method,
        path: req.url,
        headers: outgoing,
        agent: this.#o.upstream.agentFor(hop),
        setHost: false,
      });
      current = up;
      up.setTimeout(this.#limits.upstreamTimeoutMs, () => up.destroy(Object.assign(new Error("upstream timeout"), { code: "MESH_UPSTREAM_TIMEOUT" })));
      up.on("response", (ur) => {
        responded = true;
        res.writeHead(ur.statusCode ?? 502, headerObject(endToEnd(ur.rawHeaders)));
        ur.pipe(res);
        ur.on("error", () => res.destroy());
        res.on("finish", () => finish(ur.statusCode ?? 502, "-"));
      });
      up.on("error", (err: Error & { code?: string }) => {
        if (responded) return void res.destroy();
        if (res.destroyed) return;
        if (err.code === "MESH_UPSTREAM_TIMEOUT") return reply(LOCAL_REPLIES.timeout);
        const connectFailed = err.code === UPSTREAM_CONNECT_FAILED;
        this.#o.log.debug("upstream try failed", { upstream: formatEndpoint((hop as UpstreamHop).target), error: err.message });
        if (retryable && connectFailed && i + 1 < planned.length) return attempt(i + 1);
        reply(connectFailed ? LOCAL_REPLIES.connectFailure : LOCAL_REPLIES.upstreamReset);
      });
      if (retryable) up.end();
      else req.pipe(up);
    };
    attempt(0);
  }

  /** Stop taking requests; open connections finish their current request. */
  close(): void {
    this.#server.close();
    this.#server.closeIdleConnections?.();
  }
}

function workloadTarget(state: WaypointState, addresses: readonly string[], port: number): UpstreamTarget | undefined {
  for (const a of addresses) {
    const w = state.workloadAt(a);
    if (w) return { kind: "workload", workload: w, port };
  }
  return undefined;
}
