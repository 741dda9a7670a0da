/**
 * Both HTTP/2 implementations behind one small interface, for the interop tests and the
 * throughput bench: a server (lean `H2ServerConnection`, or node:http2 fed TLS sockets the way
 * src/hbone/server.ts does) and a client (lean `H2ClientConnection`, or `http2.connect` with
 * `createConnection: tls.connect` the way src/hbone/client.ts does), all over mutual TLS 1.3 with
 * ALPN h2 on 127.0.0.1.
 *
 * The test server's behaviour is chosen by the CONNECT :authority port, so one server serves
 * every case: port 400/401/503 → that status with END_STREAM (a refusal); port 9 → 200, and
 * everything read is discarded (a sink, for uploads); port 19 → 200, then `x-bytes` octets are
 * sent and the stream ends (a source, for downloads); any other port → 200 and an echo (what is
 * read is written back; the client's END_STREAM is echoed as ours, a half-close).
 */
import http2 from "node:http2";
import type net from "node:net";
import tls from "node:tls";
import type { Duplex } from "node:stream";
import { H2ClientConnection, H2ServerConnection, type H2Options } from "./connection.ts";
import type { H2Headers } from "./stream.ts";

export type Impl = "lean" | "node";

export interface TlsMaterial {
  readonly serverCert: string;
  readonly serverKey: string;
  readonly clientCert: string;
  readonly clientKey: string;
  readonly ca: readonly string[];
}

export interface TestServer {
  readonly port: number;
  /** Lean server connections accepted so far (for white-box checks). */
  readonly leanConnections: H2ServerConnection[];
  close(): Promise<void>;
}

export const REFUSAL_PORTS = new Set([400, 401, 503]);
export const SINK_PORT = 9;
export const SOURCE_PORT = 19;

/** One buffer reused for every source write (no per-write allocation). */
const SOURCE_CHUNK = Buffer.alloc(256 * 1024, 0x5a);

function portOf(authority: string | string[] | undefined): number {
  const a = Array.isArray(authority) ? authority[0] : authority;
  return Number(a?.slice(a.lastIndexOf(":") + 1) ?? 0);
}

/** Write `total` octets of SOURCE_CHUNK to `out`, respecting backpressure, then end it. */
export function source(out: Duplex, total: number): void {
  let left = total;
  const pump = () => {
    while (left > 0) {
      const n = Math.min(left, SOURCE_CHUNK.length);
      left -= n;
      const ok = out.write(n === SOURCE_CHUNK.length ? SOURCE_CHUNK : SOURCE_CHUNK.subarray(0, n));
      if (left === 0) {
        out.end();
        return;
      }
      if (!ok) {
        out.once("drain", pump);
        return;
      }
    }
    out.end();
  };
  pump();
}

function serve(port: number, headers: H2Headers | http2.IncomingHttpHeaders, stream: Duplex, respond: (status: number, endStream: boolean) => void): void {
  if (REFUSAL_PORTS.has(port)) {
    respond(port, true);
    return;
  }
  respond(200, false);
  if (port === SINK_PORT) {
    stream.resume();
    stream.once("end", () => stream.end());
  } else if (port === SOURCE_PORT) {
    stream.resume();
    source(stream, Number(headers["x-bytes"] ?? 0));
  } else stream.pipe(stream);
}

export function serverTlsOptions(m: TlsMaterial): tls.TlsOptions {
  return { key: m.serverKey, cert: m.serverCert, ca: [...m.ca], requestCert: true, rejectUnauthorized: true, ALPNProtocols: ["h2"], minVersion: "TLSv1.3" };
}

export async function startServer(impl: Impl, m: TlsMaterial, options: Partial<H2Options> = {}): Promise<TestServer> {
  const leanConnections: H2ServerConnection[] = [];
  const sockets = new Set<net.Socket>();
  let onSecure: (socket: tls.TLSSocket) => void;
  if (impl === "lean") {
    onSecure = (socket) => {
      const conn = new H2ServerConnection(socket, {
        ...options,
        onStream: (headers, stream, respond) => serve(portOf(headers[":authority"]), headers, stream, (status, end) => respond(status, end)),
      });
      leanConnections.push(conn);
    };
  } else {
    const h2 = http2.createServer({
      settings: { enablePush: false, initialWindowSize: options.initialWindowSize ?? 4 * 1024 * 1024, maxConcurrentStreams: options.maxConcurrentStreams ?? 100 },
    });
    h2.on("stream", (stream, headers) => {
      stream.on("error", () => {});
      serve(portOf(headers[":authority"]), headers, stream, (status, endStream) => {
        stream.respond({ ":status": status }, { endStream });
        if (endStream) stream.resume();
      });
    });
    onSecure = (socket) => h2.emit("connection", socket);
  }
  const server = tls.createServer(serverTlsOptions(m), (socket) => {
    socket.on("error", () => {});
    onSecure(socket);
  });
  server.on("connection", (s: net.Socket) => {
    sockets.add(s);
    s.once("close", () => sockets.delete(s));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    port: (server.address() as net.AddressInfo).port,
    leanConnections,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

export function clientTls(m: TlsMaterial, port: number): tls.TLSSocket {
  return tls.connect({ host: "127.0.0.1", port, key: m.clientKey, cert: m.clientCert, ca: [...m.ca], ALPNProtocols: ["h2"], minVersion: "TLSv1.3", checkServerIdentity: () => undefined });
}

/** A client of either kind with one operation: open a CONNECT tunnel. */
export interface TestClient {
  open(authority: string, extra?: Record<string, string>): Promise<{ status: number; stream: Duplex }>;
  close(): void;
}

export function connectClient(impl: Impl, m: TlsMaterial, port: number, options: Partial<H2Options> = {}): TestClient {
  if (impl === "lean") {
    const conn = new H2ClientConnection(clientTls(m, port), options);
    return {
      open: async (authority, extra = {}) => {
        const r = await conn.request({ ":method": "CONNECT", ":authority": authority, ...extra });
        return { status: r.status, stream: r.stream };
      },
      close: () => conn.destroy(),
    };
  }
  const session = http2.connect(`https://127.0.0.1:${port}`, {
    createConnection: () => clientTls(m, port),
    settings: { enablePush: false, initialWindowSize: options.initialWindowSize ?? 4 * 1024 * 1024 },
  });
  session.on("error", () => {});
  return {
    open: (authority, extra = {}) =>
      new Promise((resolve, reject) => {
        const stream = session.request({ ":method": "CONNECT", ":authority": authority, ...extra }, { endStream: false });
        stream.on("error", reject);
        stream.once("response", (h) => resolve({ status: Number(h[":status"]), stream }));
      }),
    close: () => session.destroy(),
  };
}
