/**
 * Enforces ConnectionLimits on the xDS/CA listener's sockets. Every accepted socket starts
 * unauthenticated, counted against its source's and the total cap, with deadlines for the TLS
 * handshake and for its first authenticated request. The first authenticated request moves it
 * out of the caps; from then on it is closed after `idleMs` without an authenticated stream open.
 * Sockets are known by remote address and port, the one key both a raw socket and the TLS socket
 * or HTTP/2 session over it report on every runtime. A connection is cut with a TCP reset
 * (resetAndDestroy) and its HTTP/2 session destroyed: on Bun, neither destroying the accepted TLS
 * socket nor its session closes a connection that completed a handshake but sent no HTTP/2 preface.
 *
 * Invariants: a socket is in `#unauthenticated` (and its source's set) iff it is open and has
 * never carried an authenticated request; each connection has at most one timer armed.
 */
import type { Socket } from "node:net";
import type { Logger } from "../../telemetry/log.ts";
import { admitConnection, sourceOf, type ConnectionLimits } from "./connection-limits.ts";

interface Connection {
  readonly key: string;
  readonly source: string;
  readonly socket: Socket;
  authenticated: boolean;
  streams: number;
  timer?: ReturnType<typeof setTimeout>;
  /** Closes gracefully (HTTP/2 GOAWAY) once known; else the socket is destroyed. */
  closeGracefully?: () => void;
}

export interface ConnectionGuardStats {
  readonly open: number;
  readonly unauthenticated: number;
  readonly refused: number;
  readonly evicted: number;
  readonly timedOut: number;
}

const keyOf = (socket: { remoteAddress?: string | undefined; remotePort?: number | undefined }) => `${socket.remoteAddress ?? ""}|${socket.remotePort ?? 0}`;

export class ConnectionGuard {
  readonly #limits: ConnectionLimits;
  readonly #log: Logger;
  readonly #all = new Map<string, Connection>();
  /** Unauthenticated connections by source, oldest first. */
  readonly #unauthenticated = new Map<string, Set<Connection>>();
  /** How to destroy the HTTP/2 session over a connection, by key (a session may be reported before its socket). */
  readonly #sessions = new Map<string, () => void>();
  #unauthenticatedCount = 0;
  #refused = 0;
  #evicted = 0;
  #timedOut = 0;
  #lastWarning = 0;

  constructor(limits: ConnectionLimits, log: Logger) {
    this.#limits = limits;
    this.#log = log;
  }

  get stats(): ConnectionGuardStats {
    return { open: this.#all.size, unauthenticated: this.#unauthenticatedCount, refused: this.#refused, evicted: this.#evicted, timedOut: this.#timedOut };
  }

  /** A socket was accepted (before any TLS handshake). */
  accept(socket: Socket, tls: boolean): void {
    const source = sourceOf(socket.remoteAddress ?? "");
    const counts = new Map([...this.#unauthenticated].map(([s, set]) => [s, set.size]));
    const admission = admitConnection(source, counts, this.#unauthenticatedCount, this.#limits);
    if (admission.kind === "refuse") {
      this.#refused++;
      this.#warn("refused a connection: too many unauthenticated connections", source);
      socket.destroy();
      return;
    }
    if (admission.kind === "evict") {
      const victim = this.#unauthenticated.get(admission.source)?.values().next().value;
      if (victim) {
        this.#evicted++;
        this.#warn("closed the oldest unauthenticated connection to make room", victim.source);
        this.#drop(victim);
        this.#destroy(victim);
      }
    }
    const conn: Connection = { key: keyOf(socket), source, socket, authenticated: false, streams: 0 };
    this.#all.set(conn.key, conn);
    let set = this.#unauthenticated.get(source);
    if (!set) this.#unauthenticated.set(source, (set = new Set()));
    set.add(conn);
    this.#unauthenticatedCount++;
    socket.once("close", () => this.#drop(conn));
    if (tls) {
      this.#arm(conn, this.#limits.handshakeMs, "TLS handshake");
    } else {
      this.#arm(conn, this.#limits.firstRequestMs, "first authenticated request");
    }
  }

  /** An HTTP/2 session runs over this socket; `destroy` ends it. Returns the unregistration. */
  session(socket: { remoteAddress?: string | undefined; remotePort?: number | undefined }, destroy: () => void): () => void {
    const key = keyOf(socket);
    this.#sessions.set(key, destroy);
    return () => {
      if (this.#sessions.get(key) === destroy) this.#sessions.delete(key);
    };
  }

  /** The TLS handshake of this socket finished: it now has until the first-request deadline. */
  handshakeDone(socket: Socket): void {
    const conn = this.#all.get(keyOf(socket));
    if (conn && !conn.authenticated) this.#arm(conn, this.#limits.firstRequestMs, "first authenticated request");
  }

  /**
   * A request on this socket authenticated: the connection leaves the unauthenticated caps and
   * stays while it has an authenticated stream open. Returns the stream's release.
   */
  authenticated(socket: { remoteAddress?: string | undefined; remotePort?: number | undefined }, closeGracefully: () => void): () => void {
    const conn = this.#all.get(keyOf(socket));
    if (!conn) return () => {};
    if (!conn.authenticated) {
      conn.authenticated = true;
      this.#leaveUnauthenticated(conn);
    }
    conn.closeGracefully = closeGracefully;
    conn.streams++;
    this.#disarm(conn);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      conn.streams--;
      if (conn.streams === 0 && this.#all.get(conn.key) === conn) this.#arm(conn, this.#limits.idleMs, "idle");
    };
  }

  /** Forget every connection (the listener closes them). */
  close(): void {
    for (const conn of this.#all.values()) this.#disarm(conn);
  }

  #arm(conn: Connection, ms: number, what: string): void {
    this.#disarm(conn);
    conn.timer = setTimeout(() => {
      conn.timer = undefined;
      this.#timedOut++;
      this.#log.debug("closing a connection past its deadline", { deadline: what, src: conn.source });
      if (conn.authenticated && conn.closeGracefully) conn.closeGracefully();
      else this.#destroy(conn);
    }, ms);
    conn.timer.unref?.();
  }

  #destroy(conn: Connection): void {
    this.#sessions.get(conn.key)?.();
    conn.socket.resetAndDestroy();
  }

  #disarm(conn: Connection): void {
    if (conn.timer) clearTimeout(conn.timer);
    conn.timer = undefined;
  }

  #leaveUnauthenticated(conn: Connection): void {
    const set = this.#unauthenticated.get(conn.source);
    if (!set?.delete(conn)) return;
    this.#unauthenticatedCount--;
    if (set.size === 0) this.#unauthenticated.delete(conn.source);
  }

  #drop(conn: Connection): void {
    this.#disarm(conn);
    this.#leaveUnauthenticated(conn);
    if (this.#all.get(conn.key) === conn) this.#all.delete(conn.key);
  }

  /** At most one warning a second: a flood must not become a log flood. */
  #warn(msg: string, source: string): void {
    const now = Date.now();
    if (now - this.#lastWarning < 1000) return;
    this.#lastWarning = now;
    this.#log.warn(msg, { src: source, ...this.stats, limits: this.#limits });
  }
}
