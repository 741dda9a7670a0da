/**
 * The xDS and CA listener: HTTP/2 (TLS when a certificate is configured, h2c otherwise) serving the
 * ADS through connect-node for the gRPC and Connect protocols, so Envoy-style gRPC clients and
 * Connect clients both work. close() stops accepting and ends open streams.
 *
 * Every request is authenticated from its headers and its connection's verified client
 * certificate before connect-node reads a byte of its body (authenticate.ts); a refused request
 * is answered and reset unread (refuse-request.ts), so an unauthenticated client can make the
 * control plane hold at most one HTTP/2 flow-control window per stream. Handlers receive the
 * result as PROXY_PRINCIPAL. Connections are bounded by a ConnectionGuard: handshake and
 * first-request deadlines, an idle timeout, and caps on unauthenticated connections.
 */
import http2 from "node:http2";
import type { AddressInfo, Socket } from "node:net";
import type tls from "node:tls";
import { createContextValues, type ConnectRouter } from "@connectrpc/connect";
import { connectNodeAdapter } from "@connectrpc/connect-node";
import { peerUris } from "../../identity/peer-spiffe-id.ts";
import { AggregatedDiscoveryService } from "../../gen/envoy/service/discovery/v3/ads_pb.ts";
import type { SocketAddress } from "../../runtime/port.ts";
import { MeshError } from "../../errors/mesh-error.ts";
import type { Logger } from "../../telemetry/log.ts";
import type { MetricsRegistry } from "../../telemetry/metrics.ts";
import { adsService } from "./ads.ts";
import { NO_PEER_CERTIFICATE, type PeerCertificate, type RequestAuthenticator } from "./authenticate.ts";
import { ConnectionGuard, type ConnectionGuardStats } from "./connection-guard.ts";
import type { ConnectionLimits } from "./connection-limits.ts";
import { PROXY_PRINCIPAL, type ProxyPrincipal } from "./principal.ts";
import type { PushHub } from "./push-hub.ts";
import { refuseRequest } from "./refuse-request.ts";

export interface XdsListenerOptions {
  readonly host: string;
  readonly port: number;
  /** `clientCas`: the roots client certificates must chain to (the trust bundle). */
  readonly tls?: { readonly cert: string; readonly key: string; readonly clientCas?: readonly string[] };
  readonly limits: ConnectionLimits;
}

export interface XdsListener {
  readonly address: SocketAddress;
  /** New roots for client certificates (root rotation); connections made from now on use them. */
  setClientCas(roots: readonly string[]): void;
  /** What the connection guard holds and has turned away. */
  connections(): ConnectionGuardStats;
  close(): Promise<void>;
}

/** How long open connections get to finish after their streams were ended, before they are cut. */
const CLOSE_GRACE_MS = 2000;
/**
 * The largest request message after authentication. A DeltaDiscoveryRequest is small; the largest
 * are a reconnect's initial_resource_versions (tens of thousands of names and versions).
 */
const READ_MAX_BYTES = 4 * 1024 * 1024;
/** HTTP/2 flow-control window per stream: what a client can make us buffer before a handler reads. */
const STREAM_WINDOW_BYTES = 64 * 1024;

/** The verified client certificate's URI SANs and subject CN (a node certificate names its token there; two CNs name none). */
function peerCertificate(cert: tls.PeerCertificate): PeerCertificate {
  const cn: unknown = cert.subject?.CN;
  return { uris: peerUris(cert), commonName: typeof cn === "string" ? cn : undefined };
}

function closeSession(session: http2.Http2Session | undefined): void {
  if (!session || session.destroyed) return;
  session.close();
  setTimeout(() => session.destroy(), CLOSE_GRACE_MS).unref?.();
}

