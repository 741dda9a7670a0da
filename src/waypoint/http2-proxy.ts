/**
 * HTTP/2 with prior knowledge (h2c) and gRPC inside HBONE tunnels: each tunnel stream is handed
 * to one node:http2 server as a connection, with bounded settings (concurrent streams, header
 * list size, initial window); each request stream is carried to an endpoint of the destination as
 * an HTTP/2 stream on the upstream's pooled session for that hop (gRPC needs HTTP/2 end to end:
 * trailers, `te: trailers`). Trailers are carried both ways for gRPC and where a `trailer` field
 * announces them; a trailers-only response stays one.
 *
 * Invariants (shared with the HTTP/1.1 engine through request-route.ts and forward-headers.ts):
 * - a request is carried only for the destination its tunnel was admitted for;
 * - a hop that cannot be connected is skipped for the next one: nothing of the request has been
 *   sent then (its body is read only once a session to a hop is up), with or without a body; when
 *   no hop is left the client gets Envoy's local reply — for gRPC as Envoy sends it (HTTP 200,
 *   trailers-only, grpc-status 14 UNAVAILABLE, Envoy's words as grpc-message);
 * - every request ends in exactly one telemetry record, whatever ends it.
 */
import { randomBytes } from "node:crypto";
import http2 from "node:http2";
import type { Duplex } from "node:stream";
import { MeshError } from "../errors/mesh-error.ts";
import { formatEndpoint } from "../net/endpoint.ts";
import type { Logger } from "../telemetry/log.ts";
import { endToEnd, headerObject, rawFromObject, upstreamRequestHeaders } from "./forward-headers.ts";
import { asHttpSocket } from "./http-socket.ts";
import { grpcLocalReply, isGrpc, LOCAL_REPLIES, type LocalReply } from "./local-reply.ts";
import { normalizePath } from "./normalize-path.ts";
import { actingFiltersCached } from "./chains.ts";
import type { TunnelFacts } from "./http-proxy.ts";
import { hopsFor, partiesOf } from "./request-route.ts";
import type { RequestTelemetry } from "./request-telemetry.ts";
import type { WaypointState } from "./state.ts";
import { UPSTREAM_CONNECT_FAILED, type Upstream } from "./upstream.ts";
import type { UpstreamHop } from "./upstream-plan.ts";

export interface Http2ProxyLimits {
  /** SETTINGS_MAX_CONCURRENT_STREAMS per tunnel. */
  readonly maxConcurrentStreams: number;
  /** SETTINGS_MAX_HEADER_LIST_SIZE, bytes (as the HTTP/1.1 engine's header limit). */
  readonly maxHeaderListSize: number;
  /** SETTINGS_INITIAL_WINDOW_SIZE per stream, bytes. */
  readonly initialWindowSize: number;
  /** An upstream stream idle this long is cancelled (Envoy's default route timeout). */
  readonly upstreamTimeoutMs: number;
}

export const DEFAULT_HTTP2_LIMITS: Http2ProxyLimits = {
  maxConcurrentStreams: 100,
  maxHeaderListSize: 16 * 1024,
  initialWindowSize: 256 * 1024,
  upstreamTimeoutMs: 15_000,
};

export interface Http2ProxyOptions {
  readonly state: () => WaypointState;
  readonly upstream: Upstream;
  readonly telemetry: RequestTelemetry;
  readonly log: Logger;
  readonly hbonePort: number;
  readonly limits?: Partial<Http2ProxyLimits>;
}

const { NGHTTP2_CANCEL, NGHTTP2_FLAG_END_STREAM, NGHTTP2_INTERNAL_ERROR } = http2.constants;
const randomHex = (bytes: number) => randomBytes(bytes).toString("hex");
type Headers = http2.IncomingHttpHeaders;

/** End-to-end fields of a header block or trailers, as node:http2 writes them. */
const endToEndObject = (h: Headers) => headerObject(endToEnd(rawFromObject(h)));
const one = (v: string | string[] | undefined) => (Array.isArray(v) ? v[0] : v);

/**
 * Whether a message's trailers are forwarded: a `trailer` field announcing them (RFC 9110
 * §6.6.2), or a gRPC response (its status is in the trailers; gRPC requests have none). Others are
 * piped plainly: Bun's node:http2 client sending an empty trailer block on every gRPC request made
 * a Bun HTTP/2 server answer GOAWAY INTERNAL_ERROR after ~1,000 streams, failing the session's
 * requests in flight.
 */
const announcesTrailers = (h: Headers) => h.trailer !== undefined;
const forwardsResponseTrailers = (h: Headers) => announcesTrailers(h) || isGrpc(one(h["content-type"]));

export class Http2Proxy {
  readonly #o: Http2ProxyOptions;
  readonly #limits: Http2ProxyLimits;
  readonly #server: http2.Http2Server;
  readonly #facts = new WeakMap<object, TunnelFacts>();
  /** The tunnel being handed to the server: node:http2 creates its session synchronously inside emit("connection"). */
  #arriving: TunnelFacts | undefined;
  #next = 0;

