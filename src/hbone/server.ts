/**
 * The server half of HBONE: mutual TLS 1.3 (ALPN h2) with a certificate chosen per connection by
 * the address the connection was made to (the destination workload's, or the waypoint's), then
 * HTTP/2 CONNECT streams, each handed to `onTunnel` after its headers are checked. The peer must
 * present a certificate chained to the trusted roots with exactly one SPIFFE URI SAN; anything
 * else never reaches `onTunnel`. A malformed request gets 400 on its own stream and leaves the
 * connection's other streams alone.
 *
 * Bounds (limits.ts), each logged when it closes or refuses something, none touching the bytes of
 * a tunnel:
 * - connections: at most `maxConnections`, refused at accept;
 * - time to the first request: TLS handshake plus the first CONNECT within `handshakeTimeoutMs`
 *   (a peer that connects and says nothing, or stalls the handshake, is closed);
 * - idle: a connection without streams for `idleTimeoutMs` is closed (PINGs do not keep it open);
 * - streams: `maxStreamsPerConnection` advertised and enforced, excess streams get REFUSED_STREAM;
 * - rapid reset: more than `maxEarlyResets` streams reset by the peer before they were answered
 *   (and within `earlyResetMs` of opening them) within `abuseWindowMs` close the connection
 *   (GOAWAY ENHANCE_YOUR_CALM); streams that arrive after that are refused without reaching
 *   `onTunnel`. Resets after an answer, or of streams held open longer, are not counted: those
 *   streams were bounded by `maxStreamsPerConnection` while they lived;
 * - control-frame floods: more than `maxControlFrames` SETTINGS + PING frames within
 *   `abuseWindowMs` close the connection the same way.
 *
 * What node:http2 on Bun 1.4.4 does by itself (checked with a raw frame writer, abuse.test.ts):
 * - `settings.maxConcurrentStreams` is enforced (REFUSED_STREAM) and `maxSessionRejectedStreams`
 *   is honoured: one more refused stream sends GOAWAY ENHANCE_YOUR_CALM;
 * - `streamResetBurst`/`streamResetRate` are honoured (defaults 1000, then 33/s): past them it
 *   sends GOAWAY ENHANCE_YOUR_CALM ("Flooding was detected"). But every one of those streams has
 *   reached the "stream" event, i.e. `onTunnel`, first, and the count includes resets of tunnels
 *   that were answered and carried bytes (a client closing 1000 tunnels by reset within a few
 *   seconds lost its connection); hence our own count above and a loose native one;
 * - a header block beyond `maxHeaderListSize` gets RST_STREAM ENHANCE_YOUR_CALM and never reaches
 *   the "stream" event; a CONTINUATION flood ends with GOAWAY COMPRESSION_ERROR;
 * - PING and SETTINGS are answered without limit while the peer reads the answers (so we count
 *   them); a peer that stops reading is cut off once the unsent answers pile up ("Flooding");
 * - `maxSessionInvalidFrames` is accepted but frames that only earn a stream-level
 *   PROTOCOL_ERROR (e.g. WINDOW_UPDATE of 0 on an idle stream) are not counted by it;
 * - stream flow control holds: a tunnel whose client never reads stalls its upstream after the
 *   window plus socket buffers (a few MiB), nothing grows;
 * - a peer reset arriving while `onTunnel` is still connecting upstream leaves the stream
 *   destroyed, and `respond()` on it throws; `accept()` therefore hands back a stand-in that closes
 *   at once, so the caller's splice tears the upstream down instead of throwing or leaking it.
 *
 * `drain()` sends GOAWAY (no new streams), lets open streams finish until the deadline, then
 * closes what is left.
 */
