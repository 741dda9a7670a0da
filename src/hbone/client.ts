/**
 * The client half of HBONE: a pool of mutual-TLS HTTP/2 connections carrying CONNECT streams.
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
import http2 from "node:http2";
import tls from "node:tls";
import { MeshError } from "../errors/mesh-error.ts";
import { errorCodeForHboneStatus } from "../errors/hbone-status.ts";
import type { Logger } from "../telemetry/log.ts";
import { connectHeaders, formatEndpoint, type ConnectRequestInput, type Endpoint } from "./headers.ts";
import { DEFAULT_HBONE_LIMITS, type HboneLimits } from "./limits.ts";
import { peerSpiffeId } from "./peer.ts";

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
  readonly session: http2.ClientHttp2Session;
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
  open(credentials: ClientCredentials, request: TunnelRequest): Promise<http2.ClientHttp2Stream> {
    if (this.#closed) return Promise.reject(new MeshError("unavailable", "HBONE pool is closed"));
    const conn = this.#connection(credentials, request);
    conn.streams++;
    if (conn.idleTimer) clearTimeout(conn.idleTimer);
    conn.idleTimer = undefined;
    const timeoutMs = this.#o.connectTimeoutMs ?? this.#limits.handshakeTimeoutMs;
    return new Promise<http2.ClientHttp2Stream>((resolve, reject) => {
      let stream: http2.ClientHttp2Stream;
      try {
        stream = conn.session.request(connectHeaders(request.connect), { endStream: false });
      } catch (err) {
        this.#release(conn);
        reject(MeshError.from(err, "unavailable"));
        return;
      }
      let settled = false;
      const settle = (err?: MeshError) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        if (err) {
          stream.close(http2.constants.NGHTTP2_CANCEL);
          reject(err);
        } else resolve(stream);
      };
      const timer = setTimeout(() => settle(new MeshError("deadline_exceeded", `HBONE to ${formatEndpoint(request.hbone)} not answered within ${timeoutMs} ms`)), timeoutMs);
      stream.once("close", () => {
        this.#release(conn);
        settle(new MeshError("unavailable", `HBONE stream to ${formatEndpoint(request.hbone)} closed before an answer`));
      });
      stream.on("error", (err) => settle(MeshError.from(err, "unavailable")));
      stream.once("response", (headers) => {
        const status = Number(headers[":status"]);
        if (status === 200) settle();
        else settle(new MeshError(errorCodeForHboneStatus(status), `HBONE ${status} from ${formatEndpoint(request.hbone)} (${request.expectedIdentity})`, { detail: { status } }));
      });
    });
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
    const secureContext = this.#context(credentials);
    const session = http2.connect(`https://${formatEndpoint(hbone)}`, {
      // Nagle off: a tunnel carries other programs' request/response exchanges, which must not wait for delayed ACKs.
      createConnection: () =>
        tls.connect({
          noDelay: true,
          host: hbone.address,
          port: hbone.port,
          secureContext,
          ALPNProtocols: ["h2"],
          minVersion: "TLSv1.3",
          rejectUnauthorized: true,
          checkServerIdentity: (_host: string, cert: tls.PeerCertificate) => {
            const got = peerSpiffeId(cert);
            return got === expectedIdentity ? undefined : new MeshError("permission_denied", `peer at ${formatEndpoint(hbone)} is ${got ?? "no SPIFFE identity"}, expected ${expectedIdentity}`);
          },
        }),
      settings: { enablePush: false, initialWindowSize: this.#limits.streamWindow, maxHeaderListSize: this.#limits.maxHeaderListSize },
    });
    const conn: PooledConnection = { key, session, streams: 0, usable: true };
    const retire = () => {
      if (!conn.usable) return;
      conn.usable = false;
      const list = this.#byKey.get(key);
      if (list) {
        const rest = list.filter((c) => c !== conn);
        if (rest.length > 0) this.#byKey.set(key, rest);
        else this.#byKey.delete(key);
      }
    };
    session.on("error", (err) => {
      this.#o.log.debug("hbone connection error", { dst: formatEndpoint(hbone), error: err.message });
      retire();
    });
    session.once("goaway", retire);
    session.once("close", () => {
      retire();
      if (conn.idleTimer) clearTimeout(conn.idleTimer);
    });
    return conn;
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
      conn.usable = false;
      const list = this.#byKey.get(conn.key)?.filter((c) => c !== conn);
      if (list && list.length > 0) this.#byKey.set(conn.key, list);
      else this.#byKey.delete(conn.key);
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
