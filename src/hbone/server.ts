/**
 * The server half of HBONE: mutual TLS 1.3 (ALPN h2) with a certificate chosen per connection by
 * the address the connection was made to (the destination workload's, or the waypoint's), then
 * HTTP/2 CONNECT streams (the lean HTTP/2 layer in h2/), each handed to `onTunnel` after its
 * headers are checked. The peer must present a certificate chained to the trusted roots with
 * exactly one SPIFFE URI SAN; anything else never reaches `onTunnel`. A malformed request gets 400
 * on its own stream and leaves the connection's other streams alone.
 *
 * Bounds (limits.ts), each logged when it closes or refuses something, none touching the bytes of
 * a tunnel:
 * - connections: at most `maxConnections`, refused at accept;
 * - time to the first request: TLS handshake plus the first CONNECT within `handshakeTimeoutMs`
 *   (a peer that connects and says nothing, or stalls the handshake, is closed);
 * - idle: a connection without streams for `idleTimeoutMs` is closed (PINGs do not keep it open);
 * - streams: `maxStreamsPerConnection` advertised and enforced (REFUSED_STREAM);
 * - rapid reset: more than `maxEarlyResets` streams reset by the peer before they were answered,
 *   plus streams refused, within `abuseWindowMs` close the connection (GOAWAY ENHANCE_YOUR_CALM),
 *   counted by the HTTP/2 layer; so do more than `maxControlFrames` SETTINGS/PING frames;
 * - header blocks beyond `maxHeaderListSize` reset their stream before `onTunnel` sees it.
 *
 * A peer reset arriving while `onTunnel` is still connecting upstream makes `accept()` hand back a
 * stand-in that closes at once, so the caller's splice tears the upstream down.
 *
 * `drain()` sends GOAWAY (no new streams), lets open streams finish until the deadline, then
 * closes what is left.
 */
import tls from "node:tls";
import { PassThrough, type Duplex } from "node:stream";
import { MeshError } from "../errors/mesh-error.ts";
import { hboneStatusFor } from "../errors/hbone-status.ts";
import type { Logger } from "../telemetry/log.ts";
import { H2ServerConnection, type H2Error, type H2Headers, type H2Stream } from "./h2/index.ts";
import { formatEndpoint, type Endpoint } from "../net/endpoint.ts";
import { parseConnectRequest, type ConnectRequest } from "./headers.ts";
import { DEFAULT_HBONE_LIMITS, type HboneLimits } from "./limits.ts";
import { socketPeerSpiffeId } from "../identity/peer-spiffe-id.ts";

export interface InboundTunnel {
  readonly request: ConnectRequest;
  /** The verified peer identity (spiffe://…). */
  readonly peerIdentity: string;
  /** The peer's socket address (a ztunnel or waypoint). */
  readonly peer: Endpoint;
  /** Where the connection was made to: the HBONE address of the destination. */
  readonly local: Endpoint;
  /**
   * Answer 200 and get the tunnel's byte stream. If the peer has already gone (it reset the
   * stream while the upstream was being connected), the stream returned closes at once.
   */
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

interface ConnectionFacts {
  readonly peerIdentity: string;
  readonly peer: Endpoint;
  readonly local: Endpoint;
}

/** What the server keeps per HTTP/2 connection. */
interface ConnectionState {
  readonly facts: ConnectionFacts;
  readonly conn: H2ServerConnection;
  /** Runs until the first request; closes a connection that never sends one. */
  firstRequest: ReturnType<typeof setTimeout> | undefined;
  /** Re-armed whenever the last stream closes; closes the connection if still without streams. */
  idle: ReturnType<typeof setTimeout> | undefined;
  streams: number;
}

export class HboneServer {
  readonly #o: HboneServerOptions;
  readonly #limits: HboneLimits;
  readonly #sockets = new Set<Duplex>();
  readonly #connections = new Set<ConnectionState>();
  #draining = false;

  constructor(options: HboneServerOptions) {
    this.#o = options;
    this.#limits = { ...DEFAULT_HBONE_LIMITS, ...options.limits };
  }

  get connections(): number {
    return this.#sockets.size;
  }

  /** Take a TCP connection that arrived for `local` (its original destination). */
  accept(socket: Duplex, local: Endpoint, remote: Endpoint): void {
    (socket as Duplex & { setNoDelay?: (on: boolean) => void }).setNoDelay?.(true); // Nagle off: see client.ts
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
    let secured = false;
    const timeoutMs = this.#limits.handshakeTimeoutMs;
    // Cleared by the first request or the close, whichever comes first.
    const firstRequest = setTimeout(() => {
      log.warn("hbone connection closed", { src: formatEndpoint(remote), dst: formatEndpoint(local), error: secured ? `no request within ${timeoutMs} ms` : `TLS handshake not finished within ${timeoutMs} ms` });
      secure.destroy();
      socket.destroy();
    }, timeoutMs);
    secure.once("close", () => {
      clearTimeout(firstRequest);
      socket.destroy();
    });
    secure.on("error", (err) => {
      // After the handshake the HTTP/2 connection reports what went wrong (its "close").
      if (secured) log.debug("hbone tls error", { src: formatEndpoint(remote), dst: formatEndpoint(local), error: err.message });
      else log.warn("hbone tls error", { src: formatEndpoint(remote), dst: formatEndpoint(local), error: err.message });
    });
    secure.once("secure", () => {
      secured = true;
      const peerIdentity = socketPeerSpiffeId(secure);
      if (secure.alpnProtocol !== "h2" || !peerIdentity) {
        log.warn("hbone connection refused", { src: formatEndpoint(remote), dst: formatEndpoint(local), error: !peerIdentity ? "peer certificate has no single SPIFFE identity" : "ALPN is not h2" });
        secure.destroy();
        return;
      }
      this.#serve(secure, { peerIdentity, peer: remote, local }, firstRequest);
    });
  }

