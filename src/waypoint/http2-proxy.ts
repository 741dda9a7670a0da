/**
 * HTTP/2 with prior knowledge (h2c) and gRPC inside HBONE tunnels: each tunnel stream is handed
 * to one node:http2 server as a connection, with bounded settings (concurrent streams, header
 * list size, initial window). Each request stream runs through the shared request pipeline
 * (request-pipeline.ts: its RequestContext, its listener's filter chain, the upstream stage with
 * retries, timeouts, failover, outliers, mirrors) with this engine's upstream transport
 * (http2-upstream.ts: a stream on the hop's pooled h2c session), and the response is written back
 * here. Trailers are carried both ways for gRPC and where a `trailer` field announces them; a
 * trailers-only response (a gRPC error, or a gRPC local reply) stays one header block.
 *
 * Invariants (shared with the HTTP/1.1 engine through request-pipeline.ts and forward-headers.ts):
 * - a request is carried only for the destination its tunnel was admitted for;
 * - filters, routes and the upstream see the normalized :path;
 * - bodies are piped natively unless a filter reads them (lazy-body.ts);
 * - every request ends in exactly one telemetry record, whatever ends it.
 */
import { randomBytes } from "node:crypto";
import http2 from "node:http2";
import type { Duplex } from "node:stream";
import { formatEndpoint } from "../net/endpoint.ts";
import type { RequestContext } from "../plugin-api/index.ts";
import type { Logger } from "../telemetry/log.ts";
import { headerObject, rawFromObject, upstreamRequestHeaders } from "./forward-headers.ts";
import type { TunnelFacts } from "./http-proxy.ts";
import { endToEndObject, Http2Upstream } from "./http2-upstream.ts";
import { asHttpSocket } from "./http-socket.ts";
import { lazyBody, nodeBody, untouchedSource } from "./lazy-body.ts";
import { isGrpc, LOCAL_REPLIES } from "./local-reply.ts";
import { normalizePath } from "./normalize-path.ts";
import { localReply, type RequestPipeline } from "./request-pipeline.ts";
import { partiesOf } from "./request-route.ts";
import type { RequestTelemetry } from "./request-telemetry.ts";
import type { WaypointState } from "./state.ts";
import type { Upstream } from "./upstream.ts";
import type { Exchange } from "./upstream-transport.ts";

export interface Http2ProxyLimits {
  /** SETTINGS_MAX_CONCURRENT_STREAMS per tunnel. */
  readonly maxConcurrentStreams: number;
  /** SETTINGS_MAX_HEADER_LIST_SIZE, bytes (as the HTTP/1.1 engine's header limit). */
  readonly maxHeaderListSize: number;
  /**
   * SETTINGS_INITIAL_WINDOW_SIZE per stream, bytes. Keep it at HTTP/2's default (65,535) on Bun:
   * with a larger stream window (256 KiB was tried) Bun's node:http2 server, fed a tunnel, never
   * sent the connection-level WINDOW_UPDATE, so a request body over 64 KiB stalled after 65,535
   * bytes (the connection window, which a larger stream window does not raise; raising it with
   * setLocalWindowSize stops uploads on Bun altogether, see PLATFORM-NOTES).
   */
  readonly initialWindowSize: number;
}

export const DEFAULT_HTTP2_LIMITS: Http2ProxyLimits = {
  maxConcurrentStreams: 100,
  maxHeaderListSize: 16 * 1024,
  initialWindowSize: 65_535,
};

export interface Http2ProxyOptions {
  readonly state: () => WaypointState;
  readonly upstream: Upstream;
  readonly pipeline: RequestPipeline;
  readonly telemetry: RequestTelemetry;
  readonly log: Logger;
  readonly limits?: Partial<Http2ProxyLimits>;
}

const { NGHTTP2_FLAG_END_STREAM, NGHTTP2_INTERNAL_ERROR } = http2.constants;
const randomHex = (bytes: number) => randomBytes(bytes).toString("hex");
type Headers = http2.IncomingHttpHeaders;
const one = (v: string | string[] | undefined) => (Array.isArray(v) ? v[0] : v);

/**
 * Whether a response's trailers are forwarded: a `trailer` field announcing them (RFC 9110
 * §6.6.2), or a gRPC response (its status is in the trailers). Others are piped plainly: Bun's
 * node:http2 client sending an empty trailer block on every gRPC request made a Bun HTTP/2 server
 * answer GOAWAY INTERNAL_ERROR after ~1,000 streams, failing the session's requests in flight.
 */
const forwardsTrailers = (response: NonNullable<RequestContext["response"]>) => response.headers.has("trailer") || isGrpc(response.headers.get("content-type") ?? undefined);

export class Http2Proxy {
  readonly #o: Http2ProxyOptions;
  readonly #server: http2.Http2Server;
  readonly #facts = new WeakMap<object, TunnelFacts>();
  /** The tunnel being handed to the server: node:http2 creates its session synchronously inside emit("connection"). */
  #arriving: TunnelFacts | undefined;

