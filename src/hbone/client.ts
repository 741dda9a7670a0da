/**
 * The client half of HBONE: a pool of mutual-TLS HTTP/2 connections (the lean HTTP/2 layer in
 * h2/) carrying CONNECT streams.
 *
 * Invariants:
 * - One connection serves one (source identity + its certificate version, expected peer identity,
 *   HBONE address) key; a rotated certificate or trust bundle therefore starts new connections
 *   and the old ones finish their streams and idle out.
 * - A connection carries at most `maxStreamsPerConnection` streams (counting streams still being
 *   opened); the next stream opens another connection.
 * - The server must prove the expected SPIFFE identity (its certificate's URI SAN, chained to the
 *   trusted roots); otherwise the handshake fails and no byte of the tunnel is sent.
 * - A connection leaves the pool on GOAWAY, error or close; one without streams for
 *   `idleTimeoutMs` is closed.
 */
import type { Duplex } from "node:stream";
import tls from "node:tls";
import { MeshError } from "../errors/mesh-error.ts";
import { errorCodeForHboneStatus } from "../errors/hbone-status.ts";
import type { Logger } from "../telemetry/log.ts";
import { H2ClientConnection, H2Code, H2Error } from "./h2/index.ts";
import { formatEndpoint, type Endpoint } from "../net/endpoint.ts";
import { connectHeaders, type ConnectRequestInput } from "./headers.ts";
import { DEFAULT_HBONE_LIMITS, type HboneLimits } from "./limits.ts";
import { peerSpiffeId } from "../identity/peer-spiffe-id.ts";

/** What the client presents: the source workload's certificate and the roots it trusts. */
export interface ClientCredentials {
  readonly spiffeId: string;
  /** Changes whenever the certificate or the roots change (e.g. serial + bundle generation). */
  readonly version: string;
  readonly chain: readonly string[];
  readonly keyPem: string;
  readonly roots: readonly string[];
}

export interface TunnelRequest {
  /** The HBONE listener to connect to (a ztunnel's or waypoint's 15008). */
  readonly hbone: Endpoint;
  /** The identity the server must prove. */
  readonly expectedIdentity: string;
  readonly connect: ConnectRequestInput;
}

interface PooledConnection {
  readonly key: string;
  readonly session: H2ClientConnection;
  streams: number;
  idleTimer?: ReturnType<typeof setTimeout>;
  usable: boolean;
}

export interface HbonePoolOptions {
  readonly log: Logger;
  readonly limits?: Partial<HboneLimits>;
  /** Connect (TCP + TLS) and first response deadline. */
  readonly connectTimeoutMs?: number;
}

export class HbonePool {
  readonly #o: HbonePoolOptions;
  readonly #limits: HboneLimits;
  readonly #byKey = new Map<string, PooledConnection[]>();
  readonly #contexts = new Map<string, tls.SecureContext>();
  #closed = false;

  constructor(options: HbonePoolOptions) {
    this.#o = options;
    this.#limits = { ...DEFAULT_HBONE_LIMITS, ...options.limits };
  }