  #serve(secure: tls.TLSSocket, facts: ConnectionFacts, firstRequest: ReturnType<typeof setTimeout>): void {
    const limits = this.#limits;
    // The state is created before the connection can deliver a stream (onStream reads it).
    const state = { facts, firstRequest, idle: undefined, streams: 0 } as Omit<ConnectionState, "conn"> & { conn: H2ServerConnection };
    state.conn = new H2ServerConnection(secure, {
      maxConcurrentStreams: limits.maxStreamsPerConnection,
      initialWindowSize: limits.streamWindow,
      maxHeaderListSize: limits.maxHeaderListSize,
      maxPeerResets: limits.maxEarlyResets,
      earlyResetMs: limits.earlyResetMs,
      maxControlFrames: limits.maxControlFrames,
      abuseWindowMs: limits.abuseWindowMs,
      onStream: (headers, stream, respond) => this.#onStream(state, headers, stream, respond),
    });
    this.#connections.add(state);
    state.idle = setTimeout(() => this.#onIdle(state), limits.idleTimeoutMs);
    state.idle.unref?.();
    state.conn.once("close", (err?: H2Error) => {
      this.#connections.delete(state);
      clearTimeout(state.firstRequest);
      clearTimeout(state.idle);
      secure.destroy();
      if (!err) return;
      const fields = { src: formatEndpoint(facts.peer), "src.identity": facts.peerIdentity, error: err.message };
      // A peer that just went away is routine; a protocol error or abuse is worth a warning.
      if (err.code === "unavailable" || err.code === "canceled") this.#o.log.debug("hbone connection error", fields);
      else this.#o.log.warn("hbone connection closed", fields);
    });
    if (this.#draining) state.conn.close();
  }

  #onStream(state: ConnectionState, headers: H2Headers, stream: H2Stream, respond: (status: number, endStream?: boolean) => boolean): void {
    if (state.firstRequest) {
      clearTimeout(state.firstRequest);
      state.firstRequest = undefined;
    }
    state.streams++;
    let answered = false;
    stream.once("close", () => {
      if (--state.streams > 0) return;
      if (this.#draining) state.conn.close();
      else state.idle?.refresh();
    });
    const facts = state.facts;
    let request: ConnectRequest;
    try {
      request = parseConnectRequest(headers);
    } catch (err) {
      const e = MeshError.from(err, "invalid_argument");
      this.#o.log.warn("hbone request refused", { src: formatEndpoint(facts.peer), "src.identity": facts.peerIdentity, error: e.message });
      answered = true;
      respond(hboneStatusFor(e.code), true);
      return;
    }
    this.#o.onTunnel({
      request,
      peerIdentity: facts.peerIdentity,
      peer: facts.peer,
      local: facts.local,
      accept: () => {
        if (answered) throw new MeshError("internal", "HBONE stream answered twice");
        answered = true;
        return respond(200) ? stream : closedStandIn();
      },
      refuse: (error) => {
        if (answered) return;
        answered = true;
        respond(hboneStatusFor(error.code), true);
      },
      onClose: (listener) => {
        if (stream.closed || stream.destroyed) listener();
        else stream.once("close", listener);
      },
    });
  }

  #onIdle(state: ConnectionState): void {
    if (state.streams > 0 || state.conn.closed) return;
    this.#o.log.debug("hbone connection idle, closing", { src: formatEndpoint(state.facts.peer), "src.identity": state.facts.peerIdentity, idleMs: this.#limits.idleTimeoutMs });
    state.conn.close();
    // close() waits for the peer to finish; a peer that never does is cut off.
    setTimeout(() => state.conn.destroy(), Math.min(this.#limits.handshakeTimeoutMs, 5000)).unref?.();
  }

  /** Stop taking streams, let open ones finish until `deadlineMs`, then close everything. */
  async drain(deadlineMs: number): Promise<void> {
    this.#draining = true;
    for (const c of this.#connections) c.conn.close();
    const until = Date.now() + deadlineMs;
    while (this.#sockets.size > 0 && Date.now() < until) await new Promise((r) => setTimeout(r, 50));
    for (const c of this.#connections) c.conn.destroy();
    for (const s of this.#sockets) s.destroy();
  }
}

/** What `accept()` returns for a stream the peer already reset: it closes on the next tick. */
function closedStandIn(): Duplex {
  const stand = new PassThrough();
  stand.destroy();
  return stand;
}
