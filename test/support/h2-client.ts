/**
 * Clients for HTTP/2 tests through the mesh: an h2c request over a SOCKS5 connection from a
 * workload (node:http2 with the socket handed over), and grpc-js unary calls through a local
 * SOCKS5 forwarder (grpc-js dials addresses, not sockets) on a generic string service.
 */
import * as grpc from "@grpc/grpc-js";
import http2 from "node:http2";
import { socksConnect, socksForwarder, type SocksRoute } from "./socks-connect.ts";

export interface H2Answer {
  readonly headers: http2.IncomingHttpHeaders;
  readonly trailers: http2.IncomingHttpHeaders | undefined;
  readonly body: string;
}

export interface H2Request {
  readonly path: string;
  readonly method?: string;
  readonly headers?: Record<string, string>;
  readonly body?: string;
  readonly trailers?: Record<string, string>;
}

/** Send one request on an open session and read its whole answer. */
export function h2send(session: http2.ClientHttp2Session, request: H2Request): Promise<H2Answer> {
  return new Promise<H2Answer>((resolve, reject) => {
    const announce = request.trailers ? { trailer: Object.keys(request.trailers).join(", ") } : {};
    const req = session.request({ ":method": request.method ?? "GET", ":path": request.path, ...request.headers, ...announce }, request.trailers ? { waitForTrailers: true } : { endStream: request.body === undefined });
    if (request.trailers) req.on("wantTrailers", () => req.sendTrailers(request.trailers as Record<string, string>));
    let headers: http2.IncomingHttpHeaders = {};
    let trailers: http2.IncomingHttpHeaders | undefined;
    let body = "";
    req.on("response", (h) => (headers = h));
    req.on("trailers", (t) => (trailers = t));
    req.on("data", (c: Buffer) => (body += c.toString()));
    req.on("end", () => resolve({ headers, trailers, body }));
    req.on("error", reject);
    if (request.body !== undefined) req.end(request.body);
  });
}

/** An h2c session through the mesh: a SOCKS5 connection from the route's workload, handed to http2.connect. */
export async function h2session(route: SocksRoute): Promise<http2.ClientHttp2Session> {
  const socket = await socksConnect(route);
  const session = http2.connect(`http://${route.host}:${route.port}`, { createConnection: () => socket });
  session.on("error", () => {});
  return session;
}

/** One h2c request through the mesh on its own connection. */
export async function h2request(route: SocksRoute, request: H2Request): Promise<H2Answer> {
  const session = await h2session(route);
  try {
    return await h2send(session, request);
  } finally {
    session.destroy();
  }
}

const strings = { requestSerialize: (s: string) => Buffer.from(s), requestDeserialize: (b: Buffer) => b.toString(), responseSerialize: (s: string) => Buffer.from(s), responseDeserialize: (b: Buffer) => b.toString() };

/** A unary gRPC service of strings: `/<service>/<method>` for each method. */
export function stringService(service: string, methods: readonly string[]): grpc.ServiceDefinition {
  return Object.fromEntries(methods.map((m) => [m, { path: `/${service}/${m}`, requestStream: false, responseStream: false, ...strings }]));
}

export interface GrpcOutcome {
  readonly value: string | undefined;
  readonly status: grpc.StatusObject;
}

export type UnaryCall = (method: string, request: string, metadata?: Record<string, string>) => Promise<GrpcOutcome>;

/** A grpc-js client of a string service through a local SOCKS5 forwarder; close() ends both. */
export async function grpcClient(route: SocksRoute, definition: grpc.ServiceDefinition): Promise<{ call: UnaryCall; close(): Promise<void> }> {
  const forwarder = await socksForwarder(route);
  const Client = grpc.makeGenericClientConstructor(definition, "Client");
  const client = new Client(forwarder.address, grpc.credentials.createInsecure());
  const methods = client as unknown as Record<string, (r: string, m: grpc.Metadata, o: grpc.CallOptions, cb: (e: grpc.ServiceError | null, v?: string) => void) => grpc.ClientUnaryCall>;
  const call: UnaryCall = (method, request, metadata = {}) =>
    new Promise<GrpcOutcome>((resolve) => {
      let value: string | undefined;
      const md = new grpc.Metadata();
      for (const [k, v] of Object.entries(metadata)) md.set(k, v);
      const c = methods[method]?.(request, md, { deadline: Date.now() + 10_000 }, (_e, v) => (value = v));
      c?.on("status", (status: grpc.StatusObject) => setImmediate(() => resolve({ value, status })));
    });
  return {
    call,
    close: async () => {
      client.close();
      await forwarder.close();
    },
  };
}