  stats(): { connections: number; streams: number } {
    let connections = 0;
    let streams = 0;
    for (const list of this.#byKey.values())
      for (const c of list) {
        connections++;
        streams += c.streams;
      }
    return { connections, streams };
  }

  /** Open a tunnel; resolves with the stream once the server answered 200. */
  async open(credentials: ClientCredentials, request: TunnelRequest): Promise<Duplex> {
    if (this.#closed) throw new MeshError("unavailable", "HBONE pool is closed");
    const conn = this.#connection(credentials, request);
    conn.streams++;
    if (conn.idleTimer) clearTimeout(conn.idleTimer);
    conn.idleTimer = undefined;
    const timeoutMs = this.#o.connectTimeoutMs ?? this.#limits.handshakeTimeoutMs;
    const deadline = AbortSignal.timeout(timeoutMs);
    let response;
    try {
      response = await conn.session.request(connectHeaders(request.connect), { signal: deadline });
    } catch (err) {
      this.#release(conn);
      if (deadline.aborted) throw new MeshError("deadline_exceeded", `HBONE to ${formatEndpoint(request.hbone)} not answered within ${timeoutMs} ms`);
      if (err instanceof H2Error && err.h2Code === H2Code.REFUSED_STREAM) this.#retire(conn); // full or going away: the next open dials anew
      throw new MeshError(MeshError.from(err).code === "permission_denied" ? "permission_denied" : "unavailable", `HBONE to ${formatEndpoint(request.hbone)}: ${(err as Error).message}`, { cause: err });
    }
    const { status, stream } = response;
    stream.once("close", () => this.#release(conn));
    if (status !== 200) {
      stream.destroy();
      throw new MeshError(errorCodeForHboneStatus(status), `HBONE ${status} from ${formatEndpoint(request.hbone)} (${request.expectedIdentity})`, { detail: { status } });
    }
    return stream;
  }

  #connection(credentials: ClientCredentials, request: TunnelRequest): PooledConnection {
    const key = `${credentials.spiffeId}|${credentials.version}|${request.expectedIdentity}|${formatEndpoint(request.hbone)}`;
    const list = this.#byKey.get(key) ?? [];
    const found = list.find((c) => c.usable && c.streams < this.#limits.maxStreamsPerConnection);
    if (found) return found;
    const conn = this.#dial(key, credentials, request);
    list.push(conn);
    this.#byKey.set(key, list);
    return conn;
  }

  #context(credentials: ClientCredentials): tls.SecureContext {
    const key = `${credentials.spiffeId}|${credentials.version}`;
    let ctx = this.#contexts.get(key);
    if (!ctx) {
      // One context per credential version; older versions go with their connections.
      for (const k of this.#contexts.keys()) if (k.startsWith(`${credentials.spiffeId}|`)) this.#contexts.delete(k);
      ctx = tls.createSecureContext({ cert: credentials.chain.join("\n"), key: credentials.keyPem, ca: [...credentials.roots], minVersion: "TLSv1.3" });
      this.#contexts.set(key, ctx);
    }
    return ctx;
  }

  #dial(key: string, credentials: ClientCredentials, request: TunnelRequest): PooledConnection {
    const { hbone, expectedIdentity } = request;
    const socket = tls.connect({
      host: hbone.address,
      port: hbone.port,
      secureContext: this.#context(credentials),
      ALPNProtocols: ["h2"],
      minVersion: "TLSv1.3",
      rejectUnauthorized: true,
      // Nagle off: a tunnel carries other programs' request/response exchanges, which must not wait for delayed ACKs.
      noDelay: true,
      checkServerIdentity: (_host: string, cert: tls.PeerCertificate) => {
        const got = peerSpiffeId(cert);
        return got === expectedIdentity ? undefined : new MeshError("permission_denied", `peer at ${formatEndpoint(hbone)} is ${got ?? "no SPIFFE identity"}, expected ${expectedIdentity}`);
      },
    });
    // A failed handshake (wrong identity, untrusted CA, expired certificate) fails every stream waiting on it.
    socket.once("error", (err: Error) => {
      this.#o.log.debug("hbone connection error", { dst: formatEndpoint(hbone), error: err.message });
      session.destroy(err instanceof MeshError ? err : MeshError.from(err, "unavailable"));
    });
    const session = new H2ClientConnection(socket, { initialWindowSize: this.#limits.streamWindow, maxHeaderListSize: this.#limits.maxHeaderListSize });
    const conn: PooledConnection = { key, session, streams: 0, usable: true };
    session.once("goaway", () => this.#retire(conn));
    session.once("close", () => {
      this.#retire(conn);
      if (conn.idleTimer) clearTimeout(conn.idleTimer);
    });
    return conn;
  }

  /** Take a connection out of the pool (its open streams finish; no new ones go to it). */
  #retire(conn: PooledConnection): void {
    conn.usable = false;
    const list = this.#byKey.get(conn.key);
    if (!list) return;
    const rest = list.filter((c) => c !== conn);
    if (rest.length > 0) this.#byKey.set(conn.key, rest);
    else this.#byKey.delete(conn.key);
  }

  #release(conn: PooledConnection): void {
    conn.streams--;
    if (conn.streams > 0) return;
    if (!conn.usable) {
      conn.session.close();
      return;
    }
    conn.idleTimer = setTimeout(() => {
      if (conn.streams > 0) return;
      this.#retire(conn);
      conn.session.close();
    }, this.#limits.idleTimeoutMs);
    conn.idleTimer.unref?.();
  }

  /** Close every connection now (open tunnels are cut). */
  close(): void {
    this.#closed = true;
    for (const list of this.#byKey.values()) for (const c of list) c.session.destroy();
    this.#byKey.clear();
  }
}
