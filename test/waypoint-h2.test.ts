/**
 * HTTP/2 and gRPC through the waypoint, in-process on loopback (test/support/waypoint-mesh.ts):
 * sleep → ztunnel node-1 (SOCKS5) → waypoint → ztunnel node-2 → endpoint, with real mTLS.
 * An h2c client reaches a service whose port is `http2` and one whose port is `auto` (sniffed;
 * an HTTP/1.1 client on an `auto` port still gets HTTP/1.1); request and response trailers are
 * carried; a gRPC unary call (grpc-js client and server) carries its trailers and a non-OK status;
 * gRPC calls that cannot reach an endpoint get UNAVAILABLE as Envoy answers them.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import * as grpc from "@grpc/grpc-js";
import http from "node:http";
import http2 from "node:http2";
import { socksGet } from "../src/cli/demo/socks-get.ts";
import { H2_PREFACE } from "../src/waypoint/protocol-sniff.ts";
import { eventually } from "./support/eventually.ts";
import { grpcClient, h2request as h2requestVia, stringService, type GrpcOutcome, type H2Request } from "./support/h2-client.ts";
import { socksConnect } from "./support/socks-connect.ts";
import { startWaypointMesh, type WaypointMesh } from "./support/waypoint-mesh.ts";

const service = (name: string, ip: string, port: string) => `apiVersion: v1
kind: Service
metadata: {name: ${name}, namespace: bookinfo, labels: {istio.io/use-waypoint: waypoint}}
spec: {selector: {app: ${name}}, clusterIP: ${ip}, ports: [${port}]}
`;
const entry = (name: string, app: string, address: string) => `apiVersion: networking.istio.io/v1
kind: WorkloadEntry
metadata: {name: ${name}, namespace: bookinfo}
spec: {address: ${address}, node: node-2, serviceAccount: ${app}, labels: {app: ${app}}}
`;

const MESH = [
  `apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: waypoint, namespace: bookinfo}
spec: {gatewayClassName: istio-waypoint, listeners: [{name: mesh, port: HBONE_PORT, protocol: HBONE}]}
`,
  entry("waypoint-1", "waypoint", "127.0.5.1").replace("labels: {app: waypoint}", "labels: {gateway.networking.k8s.io/gateway-name: waypoint}"),
  service("h2echo", "10.96.0.41", "{name: http2-web, port: 8080}"),
  entry("h2echo-1", "h2echo", "127.0.4.11"),
  service("autoh2", "10.96.0.42", "{name: web, port: 8080}"),
  entry("autoh2-1", "autoh2", "127.0.4.12"),
  service("autoh1", "10.96.0.43", "{name: web, port: 8080}"),
  entry("autoh1-1", "autoh1", "127.0.4.13"),
  service("greeter", "10.96.0.44", "{name: grpc, port: 50051}"),
  entry("greeter-1", "greeter", "127.0.4.14"),
  // An endpoint with nothing listening, and a service with no endpoint at all.
  service("greeter-down", "10.96.0.45", "{name: grpc, port: 50051}"),
  entry("greeter-down-1", "greeter-down", "127.0.4.15"),
  service("greeter-none", "10.96.0.46", "{name: grpc, port: 50051}"),
].join("---\n");

let mesh: WaypointMesh;
const h2Servers: http2.Http2Server[] = [];
let h1Server: http.Server;
let grpcServer: grpc.Server;

/** An h2c echo: answers once the request ended, with what it saw (headers, body, request trailers) and a response trailer. */
function h2echo(name: string, address: string): Promise<http2.Http2Server> {
  const server = http2.createServer();
  server.on("stream", (stream, headers) => {
    let body = "";
    let trailers: http2.IncomingHttpHeaders | undefined;
    stream.on("data", (c: Buffer) => (body += c.toString()));
    stream.on("trailers", (t) => (trailers = t));
    stream.on("end", () => {
      stream.respond({ ":status": 200, "content-type": "application/json", "x-served-by": name, trailer: "x-checksum" }, { waitForTrailers: true });
      stream.on("wantTrailers", () => stream.sendTrailers({ "x-checksum": String(body.length) }));
      stream.end(JSON.stringify({ name, headers, body, trailers: trailers ?? null }));
    });
  });
  return new Promise((resolve) => server.listen(8080, address, () => resolve(server)));
}

/**
 * The waypoint's first SETTINGS frame (RFC 9113 §6.5), read with raw bytes: the client preface
 * and an empty SETTINGS out, the server's first frame in. (Bun's node:http2 client reports
 * defaults in `remoteSettings` on a handed-over socket, so it cannot be asked.)
 */
