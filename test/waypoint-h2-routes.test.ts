/**
 * The filter chain on the waypoint's HTTP/2 engine, in-process on loopback
 * (test/support/waypoint-mesh.ts): sleep → ztunnel node-1 (SOCKS5) → waypoint → ztunnel node-2 →
 * endpoint, real mTLS. HTTPRoute over h2c — a header match, an 80/20 weighted split, a fault
 * abort, retries turning a flaky endpoint's 503s into 200s (a body sent again whole), header
 * modifiers on the request and the response, a request body streamed both ways while no filter
 * reads it, trailers carried; GRPCRoute over gRPC — a method routed to another backend, with the
 * server's trailers. On main before this change each of these was refused with a 500 (the engine
 * did not run the chain). And an endpoint that sends GOAWAY every 50 streams under load costs no
 * request: the streams it never processed are sent again on a new session.
 *
 * Addresses: ztunnels and the waypoint's admin on 127.0.0.44-46, endpoints on 127.0.6.x, the
 * replica on 127.0.7.1.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import * as grpc from "@grpc/grpc-js";
import { createHash } from "node:crypto";
import http2 from "node:http2";
import { eventually } from "./support/eventually.ts";
import { grpcClient, h2request, h2send, h2session, stringService } from "./support/h2-client.ts";
import { startWaypointMesh, type WaypointMesh } from "./support/waypoint-mesh.ts";

const service = (name: string, ip: string, port: string, selector = `{app: ${name}}`, waypoint = true) => `apiVersion: v1
kind: Service
metadata: {name: ${name}, namespace: bookinfo${waypoint ? ", labels: {istio.io/use-waypoint: waypoint}" : ""}}
spec: {selector: ${selector}, clusterIP: ${ip}, ports: [${port}]}
`;
const entry = (name: string, labels: string, address: string) => `apiVersion: networking.istio.io/v1
kind: WorkloadEntry
metadata: {name: ${name}, namespace: bookinfo}
spec: {address: ${address}, node: node-2, serviceAccount: ${name}, labels: ${labels}}
`;
const H2 = "{name: http2-web, port: 8080}";
const GRPC = "{name: grpc, port: 50051}";

const MESH = [
  `apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: waypoint, namespace: bookinfo}
spec: {gatewayClassName: istio-waypoint, listeners: [{name: mesh, port: HBONE_PORT, protocol: HBONE}]}
`,
  entry("waypoint-1", "{gateway.networking.k8s.io/gateway-name: waypoint}", "127.0.7.1"),
  service("web", "10.96.0.61", H2),
  service("web-v1", "10.96.0.62", H2, "{app: web, version: v1}", false),
  service("web-v2", "10.96.0.63", H2, "{app: web, version: v2}", false),
  entry("web-v1", "{app: web, version: v1}", "127.0.6.11"),
  entry("web-v2", "{app: web, version: v2}", "127.0.6.12"),
  service("flaky", "10.96.0.64", H2),
  entry("flaky-1", "{app: flaky}", "127.0.6.13"),
  service("drainer", "10.96.0.68", H2),
  entry("drainer-1", "{app: drainer}", "127.0.6.14"),
  service("hello", "10.96.0.65", GRPC),
  service("hello-v1", "10.96.0.67", GRPC, "{app: hello, version: v1}", false),
  service("hello-v2", "10.96.0.66", GRPC, "{app: hello, version: v2}", false),
  entry("hello-v1", "{app: hello, version: v1}", "127.0.6.21"),
  entry("hello-v2", "{app: hello, version: v2}", "127.0.6.22"),
  `apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: web, namespace: bookinfo}
spec:
  parentRefs: [{group: "", kind: Service, name: web, port: 8080}]
  rules:
  - matches: [{headers: [{name: end-user, value: jason}]}]
    backendRefs: [{name: web-v2, port: 8080}]
  - matches: [{path: {type: PathPrefix, value: /abort}}]
    filters: [{type: ExtensionRef, extensionRef: {group: mesh.dev, kind: HTTPFault, name: abort}}]
    backendRefs: [{name: web-v1, port: 8080}]
  - matches: [{path: {type: PathPrefix, value: /modify}}]
    filters:
    - type: RequestHeaderModifier
      requestHeaderModifier: {set: [{name: x-set, value: by-route}], add: [{name: x-added, value: "yes"}], remove: [x-secret]}
    - type: ResponseHeaderModifier
      responseHeaderModifier: {set: [{name: x-served-by, value: rewritten}], add: [{name: x-route, value: web}]}
    backendRefs: [{name: web-v1, port: 8080}]
  - matches: [{path: {type: PathPrefix, value: /stream}}]
    backendRefs: [{name: web-v1, port: 8080}]
  - backendRefs: [{name: web-v1, port: 8080, weight: 80}, {name: web-v2, port: 8080, weight: 20}]
`,
  `apiVersion: mesh.dev/v1
kind: HTTPFault
metadata: {name: abort, namespace: bookinfo}
spec: {abort: {httpStatus: 503, percentage: 100}}
`,
  `apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: flaky, namespace: bookinfo}
spec:
  parentRefs: [{group: "", kind: Service, name: flaky, port: 8080}]
  rules:
  - backendRefs: [{name: flaky, port: 8080}]
    retry: {codes: [503], attempts: 2, backoff: 1ms}
`,
  `apiVersion: gateway.networking.k8s.io/v1
kind: GRPCRoute
metadata: {name: hello, namespace: bookinfo}
spec:
  parentRefs: [{group: "", kind: Service, name: hello, port: 50051}]
  rules:
  - matches: [{method: {service: test.Hello, method: Bye}}]
    backendRefs: [{name: hello-v2, port: 50051}]
  - backendRefs: [{name: hello-v1, port: 50051}]
`,
].join("---\n");

const SLEEP = "127.0.1.10";
let mesh: WaypointMesh;
const h2Servers: http2.Http2Server[] = [];
const grpcServers: grpc.Server[] = [];
/** /hold… requests the endpoint saw reset (a Bun endpoint also emits 'end' first on a reset, so that cannot be told apart here). */
const holds: string[] = [];
const route = (host: string, port = 8080) => ({ from: SLEEP, socks: mesh.socks, host, port });