  constructor(options: Http2ProxyOptions) {
    this.#o = options;
    const { maxConcurrentStreams, maxHeaderListSize, initialWindowSize } = { ...DEFAULT_HTTP2_LIMITS, ...options.limits };
    this.#server = http2.createServer({ settings: { maxConcurrentStreams, maxHeaderListSize, initialWindowSize }, maxSessionMemory: 10 });
    this.#server.on("session", (session: http2.ServerHttp2Session) => {
      const facts = this.#arriving;
      if (facts) this.#facts.set(session, facts);
      session.on("error", (err: Error & { code?: string }) => this.#o.log.warn("HTTP/2 session failed", { error: err.code ?? err.message, ...(facts ? { "src.identity": facts.peerIdentity, src: formatEndpoint(facts.client) } : {}) }));
    });
    this.#server.on("stream", (stream: http2.ServerHttp2Stream, headers: Headers, flags: number) => void this.#handle(stream, headers, flags));
  }

  /** Serve HTTP/2 (prior knowledge) on an accepted tunnel. */
  serve(stream: Duplex, facts: TunnelFacts): void {
    this.#arriving = facts;
    try {
      this.#server.emit("connection", asHttpSocket(stream));
    } finally {
      this.#arriving = undefined;
    }
  }

  async #handle(stream: http2.ServerHttp2Stream, headers: Headers, flags: number): Promise<void> {
    const started = performance.now();
    stream.on("error", () => {});
    const facts = this.#facts.get(stream.session as object);
    if (!facts || !this.#o.state().config) return void stream.close(NGHTTP2_INTERNAL_ERROR);
    const grpc = isGrpc(one(headers["content-type"]));
    const forwarded = upstreamRequestHeaders(rawFromObject(headers), { clientAddress: facts.client.address, randomHex });
    const authority = one(headers[":authority"]) ?? one(headers.host) ?? facts.match.listener.hostname;
    // The path as HTTP/1.1 requests see it (normalize-path.ts): what routes and policy match is what the upstream serves.
    const rawPath = one(headers[":path"]) ?? "/";
    const q = rawPath.indexOf("?");
    const normalized = normalizePath(q < 0 ? rawPath : rawPath.slice(0, q));
    const ended = (flags & NGHTTP2_FLAG_END_STREAM) !== 0;
    const transport = new Http2Upstream(this.#o.upstream, this.#o.log, { stream, trailers: headers.trailer !== undefined, teTrailers: one(headers.te) === "trailers" || grpc });
    const exchange: Exchange = { facts, transport, hop: undefined, flag: "-", requestBytes: 0, responseBytes: 0 };
    const abort = new AbortController();
    const ctx = this.#o.pipeline.context({ method: one(headers[":method"]) ?? "GET", authority, path: normalized ?? rawPath, query: q < 0 ? "" : rawPath.slice(q + 1), headers: forwarded.headers, body: ended ? null : lazyBody(stream) }, facts, abort.signal);
    let grpcStatus: string | undefined;
    let recorded = false;
    const record = (status: number, flag: string) => {
      if (recorded) return;
      recorded = true;
      this.#o.telemetry.record({
        method: ctx.request.method,
        path: rawPath,
        protocol: "HTTP/2",
        ...(grpc ? { grpc: { status: grpcStatus } } : {}),
        authority,
        status,
        flags: flag,
        durationMs: performance.now() - started,
        requestId: forwarded.requestId,
        userAgent: one(headers["user-agent"]),
        forwardedFor: forwarded.forwardedFor,
        requestBytes: exchange.requestBytes,
        responseBytes: exchange.responseBytes,
        upstreamHost: exchange.hop ? formatEndpoint(exchange.hop.target) : undefined,
        ...partiesOf(this.#o.state(), facts, exchange.hop),
      });
      void ctx.finish();
    };
    let status = 0;
    stream.once("close", () => {
      if (!stream.headersSent || (stream.rstCode ?? 0) !== 0) {
        abort.abort();
        transport.cancel();
      }
      record(status, stream.rstCode === 0 || stream.rstCode === undefined ? exchange.flag : "DC");
    });
    if (normalized === null) {
      this.#o.log.warn("bad request target refused", { "src.identity": facts.peerIdentity, target: rawPath.slice(0, 200) });
      localReply(ctx, exchange, LOCAL_REPLIES.badPath);
    } else await this.#o.pipeline.run(ctx, exchange, forwarded.requestId);
    const response = ctx.response as NonNullable<RequestContext["response"]>;
    status = response.status;
    grpcStatus = response.headers.get("grpc-status") ?? undefined;
    this.#write(stream, ctx, transport, exchange, (s) => (grpcStatus = s ?? grpcStatus));
  }

  /** Send the response to the client: the upstream body piped natively when no filter touched it, trailers after it. */
  #write(stream: http2.ServerHttp2Stream, ctx: RequestContext, transport: Http2Upstream, exchange: Exchange, trailerStatus: (s: string | undefined) => void): void {
    const response = ctx.response as NonNullable<RequestContext["response"]>;
    if (stream.destroyed) return void response.body?.cancel().catch(() => {});
    const out = { ...headerObject(response.headers.entries()), ":status": response.status };
    // A request body nobody read (a local reply): drain it. One being piped upstream keeps its backpressure.
    if (ctx.request.body !== null && untouchedSource(ctx.request.body) === stream) stream.resume();
    if (response.body === null) return void stream.respond(out, { endStream: true });
    if (forwardsTrailers(response)) {
      stream.respond(out, { waitForTrailers: true });
      stream.once("wantTrailers", () => {
        const trailers = transport.responseTrailers;
        trailerStatus(one(trailers?.["grpc-status"]));
        stream.sendTrailers(trailers ? endToEndObject(trailers) : {});
      });
    } else stream.respond(out);
    const body = nodeBody(response.body);
    body.on("data", (c: Uint8Array) => void (exchange.responseBytes += c.byteLength));
    body.once("error", () => stream.close(NGHTTP2_INTERNAL_ERROR));
    // An upstream stream reset after its response started is carried to the client as that reset.
    const up = transport.current;
    up?.once("close", () => {
      if (up.rstCode !== undefined && up.rstCode !== 0 && !stream.destroyed && !stream.writableFinished) stream.close(up.rstCode);
    });
    body.pipe(stream);
  }

  /** Stop taking tunnels; open sessions finish their streams. */
  close(): void {
    this.#server.close();
  }
}