/** `moreRoutes` adds services on the same port (the CA). */
export async function startXdsListener(
  options: XdsListenerOptions,
  hub: PushHub,
  log: Logger,
  authenticate: RequestAuthenticator,
  metrics: MetricsRegistry,
  moreRoutes: (router: ConnectRouter) => void = () => {},
): Promise<XdsListener> {
  const shutdown = new AbortController();
  const refused = metrics.counter("mesh_xds_requests_refused_total", "xDS/CA requests refused before any message was read (authentication), by reason.", ["reason"]);
  const guard = new ConnectionGuard(options.limits, log);
  const principals = new WeakMap<object, ProxyPrincipal>();
  const connectHandler = connectNodeAdapter({
    routes: (router) => {
      router.service(AggregatedDiscoveryService, adsService(hub, log, shutdown.signal));
      moreRoutes(router);
    },
    grpcWeb: false,
    // No compression: xDS runs on fast links, and gzip of a 3 MB initial push per stream cost CPU
    // and a copy per stream (the scale benchmark's memory peak).
    acceptCompression: [],
    readMaxBytes: READ_MAX_BYTES,
    contextValues: (req) => createContextValues().set(PROXY_PRINCIPAL, principals.get(req)),
  });
  const handler = (req: http2.Http2ServerRequest, res: http2.Http2ServerResponse) => {
    const session = req.stream.session;
    const socket = session?.socket as tls.TLSSocket | undefined;
    // Unverified client certificates are let through (the token is the fallback): only a verified one counts.
    const peer = options.tls && socket?.authorized && typeof socket.getPeerCertificate === "function" ? peerCertificate(socket.getPeerCertificate()) : NO_PEER_CERTIFICATE;
    authenticate(req.headers.authorization, peer).then(
      (principal) => {
        if (req.stream.destroyed) return;
        principals.set(req, principal);
        const release = guard.authenticated(socket ?? {}, () => closeSession(session));
        req.stream.once("close", release);
        void connectHandler(req, res);
      },
      (err: unknown) => {
        refused.labels({ reason: MeshError.from(err).code }).inc();
        log.info("xDS/CA request refused", { path: req.url, src: socket?.remoteAddress, error: err });
        refuseRequest(req, res, err);
      },
    );
  };
  const tlsOptions = (roots: readonly string[] | undefined) =>
    options.tls ? { cert: options.tls.cert, key: options.tls.key, minVersion: "TLSv1.3" as const, ...(roots && roots.length > 0 ? { ca: [...roots], requestCert: true, rejectUnauthorized: false } : {}) } : {};
  const settings = { initialWindowSize: STREAM_WINDOW_BYTES };
  const server = options.tls ? http2.createSecureServer({ ...tlsOptions(options.tls.clientCas), allowHTTP1: false, settings }, handler) : http2.createServer({ settings }, handler);
  server.on("connection", (socket: Socket) => guard.accept(socket, options.tls !== undefined));
  server.on("secureConnection", (socket: tls.TLSSocket) => guard.handshakeDone(socket));
  const sessions = new Set<http2.ServerHttp2Session>();
  server.on("session", (s: http2.ServerHttp2Session) => {
    sessions.add(s);
    const forget = guard.session(s.socket, () => s.destroy());
    s.once("close", () => {
      sessions.delete(s);
      forget();
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port, options.host, () => {
      server.off("error", reject);
      resolve();
    });
  });
  const a = server.address() as AddressInfo;
  return {
    address: { family: a.family === "IPv6" ? 6 : 4, address: a.address, port: a.port },
    setClientCas: (roots) => {
      if (!options.tls) return;
      (server as http2.Http2SecureServer).setSecureContext(tlsOptions(roots));
    },
    connections: () => guard.stats,
    close: () =>
      new Promise<void>((resolve) => {
        shutdown.abort(); // every stream ends with status OK
        guard.close();
        server.close(() => resolve());
        for (const s of sessions) s.close();
        setTimeout(() => {
          for (const s of sessions) s.destroy();
        }, CLOSE_GRACE_MS).unref?.();
      }),
  };
}