  constructor(options: Http2ProxyOptions) {
    this.#o = options;
    this.#limits = { ...DEFAULT_HTTP2_LIMITS, ...options.limits };
    const { maxConcurrentStreams, maxHeaderListSize, initialWindowSize } = this.#limits;
    this.#server = http2.createServer({ settings: { maxConcurrentStreams, maxHeaderListSize, initialWindowSize }, maxSessionMemory: 10 });
    this.#server.on("session", (session: http2.ServerHttp2Session) => {
      const facts = this.#arriving;
      if (facts) this.#facts.set(session, facts);
      session.on("error", (err: Error & { code?: string }) => this.#o.log.warn("HTTP/2 session failed", { error: err.code ?? err.message, ...(facts ? { "src.identity": facts.peerIdentity, src: formatEndpoint(facts.client) } : {}) }));
    });
    this.#server.on("stream", (stream: http2.ServerHttp2Stream, headers: Headers, flags: number) => this.#handle(stream, headers, flags));
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

  #handle(stream: http2.ServerHttp2Stream, headers: Headers, flags: number): void {
    const started = performance.now();
    stream.on("error", () => {});
    const facts = this.#facts.get(stream.session as object);
    if (!facts) return void stream.close(NGHTTP2_INTERNAL_ERROR);
    const grpc = isGrpc(one(headers["content-type"]));
    const state = this.#o.state();
    const forwarded = upstreamRequestHeaders(rawFromObject(headers), { clientAddress: facts.client.address, randomHex });
    const authority = one(headers[":authority"]) ?? one(headers.host) ?? "-";
    // The path as HTTP/1.1 requests see it (normalize-path.ts): what routes and policy match is what the upstream serves.
    const rawPath = one(headers[":path"]) ?? "/";
    const q = rawPath.indexOf("?");
    const normalized = normalizePath(q < 0 ? rawPath : rawPath.slice(0, q));
    const outgoing: http2.OutgoingHttpHeaders = {
      ...headerObject(forwarded.headers),
      ":method": one(headers[":method"]) ?? "GET",
      ":path": normalized === null ? rawPath : q < 0 ? normalized : `${normalized}${rawPath.slice(q)}`,
      ":authority": authority,
      ":scheme": "http",
      // The one TE value HTTP/2 allows, and gRPC servers require.
      ...(one(headers.te) === "trailers" || grpc ? { te: "trailers" } : {}),
    };
    let hop: UpstreamHop | undefined;
    let grpcStatus: string | undefined;
    let recorded = false;
    // Body bytes each way, counted as they are piped (listeners, not transforms).
    let requestBytes = 0;
    let responseBytes = 0;
    const finish = (status: number, responseFlags: string) => {
      if (recorded) return;
      recorded = true;
      this.#o.telemetry.record({
        method: String(outgoing[":method"]),
        path: String(outgoing[":path"]),
        protocol: "HTTP/2",
        ...(grpc ? { grpc: { status: grpcStatus } } : {}),
        authority,
        status,
        flags: responseFlags,
        durationMs: performance.now() - started,
        requestId: forwarded.requestId,
        userAgent: one(headers["user-agent"]),
        forwardedFor: forwarded.forwardedFor,
        requestBytes,
        responseBytes,
        upstreamHost: hop ? formatEndpoint(hop.target) : undefined,
        ...partiesOf(state, facts, hop),
      });
    };
    const reply = (r: LocalReply) => {
      if (stream.destroyed) return finish(0, "DC");
      if (stream.headersSent) {
        stream.close(NGHTTP2_INTERNAL_ERROR);
        return finish(0, r.flag);
      }
      stream.resume();
      if (grpc) {
        const h = grpcLocalReply(r);
        grpcStatus = h["grpc-status"];
        stream.respond(h, { endStream: true });
        return finish(200, r.flag);
      }
      stream.respond({ ":status": r.status, "content-type": "text/plain", "content-length": Buffer.byteLength(r.body) });
      stream.end(r.body);
      responseBytes += Buffer.byteLength(r.body);
      finish(r.status, r.flag);
    };

    if (normalized === null) {
      this.#o.log.warn("bad request target refused", { "src.identity": facts.peerIdentity, target: rawPath.slice(0, 200) });
      return reply(LOCAL_REPLIES.badPath);
    }
    // The plugin filter chain (routes, policy) runs on HTTP/1.1 only so far: a destination whose
    // filters would act is failed closed on HTTP/2 rather than served around them.
    const config = state.config;
    const filters = config ? actingFiltersCached(config, facts.match.listener) : [];
    if (filters.length > 0) {
      this.#o.log.warn("HTTP/2 request refused: its destination has filters the HTTP/2 engine does not run yet", { "src.identity": facts.peerIdentity, destination: facts.match.listener.key, filters: filters.map((f) => f.plugin).join(",") });
      return reply(LOCAL_REPLIES.filtersNotRun);
    }
    const hops = hopsFor(state, facts.match, null, { hbonePort: this.#o.hbonePort, start: this.#next++ });
    if (hops instanceof MeshError) {
      this.#o.log.debug("no upstream", { error: hops.message });
      return reply(LOCAL_REPLIES.noHealthyUpstream);
    }
    const outliers = this.#o.upstream.outliers;
    const planned = outliers.order(hops);
    const ended = (flags & NGHTTP2_FLAG_END_STREAM) !== 0;
    let current: http2.ClientHttp2Stream | undefined;
    let responded = false;
    let requestTrailers: Headers | undefined;
    stream.once("trailers", (t: Headers) => (requestTrailers = t));
    stream.once("close", () => {
      current?.close(NGHTTP2_CANCEL);
      if (!responded) finish(0, "DC");
    });

    const carry = (up: http2.ClientHttp2Stream) => {
      let responseTrailers: Headers | undefined;
      up.once("trailers", (t: Headers) => (responseTrailers = t));
      up.once("response", (h: Headers, responseFlags: number) => {
        responded = true;
        const status = Number(h[":status"] ?? 502);
        if (hop) outliers.record(hop, status);
        grpcStatus = one(h["grpc-status"]);
        const out = { ...endToEndObject(h), ":status": status };
        if (stream.destroyed) return;
        if ((responseFlags & NGHTTP2_FLAG_END_STREAM) !== 0) {
          // Trailers-only (a gRPC error): stays one header block.
          stream.respond(out, { endStream: true });
          return finish(status, "-");
        }
        if (forwardsResponseTrailers(h)) {
          stream.respond(out, { waitForTrailers: true });
          stream.once("wantTrailers", () => {
            if (responseTrailers) grpcStatus = one(responseTrailers["grpc-status"]) ?? grpcStatus;
            stream.sendTrailers(responseTrailers ? endToEndObject(responseTrailers) : {});
          });
        } else stream.respond(out);
        up.on("data", (c: Buffer) => void (responseBytes += c.byteLength));
        up.pipe(stream);
        stream.once("close", () => finish(status, stream.rstCode === 0 || stream.rstCode === undefined ? "-" : "DC"));
      });
    };

    const attempt = (i: number, freshSession = false) => {
      const h = planned[i] as UpstreamHop;
      hop = h;
      this.#o.upstream.sessionFor(h).then(
        (session) => {
          if (stream.destroyed) return;
          let up: http2.ClientHttp2Stream;
          try {
            up = session.request(outgoing, ended ? { endStream: true } : announcesTrailers(headers) ? { waitForTrailers: true } : {});
          } catch (err) {
            // A pooled session closing under us (GOAWAY) is already forgotten: one more try opens a new one.
            this.#o.log.debug("upstream session unusable", { upstream: formatEndpoint(h.target), error: MeshError.from(err).message });
            return freshSession ? reply(LOCAL_REPLIES.upstreamReset) : attempt(i, true);
          }
          current = up;
          up.setTimeout(this.#limits.upstreamTimeoutMs, () => {
            up.close(NGHTTP2_CANCEL);
            if (!responded) reply(LOCAL_REPLIES.timeout);
          });
          up.on("error", (err: Error) => this.#o.log.debug("upstream stream failed", { upstream: formatEndpoint(h.target), error: err.message }));
          up.once("close", () => {
            if (!responded) reply(LOCAL_REPLIES.upstreamReset);
            else if (up.rstCode !== undefined && up.rstCode !== 0 && !stream.destroyed) stream.close(up.rstCode);
          });
          carry(up);
          if (!ended) {
            if (announcesTrailers(headers)) up.once("wantTrailers", () => up.sendTrailers(requestTrailers ? endToEndObject(requestTrailers) : {}));
            stream.on("data", (c: Buffer) => void (requestBytes += c.byteLength));
            stream.pipe(up);
          }
        },
        (err: Error & { code?: string }) => {
          this.#o.log.debug("upstream try failed", { upstream: formatEndpoint(h.target), error: err.message });
          if (stream.destroyed) return finish(0, "DC");
          if (err.code === UPSTREAM_CONNECT_FAILED) outliers.record(h, "connect-failure");
          if (err.code === UPSTREAM_CONNECT_FAILED && i + 1 < planned.length) return attempt(i + 1);
          reply(err.code === UPSTREAM_CONNECT_FAILED ? LOCAL_REPLIES.connectFailure : LOCAL_REPLIES.upstreamReset);
        },
      );
    };
    attempt(0);
  }

  /** Stop taking tunnels; open sessions finish their streams. */
  close(): void {
    this.#server.close();
  }
}