import http2 from "node:http2";
import tls from "node:tls";
import { PassThrough, type Duplex } from "node:stream";
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
interface SessionState {
  readonly facts: ConnectionFacts;
  /** Runs until the first request; closes a connection that never sends one. */
  firstRequest: ReturnType<typeof setTimeout> | undefined;
  /** Re-armed whenever the last stream closes; closes the connection if still without streams. */
  idle: ReturnType<typeof setTimeout> | undefined;
  streams: number;
  windowStart: number;
  earlyResets: number;
  controlFrames: number;
  /** Set once the server closed the connection for abuse; later streams are refused. */
  abuse: string | undefined;
}

export class HboneServer {
  readonly #o: HboneServerOptions;
  readonly #limits: HboneLimits;
  readonly #h2: http2.Http2Server;
  readonly #sockets = new Set<Duplex>();
  readonly #sessions = new Map<http2.Http2Session, SessionState>();
  #draining = false;
  #pending: { facts: ConnectionFacts; firstRequest: ReturnType<typeof setTimeout> } | undefined;

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
      // node:http2's own reset guard counts every RST_STREAM, also those ending answered tunnels,
      // which are bounded by maxConcurrentStreams; with the defaults (1000, then 33/s) a busy
      // client closing tunnels by reset loses its whole connection. Rapid reset is caught by
      // #onEarlyReset instead; this stays as a loose backstop.
      streamResetBurst: 10_000,
      streamResetRate: 1000,
    } as http2.ServerOptions);
    this.#h2.on("session", (session) => this.#onSession(session));
    this.#h2.on("stream", (stream, headers) => this.#onStream(stream, headers));
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
    // Cleared by the first request (#onStream) or the close, whichever comes first.
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
      // After the handshake the HTTP/2 session reports what went wrong (#onSession).
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
      // node:http2 creates the session synchronously inside emit("connection"); #onSession picks these up.
      this.#pending = { facts: { peerIdentity, peer: remote, local }, firstRequest };
      this.#h2.emit("connection", secure);
      this.#pending = undefined;
    });
  }

  #onSession(session: http2.ServerHttp2Session): void {
    const pending = this.#pending;
    if (!pending) {
      session.destroy();
      return;
    }
    const state: SessionState = { facts: pending.facts, firstRequest: pending.firstRequest, idle: undefined, streams: 0, windowStart: Date.now(), earlyResets: 0, controlFrames: 0, abuse: undefined };
    this.#sessions.set(session, state);
    state.idle = setTimeout(() => this.#onIdle(session, state), this.#limits.idleTimeoutMs);
    state.idle.unref?.();
    session.once("close", () => {
      this.#sessions.delete(session);
      clearTimeout(state.firstRequest);
      clearTimeout(state.idle);
    });
    session.on("error", (err: NodeJS.ErrnoException) => {
      if (state.abuse) return; // logged when we closed it
      const fields = { src: formatEndpoint(state.facts.peer), "src.identity": state.facts.peerIdentity, error: err.message, ...(err.code ? { code: err.code } : {}) };
      if (err.code === "ECONNRESET" || err.code === "EPIPE") this.#o.log.debug("hbone connection error", fields);
      else this.#o.log.warn("hbone connection closed", fields);
    });
    // Control frames are rare on a healthy connection; counting them costs nothing per byte.
    const onControlFrame = () => this.#onControlFrame(session, state);
    session.on("ping", onControlFrame);
    session.on("remoteSettings", onControlFrame);
    if (this.#draining) session.goaway();
  }

  #onStream(stream: http2.ServerHttp2Stream, headers: http2.IncomingHttpHeaders): void {
    stream.on("error", () => {});
    const session = stream.session;
    const state = session ? this.#sessions.get(session) : undefined;
    if (!session || !state || state.abuse || session.destroyed) {
      stream.close(http2.constants.NGHTTP2_REFUSED_STREAM);
      return;
    }
    if (state.firstRequest) {
      clearTimeout(state.firstRequest);
      state.firstRequest = undefined;
    }
    state.streams++;
    let answered = false;
    const opened = Date.now();
    stream.once("close", () => {
      // Cancelled by the peer before we answered, right after opening it: an upstream connect for
      // nothing, and a slot in maxStreamsPerConnection given back at once (rapid reset).
      if (!answered && stream.aborted && !session.destroyed && Date.now() - opened < this.#limits.earlyResetMs) this.#onEarlyReset(session, state);
      if (--state.streams > 0) return;
      if (this.#draining) session.close();
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
      respondAndClose(stream, hboneStatusFor(e.code));
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
        if (stream.destroyed || stream.closed) return closedStandIn();
        try {
          stream.respond({ ":status": 200 });
        } catch {
          stream.destroy();
          return closedStandIn();
        }
        return stream;
      },
      refuse: (error) => {
        if (answered) return;
        answered = true;
        respondAndClose(stream, hboneStatusFor(error.code));
      },
      onClose: (listener) => {
        if (stream.closed || stream.destroyed) listener();
        else stream.once("close", listener);
      },
    });
  }

  #onEarlyReset(session: http2.Http2Session, state: SessionState): void {
    this.#rollWindow(state);
    if (++state.earlyResets <= this.#limits.maxEarlyResets) return;
    this.#closeForAbuse(session, state, `peer reset more than ${this.#limits.maxEarlyResets} streams right after opening them within ${this.#limits.abuseWindowMs} ms (HTTP/2 rapid reset)`);
  }

  #onControlFrame(session: http2.Http2Session, state: SessionState): void {
    this.#rollWindow(state);
    if (++state.controlFrames <= this.#limits.maxControlFrames) return;
    this.#closeForAbuse(session, state, `peer sent more than ${this.#limits.maxControlFrames} SETTINGS/PING frames within ${this.#limits.abuseWindowMs} ms`);
  }

  #rollWindow(state: SessionState): void {
    const now = Date.now();
    if (now - state.windowStart < this.#limits.abuseWindowMs) return;
    state.windowStart = now;
    state.earlyResets = 0;
    state.controlFrames = 0;
  }

  #closeForAbuse(session: http2.Http2Session, state: SessionState, reason: string): void {
    if (state.abuse || session.destroyed) return;
    state.abuse = reason;
    this.#o.log.warn("hbone connection closed", { src: formatEndpoint(state.facts.peer), "src.identity": state.facts.peerIdentity, error: reason });
    session.destroy(new Error(reason), http2.constants.NGHTTP2_ENHANCE_YOUR_CALM);
  }

  #onIdle(session: http2.Http2Session, state: SessionState): void {
    if (state.streams > 0 || session.closed || session.destroyed) return;
    this.#o.log.debug("hbone connection idle, closing", { src: formatEndpoint(state.facts.peer), "src.identity": state.facts.peerIdentity, idleMs: this.#limits.idleTimeoutMs });
    session.close();
    // close() waits for the peer's acknowledgements; a peer that sends none is cut off.
    setTimeout(() => session.destroy(), Math.min(this.#limits.handshakeTimeoutMs, 5000)).unref?.();
  }

  /** Stop taking streams, let open ones finish until `deadlineMs`, then close everything. */
  async drain(deadlineMs: number): Promise<void> {
    this.#draining = true;
    for (const s of this.#sessions.keys()) if (!s.closed) s.goaway();
    for (const [s, st] of this.#sessions) if (st.streams === 0) s.close();
    const until = Date.now() + deadlineMs;
    while (this.#sockets.size > 0 && Date.now() < until) {
      for (const [s, st] of this.#sessions) if (st.streams === 0 && !s.closed) s.close();
      await new Promise((r) => setTimeout(r, 50));
    }
    for (const s of this.#sessions.keys()) s.destroy();
    for (const s of this.#sockets) s.destroy();
  }
}

/** What `accept()` returns for a stream the peer already reset: it closes on the next tick. */
function closedStandIn(): Duplex {
  const stand = new PassThrough();
  stand.destroy();
  return stand;
}

function respondAndClose(stream: http2.ServerHttp2Stream, status: number): void {
  if (stream.destroyed || stream.closed) return;
  stream.respond({ ":status": status }, { endStream: true });
  stream.resume();
}