async function serverSettings(host: string, port: number): Promise<Map<number, number>> {
  const socket = await socksConnect({ from: "127.0.1.10", socks: mesh.socks, host, port });
  try {
    const bytes = await new Promise<Buffer>((resolve, reject) => {
      let got = Buffer.alloc(0);
      socket.on("data", (c: Buffer) => {
        got = Buffer.concat([got, c]);
        if (got.length >= 9 && got.length >= 9 + got.readUIntBE(0, 3)) resolve(got);
      });
      socket.on("error", reject);
      socket.write(Buffer.concat([H2_PREFACE, Buffer.from([0, 0, 0, 0x4, 0, 0, 0, 0, 0])]));
      socket.resume();
    });
    expect(bytes[3]).toBe(0x4);
    const out = new Map<number, number>();
    for (let i = 9; i + 6 <= 9 + bytes.readUIntBE(0, 3); i += 6) out.set(bytes.readUInt16BE(i), bytes.readUInt32BE(i + 2));
    return out;
  } finally {
    socket.destroy();
  }
}

const route = (host: string, port: number) => ({ from: "127.0.1.10", socks: mesh.socks, host, port });
const h2request = (host: string, port: number, request: H2Request) => h2requestVia(route(host, port), { ...request, headers: { "x-test": "h2" } });

const greeterService = stringService("test.Greeter", ["sayHello"]);

/** One unary call on its own client connection. */
async function sayHello(host: string, name: string): Promise<GrpcOutcome> {
  const client = await grpcClient(route(host, 50051), greeterService);
  try {
    return await client.call("sayHello", name);
  } finally {
    await client.close();
  }
}

beforeAll(async () => {
  h2Servers.push(await h2echo("h2echo", "127.0.4.11"), await h2echo("autoh2", "127.0.4.12"));
  h1Server = http.createServer((req, res) => res.end(JSON.stringify({ name: "autoh1", httpVersion: req.httpVersion })));
  await new Promise<void>((r) => h1Server.listen(8080, "127.0.4.13", r));
  grpcServer = new grpc.Server();
  grpcServer.addService(greeterService, {
    sayHello: (call: grpc.ServerUnaryCall<string, string>, callback: grpc.sendUnaryData<string>) => {
      const trailer = new grpc.Metadata();
      trailer.set("x-greeter", "greeter-1");
      if (call.request === "nobody") return callback({ code: grpc.status.FAILED_PRECONDITION, details: "nobody to greet", metadata: trailer });
      callback(null, `hello ${call.request} from ${call.metadata.get("x-forwarded-for")[0] ?? "?"}`, trailer);
    },
  });
  await new Promise<void>((resolve, reject) => grpcServer.bindAsync("127.0.4.14:50051", grpc.ServerCredentials.createInsecure(), (err) => (err ? reject(err) : resolve())));
  mesh = await startWaypointMesh({ yaml: MESH, addresses: { node1: "127.0.0.41", node2: "127.0.0.42", waypointAdmin: "127.0.0.43" } });
}, 60_000);

afterAll(async () => {
  await mesh?.close();
  for (const s of h2Servers) s.close();
  h1Server?.close();
  grpcServer?.forceShutdown();
});