/**
 * An h2c endpoint. `/stream…`: answers at once and echoes each request chunk as it arrives (so a
 * client sees its first chunk come back before it sends the rest). Otherwise answers once the
 * request ended with what it saw (headers, body length and sha256, trailers) and a trailer.
 * `flaky` answers every other request 503.
 */
function h2endpoint(name: string, address: string): Promise<http2.Http2Server> {
  const server = http2.createServer();
  let n = 0;
  server.on("stream", (stream, headers) => {
    stream.on("error", () => {});
    if (String(headers[":path"]).startsWith("/stream")) {
      stream.respond({ ":status": 200, "x-served-by": name });
      stream.pipe(stream);
      return;
    }
    if (String(headers[":path"]).startsWith("/hold")) {
      // Echoes, never ends its side: only a reset closes the stream.
      stream.respond({ ":status": 200 });
      stream.on("data", (c: Buffer) => stream.write(c));
      stream.once("aborted", () => holds.push(String(headers[":path"])));
      return;
    }
    const hash = createHash("sha256");
    let bytes = 0;
    let trailers: http2.IncomingHttpHeaders | undefined;
    stream.on("data", (c: Buffer) => ((bytes += c.length), hash.update(c)));
    stream.on("trailers", (t) => (trailers = t));
    stream.on("end", () => {
      if (name === "flaky" && n++ % 2 === 0) {
        stream.respond({ ":status": 503 });
        return void stream.end("try again");
      }
      stream.respond({ ":status": 200, "content-type": "application/json", "x-served-by": name, trailer: "x-checksum" }, { waitForTrailers: true });
      stream.on("wantTrailers", () => stream.sendTrailers({ "x-checksum": String(bytes) }));
      stream.end(JSON.stringify({ name, headers, bytes, sha256: hash.digest("hex"), trailers: trailers ?? null }));
    });
  });
  return new Promise((resolve) => server.listen(8080, address, () => resolve(server)));
}

/**
 * An h2c endpoint that drains its sessions as a server going away does (RFC 9113 §6.8): on every
 * 50th stream of a session it sends GOAWAY naming that stream as the last it processes, refuses
 * every later stream on the session with REFUSED_STREAM, and closes the session once the rest
 * finished. Answers carry the body's sha256.
 */
function drainingEndpoint(address: string): Promise<{ server: http2.Http2Server; goaways: () => number; refused: () => number }> {
  const server = http2.createServer();
  let goaways = 0;
  let refused = 0;
  const cuts = new WeakMap<http2.ServerHttp2Session, { n: number; last?: number }>();
  server.on("stream", (stream) => {
    stream.on("error", () => {});
    const session = stream.session as http2.ServerHttp2Session;
    const cut = cuts.get(session) ?? { n: 0 };
    cuts.set(session, cut);
    if (cut.last !== undefined && (stream.id ?? 0) > cut.last) {
      refused++;
      return stream.close(http2.constants.NGHTTP2_REFUSED_STREAM);
    }
    if (++cut.n === 50) {
      cut.last = stream.id;
      goaways++;
      session.goaway(http2.constants.NGHTTP2_NO_ERROR, stream.id);
    }
    const hash = createHash("sha256");
    stream.on("data", (c: Buffer) => hash.update(c));
    stream.on("end", () => {
      stream.respond({ ":status": 200 });
      stream.end(hash.digest("hex"));
      if (cut.last !== undefined) setImmediate(() => session.close());
    });
  });
  return new Promise((resolve) => server.listen(8080, address, () => resolve({ server, goaways: () => goaways, refused: () => refused })));
}
let drainer: Awaited<ReturnType<typeof drainingEndpoint>>;

