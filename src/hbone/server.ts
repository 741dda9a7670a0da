/**
 * The server half of HBONE: mutual TLS 1.3 (ALPN h2) with a certificate chosen per connection by
 * the address the connection was made to (the destination workload's, or the waypoint's), then
 * HTTP/2 CONNECT streams, each handed to `onTunnel` after its headers are checked. The peer must
 * present a certificate chained to the trusted roots with exactly one SPIFFE URI SAN; anything
 * else never reaches `onTunnel`. A malformed request gets 400 on its own stream and leaves the
 * connection's other streams alone.
 *
 * Bounds: TLS handshake deadline, connection count, streams per connection, header size, idle
 * connections closed. `drain()` sends GOAWAY (no new streams), lets open streams finish until the
 * deadline, then closes what is left.
 */
import http2 from "node:http2";
import tls from "node:tls";
import type { Duplex } from "node:stream";
import { MeshError } from "../errors/mesh-error.ts";
import { hboneStatusFor } from "../errors/hbone-status.ts";
import type { Logger } from "../telemetry/log.ts";
import { formatEndpoint, parseConnectRequest, type ConnectRequest, type Endpoint } from "./headers.ts";
import { DEFAULT_HBONE_LIMITS, type HboneLimits } from "./limits.ts";
import { socketPeerSpiffeId } from "./peer.ts";

export interface InboundTunnel {
  readonly request: ConnectRequest;
  /** The verified peer identity (spiffe://…). */
  readonly peerIdentity: string;
  /** The peer's socket address (a ztunnel or waypoint). */
  readonly peer: Endpoint;
  /** Where the connection was made to: the HBONE address of the destination. */
  readonly local: Endpoint;
  /** Answer 200 and get the tunnel's byte stream. */
  accept(): Duplex;
  /** Answer with the status for this error and close the stream. */
  refuse(error: MeshError): void;
  /** Called once when the stream is gone (either side). */
  onClose(listener: () => void): void;
}

export interface HboneServerOptions {
  /** TLS for a connection made to `local`; undefined refuses the connection (no workload there). */
  readonly secureContextFor: (local: Endpoint) => tls.SecureContext | undefined;
  readonly onTunnel: (tunnel: InboundTunnel) => void;
  readonly log: Logger;
  readonly limits?: Partial<HboneLimits>;
}

export class HboneServer {
  readonly #o: HboneServerOptions;
  readonly #limits: HboneLimits;
  readonly #h2: http2.Http2Server;
  readonly #sockets = new Set<Duplex>();
  readonly #sessions = new Set<http2.ServerHttp2Session>();
  #draining = false;
  #pendingFacts: ConnectionFacts | undefined;