describe("waypoint: HTTP/2 (prior knowledge) inside the tunnel", () => {
  test("an h2c request to an http2 port reaches the endpoint over HTTP/2 with the proxy's headers and both trailers", async () => {
    const got = await h2request("h2echo.bookinfo", 8080, { path: "/echo", method: "POST", body: "ping", trailers: { "x-req-trailer": "sent" } });
    expect(Number(got.headers[":status"])).toBe(200);
    expect(got.headers["x-served-by"]).toBe("h2echo");
    expect(got.trailers?.["x-checksum"]).toBe("4");
    const seen = JSON.parse(got.body);
    expect(seen.body).toBe("ping");
    expect(seen.trailers).toEqual({ "x-req-trailer": "sent" });
    expect(seen.headers[":path"]).toBe("/echo");
    expect(seen.headers["x-test"]).toBe("h2");
    expect(seen.headers["x-forwarded-for"]).toBe("127.0.1.10");
    expect(seen.headers["x-request-id"]).toMatch(/^[0-9a-f-]{36}$/);
    expect(seen.headers.traceparent).toMatch(/^00-[0-9a-f]{32}-[0-9a-f]{16}-01$/);
  });

  test("an auto port is sniffed: h2c with prior knowledge is served as HTTP/2, HTTP/1.1 as HTTP/1.1", async () => {
    const h2 = await h2request("autoh2.bookinfo", 8080, { path: "/sniffed" });
    expect(Number(h2.headers[":status"])).toBe(200);
    expect(JSON.parse(h2.body).name).toBe("autoh2");
    expect(h2.trailers?.["x-checksum"]).toBe("0");
    const h1 = await socksGet({ from: "127.0.1.10", socks: mesh.socks, host: "autoh1.bookinfo", port: 8080, path: "/" });
    expect(h1.kind === "response" && h1.status).toBe(200);
    expect(h1.kind === "response" && JSON.parse(h1.body)).toEqual({ name: "autoh1", httpVersion: "1.1" });
  });

  test("the :path is normalized as HTTP/1.1 paths are; a broken escape is refused with 400", async () => {
    const got = await h2request("h2echo.bookinfo", 8080, { path: "/a/../%65cho?x=1" });
    expect(JSON.parse(got.body).headers[":path"]).toBe("/echo?x=1");
    const bad = await h2request("h2echo.bookinfo", 8080, { path: "/bad%zz" });
    expect(Number(bad.headers[":status"])).toBe(400);
  });

  test("the waypoint's HTTP/2 settings are bounded", async () => {
    const settings = await serverSettings("h2echo.bookinfo", 8080);
    expect(settings.get(0x3)).toBe(100); // MAX_CONCURRENT_STREAMS
    expect(settings.get(0x4) ?? 65_535).toBe(65_535); // INITIAL_WINDOW_SIZE: the default (a larger one stalls uploads on Bun)
    expect(settings.get(0x6)).toBe(16 * 1024); // MAX_HEADER_LIST_SIZE
  });

  test("each h2 request is logged with protocol HTTP/2", async () => {
    await eventually(() => expect(mesh.records.find((r) => r.msg === "request complete" && r.path === "/sniffed")?.protocol).toBe("HTTP/2"));
  });
});

describe("waypoint: gRPC inside the tunnel", () => {
  test("a unary call is carried with its trailers", async () => {
    const got = await sayHello("greeter.bookinfo", "jason");
    expect(got.status.code).toBe(grpc.status.OK);
    expect(got.value).toBe("hello jason from 127.0.1.10");
    expect(got.status.metadata.get("x-greeter")).toEqual(["greeter-1"]);
  });

  test("a non-OK status and its message come back as the server sent them", async () => {
    const got = await sayHello("greeter.bookinfo", "nobody");
    expect(got.status.code).toBe(grpc.status.FAILED_PRECONDITION);
    expect(got.status.details).toBe("nobody to greet");
    expect(got.status.metadata.get("x-greeter")).toEqual(["greeter-1"]);
  });

  test("an endpoint that cannot be reached: UNAVAILABLE with Envoy's connect-failure words", async () => {
    const got = await sayHello("greeter-down.bookinfo", "jason");
    expect(got.status.code).toBe(grpc.status.UNAVAILABLE);
    expect(got.status.details).toContain("upstream connect error");
  });

  test("a service with no endpoint: UNAVAILABLE, no healthy upstream", async () => {
    const got = await sayHello("greeter-none.bookinfo", "jason");
    expect(got.status.code).toBe(grpc.status.UNAVAILABLE);
    expect(got.status.details).toBe("no healthy upstream");
  });

  test("1,600 calls from 16 concurrent callers on one connection all succeed (more than 1,000 streams on one pooled upstream session)", async () => {
    const client = await grpcClient(route("greeter.bookinfo", 50051), greeterService);
    const failures: string[] = [];
    const until = Date.now() + 20_000;
    try {
      await Promise.all(Array.from({ length: 16 }, async () => {
        for (let i = 0; i < 100 && Date.now() < until; i++) {
          const got = await client.call("sayHello", "load");
          if (got.status.code !== grpc.status.OK) failures.push(`${got.status.code} ${got.status.details}`);
        }
      }));
    } finally {
      await client.close();
    }
    expect(failures).toEqual([]);
  }, 30_000);

  test("istio_requests_total says request_protocol=grpc with grpc_response_status", async () => {
    const text = await mesh.metrics();
    const lines = text.split("\n").filter((l) => l.startsWith("istio_requests_total{") && l.includes('request_protocol="grpc"'));
    expect(lines.find((l) => l.includes('grpc_response_status="0"') && l.includes('destination_service="greeter.bookinfo.svc.cluster.local"'))).toBeDefined();
    expect(lines.find((l) => l.includes('grpc_response_status="9"'))).toBeDefined();
    expect(lines.find((l) => l.includes('grpc_response_status="14"') && l.includes('response_flags="UF"') && l.includes('response_code="200"'))).toBeDefined();
  });
});