const helloService = stringService("test.Hello", ["Hi", "Bye"]);

async function helloEndpoint(version: string, address: string): Promise<grpc.Server> {
  const server = new grpc.Server();
  const answer = (method: string) => (call: grpc.ServerUnaryCall<string, string>, callback: grpc.sendUnaryData<string>) => {
    const trailer = new grpc.Metadata();
    trailer.set("x-version", version);
    callback(null, `${method} ${call.request} from ${version}`, trailer);
  };
  server.addService(helloService, { Hi: answer("Hi"), Bye: answer("Bye") });
  await new Promise<void>((resolve, reject) => server.bindAsync(`${address}:50051`, grpc.ServerCredentials.createInsecure(), (err) => (err ? reject(err) : resolve())));
  return server;
}

beforeAll(async () => {
  h2Servers.push(await h2endpoint("web-v1", "127.0.6.11"), await h2endpoint("web-v2", "127.0.6.12"), await h2endpoint("flaky", "127.0.6.13"));
  drainer = await drainingEndpoint("127.0.6.14");
  h2Servers.push(drainer.server);
  grpcServers.push(await helloEndpoint("v1", "127.0.6.21"), await helloEndpoint("v2", "127.0.6.22"));
  mesh = await startWaypointMesh({ yaml: MESH, addresses: { node1: "127.0.0.44", node2: "127.0.0.45", waypointAdmin: "127.0.0.46" } });
}, 60_000);

afterAll(async () => {
  await mesh?.close();
  for (const s of h2Servers) s.close();
  for (const s of grpcServers) s.forceShutdown();
});

const servedBy = (a: { body: string }) => JSON.parse(a.body).name as string;

describe("HTTPRoute over h2c", () => {
  test("a header match routes end-user: jason to v2", async () => {
    const session = await h2session(route("web.bookinfo"));
    try {
      for (let i = 0; i < 10; i++) expect(servedBy(await h2send(session, { path: "/", headers: { "end-user": "jason" } }))).toBe("web-v2");
    } finally {
      session.destroy();
    }
  });

  test("an 80/20 weighted split over 1,000 requests on one connection, each share within ±5 points", async () => {
    const session = await h2session(route("web.bookinfo"));
    const counts: Record<string, number> = {};
    try {
      for (let batch = 0; batch < 20; batch++) {
        const answers = await Promise.all(Array.from({ length: 50 }, () => h2send(session, { path: "/split" })));
        for (const a of answers) counts[servedBy(a)] = (counts[servedBy(a)] ?? 0) + 1;
      }
    } finally {
      session.destroy();
    }
    expect((counts["web-v1"] ?? 0) + (counts["web-v2"] ?? 0)).toBe(1000);
    expect(Math.abs((counts["web-v1"] ?? 0) / 10 - 80)).toBeLessThanOrEqual(5);
  });

  test("a fault abort answers 503 locally, logged with FI", async () => {
    const got = await h2request(route("web.bookinfo"), { path: "/abort/x" });
    expect(Number(got.headers[":status"])).toBe(503);
    await eventually(() => expect(mesh.records.find((r) => r.msg === "request complete" && r.path === "/abort/x")?.response_flags).toBe("FI"));
  });

  test("retries turn a flaky endpoint's 503s into 200s, a request body sent again whole", async () => {
    const session = await h2session(route("flaky.bookinfo"));
    const body = "x".repeat(10_000);
    try {
      for (let i = 0; i < 6; i++) {
        const got = await h2send(session, i % 2 === 0 ? { path: `/r${i}` } : { path: `/r${i}`, method: "POST", body });
        expect(Number(got.headers[":status"])).toBe(200);
        if (i % 2 === 1) expect(JSON.parse(got.body).sha256).toBe(createHash("sha256").update(body).digest("hex"));
      }
    } finally {
      session.destroy();
    }
  });

  test("route filters change the request's and the response's headers; trailers both ways are carried", async () => {
    const got = await h2request(route("web.bookinfo"), { path: "/modify", method: "POST", headers: { "x-secret": "s", "x-set": "client" }, body: "abc", trailers: { "x-req-trailer": "sent" } });
    expect(Number(got.headers[":status"])).toBe(200);
    const seen = JSON.parse(got.body);
    expect(seen.headers["x-set"]).toBe("by-route");
    expect(seen.headers["x-added"]).toBe("yes");
    expect(seen.headers["x-secret"]).toBeUndefined();
    expect(seen.bytes).toBe(3);
    expect(seen.trailers).toEqual({ "x-req-trailer": "sent" });
    expect(got.headers["x-served-by"]).toBe("rewritten");
    expect(got.headers["x-route"]).toBe("web");
    expect(got.trailers?.["x-checksum"]).toBe("3");
  });

  test("a 1 MB request body is carried whole (it stalled after 65,535 bytes with a 256 KiB stream window)", async () => {
    const body = "y".repeat(1_000_000);
    const got = await h2request(route("web.bookinfo"), { path: "/big", method: "POST", body });
    expect(JSON.parse(got.body).sha256).toBe(createHash("sha256").update(body).digest("hex"));
  });

  test("a request body is streamed, not buffered, while no filter reads it: the first chunk comes back before the rest is sent", async () => {
    const session = await h2session(route("web.bookinfo"));
    try {
      const req = session.request({ ":method": "POST", ":path": "/stream" });
      const received: Buffer[] = [];
      let got = 0;
      const waiters: Array<[number, () => void]> = [];
      req.on("data", (c: Buffer) => {
        received.push(c);
        got += c.length;
        for (const [n, resolve] of waiters) if (got >= n) resolve();
      });
      const until = (n: number) => new Promise<void>((resolve) => (got >= n ? resolve() : waiters.push([n, resolve])));
      // Over 64 KiB: more than one connection flow-control window each way.
      const first = Buffer.alloc(100_000, 1);
      const rest = Buffer.alloc(900_000, 2);
      req.write(first);
      await until(first.length);
      const ended = new Promise<void>((resolve) => req.on("end", resolve));
      req.end(rest);
      await ended;
      const all = Buffer.concat(received);
      expect(all.length).toBe(1_000_000);
      expect(createHash("sha256").update(all).digest("hex")).toBe(createHash("sha256").update(Buffer.concat([first, rest])).digest("hex"));
    } finally {
      session.destroy();
    }
  });
});