  constructor(options: HboneServerOptions) {
    this.#o = options;
    this.#limits = { ...DEFAULT_HBONE_LIMITS, ...options.limits };
    this.#h2 = http2.createServer({
      settings: {
        maxConcurrentStreams: this.#limits.maxStreamsPerConnection,
        initialWindowSize: this.#limits.streamWindow,
        maxHeaderListSize: this.#limits.maxHeaderListSize,
        enablePush: false,
      },
      maxSessionInvalidFrames: 100,
      maxSessionRejectedStreams: 100,
    });
    this.#h2.on("session", (session) => this.#onSession(session));
    this.#h2.on("stream", (stream, headers) => this.#onStream(stream, headers));
    this.#h2.on("sessionError", (err) => this.#o.log.debug("hbone session error", { error: err.message }));
  }

  get connections(): number {
    return this.#sockets.size;
  }

  /** Take a TCP connection that arrived for `local` (its original destination). */
  accept(socket: Duplex, local: Endpoint, remote: Endpoint): void {
    const log = this.#o.log;
    if (this.#draining || this.#sockets.size >= this.#limits.maxConnections) {
      log.warn("hbone connection refused", { src: formatEndpoint(remote), dst: formatEndpoint(local), error: this.#draining ? "draining" : "connection limit reached" });
      socket.destroy();
      return;
    }
    const context = this.#o.secureContextFor(local);
    if (!context) {
      log.warn("hbone connection refused", { src: formatEndpoint(remote), dst: formatEndpoint(local), error: "no workload certificate for this address" });
      socket.destroy();
      return;
    }
    this.#sockets.add(socket);
    socket.once("close", () => this.#sockets.delete(socket));
    socket.on("error", () => {});
    const secure = new tls.TLSSocket(socket as never, {
      isServer: true,
      secureContext: context,
      requestCert: true,
      rejectUnauthorized: true,
      ALPNProtocols: ["h2"],
    });
    const deadline = setTimeout(() => {
      log.warn("hbone handshake timed out", { src: formatEndpoint(remote), dst: formatEndpoint(local) });
      secure.destroy();
      socket.destroy();
    }, this.#limits.handshakeTimeoutMs);
    secure.once("close", () => {
      clearTimeout(deadline);
      socket.destroy();
    });
    secure.on("error", (err) => log.warn("hbone tls error", { src: formatEndpoint(remote), dst: formatEndpoint(local), error: err.message }));
    secure.once("secure", () => {
      clearTimeout(deadline);
      const peerIdentity = socketPeerSpiffeId(secure);
      if (secure.alpnProtocol !== "h2" || !peerIdentity) {
        log.warn("hbone connection refused", { src: formatEndpoint(remote), dst: formatEndpoint(local), error: !peerIdentity ? "peer certificate has no single SPIFFE identity" : "ALPN is not h2" });
        secure.destroy();
        return;
      }
      // node:http2 creates the session synchronously inside emit("connection"); #onSession picks these up.
      this.#pendingFacts = { peerIdentity, peer: remote, local };
      this.#h2.emit("connection", secure);
      this.#pendingFacts = undefined;
    });
  }

  #onSession(session: http2.ServerHttp2Session): void {
    if (this.#pendingFacts) sessionFacts.set(session, this.#pendingFacts);
    this.#sessions.add(session);
    session.once("close", () => this.#sessions.delete(session));
    session.on("error", (err) => this.#o.log.debug("hbone session error", { error: err.message }));
    session.setTimeout(this.#limits.idleTimeoutMs, () => {
      if (activeStreams(session) === 0) session.close();
    });
    if (this.#draining) session.goaway();
  }

  #onStream(stream: http2.ServerHttp2Stream, headers: http2.IncomingHttpHeaders): void {
    stream.on("error", () => {});
    const session = stream.session;
    const facts = session ? sessionFacts.get(session) : undefined;
    if (session) {
      openStreams.set(session, activeStreams(session) + 1);
      stream.once("close", () => {
        openStreams.set(session, activeStreams(session) - 1);
        if (this.#draining && activeStreams(session) === 0) session.close();
      });
    }
    if (!facts) {
      stream.close(http2.constants.NGHTTP2_REFUSED_STREAM);
      return;
    }
    let request: ConnectRequest;
    try {
      request = parseConnectRequest(headers);
    } catch (err) {
      const e = MeshError.from(err, "invalid_argument");
      this.#o.log.warn("hbone request refused", { src: formatEndpoint(facts.peer), "src.identity": facts.peerIdentity, error: e.message });
      respondAndClose(stream, hboneStatusFor(e.code));
      return;
    }
    let answered = false;
    this.#o.onTunnel({
      request,
      peerIdentity: facts.peerIdentity,
      peer: facts.peer,
      local: facts.local,
      accept: () => {
        if (answered) throw new MeshError("internal", "HBONE stream answered twice");
        answered = true;
        stream.respond({ ":status": 200 });
        return stream;
      },
      refuse: (error) => {
        if (answered) return;
        answered = true;
        respondAndClose(stream, hboneStatusFor(error.code));
      },
      onClose: (listener) => {
        if (stream.closed) listener();
        else stream.once("close", listener);
      },
    });
  }

  /** Stop taking streams, let open ones finish until `deadlineMs`, then close everything. */
  async drain(deadlineMs: number): Promise<void> {
    this.#draining = true;
    for (const s of this.#sessions) if (!s.closed) s.goaway();
    for (const s of this.#sessions) if (activeStreams(s) === 0) s.close();
    const until = Date.now() + deadlineMs;
    while (this.#sockets.size > 0 && Date.now() < until) {
      for (const s of this.#sessions) if (activeStreams(s) === 0 && !s.closed) s.close();
      await new Promise((r) => setTimeout(r, 50));
    }
    for (const s of this.#sessions) s.destroy();
    for (const s of this.#sockets) s.destroy();
  }
}

interface ConnectionFacts {
  readonly peerIdentity: string;
  readonly peer: Endpoint;
  readonly local: Endpoint;
}
const sessionFacts = new WeakMap<http2.Http2Session, ConnectionFacts>();

/** Open streams per session, counted here (node:http2 does not expose it portably). */
const openStreams = new WeakMap<http2.Http2Session, number>();
function activeStreams(session: http2.Http2Session): number {
  return openStreams.get(session) ?? 0;
}

function respondAndClose(stream: http2.ServerHttp2Stream, status: number): void {
  if (stream.destroyed || stream.closed) return;
  stream.respond({ ":status": status }, { endStream: true });
  stream.resume();
}
