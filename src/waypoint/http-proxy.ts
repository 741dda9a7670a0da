/**
 * HTTP/1.1 inside HBONE tunnels: each tunnel stream is handed to one node:http server as a
 * connection (its strict llhttp parser refuses smuggling shapes — Content-Length with
 * Transfer-Encoding, duplicate Content-Length, obs-fold, bare LF — and oversized headers). Each
 * request runs through the shared request pipeline (request-pipeline.ts: its RequestContext, its
 * listener's filter chain, the upstream stage) with this engine's upstream transport
 * (http1-upstream.ts: node:http Agents over HBONE), and the response is written back here.
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
import type { Duplex, Readable } from "node:stream";
import { formatEndpoint, type Endpoint } from "../net/endpoint.ts";
import type { RequestContext } from "../plugin-api/index.ts";
import type { Logger } from "../telemetry/log.ts";
import { headerObject, upstreamRequestHeaders } from "./forward-headers.ts";
import { Http1Upstream } from "./http1-upstream.ts";
import { asHttpSocket } from "./http-socket.ts";
import { lazyBody, nodeBody } from "./lazy-body.ts";
import { normalizePath } from "./normalize-path.ts";
import { partiesOf } from "./request-route.ts";
import type { RequestPipeline } from "./request-pipeline.ts";
import type { RequestTelemetry } from "./request-telemetry.ts";
import type { ListenerMatch, WaypointState } from "./state.ts";
import type { Upstream } from "./upstream.ts";
import type { Exchange } from "./upstream-transport.ts";

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
}

export const DEFAULT_HTTP_LIMITS: HttpProxyLimits = {
  maxHeaderBytes: 16 * 1024,
  headersTimeoutMs: 10_000,
  requestTimeoutMs: 300_000,
  keepAliveTimeoutMs: 60_000,
};

export interface HttpProxyOptions {
  readonly state: () => WaypointState;
  readonly upstream: Upstream;
  readonly pipeline: RequestPipeline;
  readonly telemetry: RequestTelemetry;
  readonly log: Logger;
  readonly limits?: Partial<HttpProxyLimits>;
}

/** Count a stream's bytes as they pass (a counter, not a transform: the bytes are not touched). */
function counted(stream: Readable, add: (n: number) => void): Readable {
  stream.on("data", (chunk: Uint8Array) => add(chunk.byteLength));
  return stream;
}

const randomHex = (bytes: number) => randomBytes(bytes).toString("hex");

const hasBody = (req: http.IncomingMessage) => req.headers["transfer-encoding"] !== undefined || (req.headers["content-length"] !== undefined && req.headers["content-length"] !== "0");

export class HttpProxy {
  readonly #o: HttpProxyOptions;
  readonly #server: http.Server;
  readonly #facts = new WeakMap<object, TunnelFacts>();
  readonly #transport: Http1Upstream;

  constructor(options: HttpProxyOptions) {
    this.#o = options;
    const limits = { ...DEFAULT_HTTP_LIMITS, ...options.limits };
    this.#transport = new Http1Upstream(options.upstream, options.log);
    this.#server = http.createServer({ maxHeaderSize: limits.maxHeaderBytes, requestTimeout: limits.requestTimeoutMs, headersTimeout: limits.headersTimeoutMs, keepAliveTimeout: limits.keepAliveTimeoutMs }, (req, res) => void this.#handle(req, res));
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
    if (!facts || !this.#o.state().config) {
      res.writeHead(503).end();
      return;
    }
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
    const ctx = this.#o.pipeline.context({ method: req.method ?? "GET", authority: req.headers.host ?? facts.match.listener.hostname, path, query: q < 0 ? "" : url.slice(q + 1), headers, body: hasBody(req) ? lazyBody(req) : null }, facts, abort.signal);
    const exchange: Exchange = { facts, transport: this.#transport, hop: undefined, flag: "-", requestBytes: 0, responseBytes: 0 };
    let recorded = false;
    const record = (status: number, flag: string) => {
      if (recorded) return;
      recorded = true;
      this.#record(req, exchange, requestId, forwardedFor, started, status, flag);
      void ctx.finish();
    };
    res.on("close", () => {
      if (res.writableFinished) return;
      abort.abort();
      record(res.headersSent ? res.statusCode : 0, "DC");
    });
    await this.#o.pipeline.run(ctx, exchange, requestId);
    const status = ctx.response?.status ?? 500;
    this.#write(ctx, exchange, res, () => record(status, exchange.flag));
  }

  /** Send ctx.response to the client: the upstream body piped natively when no filter touched it. */
  #write(ctx: RequestContext, exchange: Exchange, res: http.ServerResponse, done: () => void): void {
    const response = ctx.response as NonNullable<RequestContext["response"]>;
    if (res.destroyed) return done();
    res.writeHead(response.status, headerObject(response.headers.entries()));
    res.once("finish", done);
    const body = response.body;
    if (body === null) return void res.end();
    const stream = counted(nodeBody(body), (n) => void (exchange.responseBytes += n));
    stream.on("error", () => res.destroy());
    stream.pipe(res);
  }

  #record(req: http.IncomingMessage, exchange: Exchange, requestId: string, forwardedFor: string, started: number, status: number, flag: string): void {
    const { facts, hop } = exchange;
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