describe("a client that goes away", () => {
  test("mid-stream: the upstream stream is reset too, not left open or ended as if the body were complete", async () => {
    const session = await h2session(route("web.bookinfo"));
    try {
      const req = session.request({ ":method": "POST", ":path": "/hold/abandoned" });
      req.on("error", () => {});
      const echoed = new Promise<void>((resolve) => req.once("data", () => resolve()));
      req.write("hello");
      await echoed;
      req.close(http2.constants.NGHTTP2_CANCEL);
      await eventually(() => expect(holds).toEqual(["/hold/abandoned"]));
    } finally {
      session.destroy();
    }
  });
});

describe("GRPCRoute over gRPC", () => {
  test("a method is routed to its backend; the others to the default, trailers carried", async () => {
    const client = await grpcClient(route("hello.bookinfo", 50051), helloService);
    try {
      const hi = await client.call("Hi", "jason");
      expect(hi.status.code).toBe(grpc.status.OK);
      expect(hi.value).toBe("Hi jason from v1");
      expect(hi.status.metadata.get("x-version")).toEqual(["v1"]);
      const bye = await client.call("Bye", "jason");
      expect(bye.value).toBe("Bye jason from v2");
      expect(bye.status.metadata.get("x-version")).toEqual(["v2"]);
    } finally {
      await client.close();
    }
  });
});

describe("an upstream that sends GOAWAY", () => {
  test("800 requests with bodies from 16 concurrent callers while the endpoint drains its sessions every 50 streams: none fails", async () => {
    const session = await h2session(route("drainer.bookinfo"));
    const failures: string[] = [];
    const until = Date.now() + 20_000;
    try {
      await Promise.all(Array.from({ length: 16 }, async (_, caller) => {
        for (let i = 0; i < 50 && Date.now() < until; i++) {
          const body = `caller ${caller} request ${i} `.repeat(20);
          const got = await h2send(session, { path: "/", method: "POST", body }).catch((err: Error) => ({ headers: { ":status": 0 }, body: err.message, trailers: undefined }));
          const want = createHash("sha256").update(body).digest("hex");
          if (Number(got.headers[":status"]) !== 200 || got.body !== want) failures.push(`${got.headers[":status"]} ${got.body.slice(0, 80)}`);
        }
      }));
    } finally {
      session.destroy();
    }
    expect(failures).toEqual([]);
    // The endpoint really went away under load, with streams in flight above its GOAWAY.
    expect(drainer.goaways()).toBeGreaterThan(5);
    expect(drainer.refused()).toBeGreaterThan(0);
  }, 30_000);
});
