/**
 * The xDS and CA listener: HTTP/2 (TLS when a certificate is configured, h2c otherwise) serving the
 * ADS through connect-node for the gRPC and Connect protocols, so Envoy-style gRPC clients and
 * Connect clients both work. close() stops accepting and ends open streams.
 *
 * With TLS, a client may present a certificate: one that chains to the mesh's trust bundle and
 * carries one SPIFFE id becomes the stream's PEER_IDENTITY (handlers authorize with it); anything
 * else — no certificate, an unverified one — leaves it empty, and the handlers ask for a token.
 */
import http2 from "node:http2";
import type { AddressInfo } from "node:net";
import type tls from "node:tls";
import { createContextValues, type ConnectRouter } from "@connectrpc/connect";
import { PEER_IDENTITY } from "./peer-identity.ts";
import { socketPeerSpiffeId } from "../../identity/peer-spiffe-id.ts";
import { connectNodeAdapter } from "@connectrpc/connect-node";
import { AggregatedDiscoveryService } from "../../gen/envoy/service/discovery/v3/ads_pb.ts";
import type { SocketAddress } from "../../runtime/port.ts";
import type { Logger } from "../../telemetry/log.ts";
import { adsService, type ProxyAuthenticator } from "./ads.ts";
import type { PushHub } from "./push-hub.ts";

export interface XdsListenerOptions {
  readonly host: string;
  readonly port: number;
  /** `clientCas`: the roots client certificates must chain to (the trust bundle). */
  readonly tls?: { readonly cert: string; readonly key: string; readonly clientCas?: readonly string[] };
}

export interface XdsListener {
  readonly address: SocketAddress;
  /** New roots for client certificates (root rotation); connections made from now on use them. */
  setClientCas(roots: readonly string[]): void;
  close(): Promise<void>;
}

/** How long open connections get to finish after their streams were ended, before they are cut. */
const CLOSE_GRACE_MS = 2000;

/** `moreRoutes` adds services on the same port (the CA). */
export async function startXdsListener(
  options: XdsListenerOptions,
  hub: PushHub,
  log: Logger,
  authenticate: ProxyAuthenticator,
  moreRoutes: (router: ConnectRouter) => void = () => {},
): Promise<XdsListener> {
  const shutdown = new AbortController();
  const handler = connectNodeAdapter({
    routes: (router) => {
      router.service(AggregatedDiscoveryService, adsService(hub, log, shutdown.signal, authenticate));
      moreRoutes(router);
    },
    grpcWeb: false,
    // No compression: xDS runs on fast links, and gzip of a 3 MB initial push per stream cost CPU
    // and a copy per stream (the scale benchmark's memory peak).
    acceptCompression: [],
    // Large pushes are split below 4 MiB by the session; allow headroom for requests with many versions.
    readMaxBytes: 16 * 1024 * 1024,
    contextValues: (req) => {
      const values = createContextValues();
      const socket = (req as { stream?: { session?: { socket?: tls.TLSSocket } } }).stream?.session?.socket;
      // Unverified client certificates are let through (the token is the fallback): only a verified one counts.
      const id = socket?.authorized && typeof socket.getPeerCertificate === "function" ? socketPeerSpiffeId(socket) : undefined;
      if (id) values.set(PEER_IDENTITY, id);
      return values;
    },
  });
  const tlsOptions = (roots: readonly string[] | undefined) =>
    options.tls ? { cert: options.tls.cert, key: options.tls.key, minVersion: "TLSv1.3" as const, ...(roots && roots.length > 0 ? { ca: [...roots], requestCert: true, rejectUnauthorized: false } : {}) } : {};
  const server = options.tls ? http2.createSecureServer({ ...tlsOptions(options.tls.clientCas), allowHTTP1: false }, handler) : http2.createServer({}, handler);
  const sessions = new Set<http2.ServerHttp2Session>();
  server.on("session", (s: http2.ServerHttp2Session) => {
    sessions.add(s);
    s.once("close", () => sessions.delete(s));
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
    close: () =>
      new Promise<void>((resolve) => {
        shutdown.abort(); // every stream ends with status OK
        server.close(() => resolve());
        for (const s of sessions) s.close();
        setTimeout(() => {
          for (const s of sessions) s.destroy();
        }, CLOSE_GRACE_MS).unref?.();
      }),
  };
}
