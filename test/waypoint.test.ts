/**
 * The waypoint in-process, end to end on loopback: a control plane, two ztunnels (SOCKS5 mode)
 * and one waypoint replica, all real (mTLS, HBONE, the mesh CA). `reviews` uses the waypoint;
 * sleep's request to the reviews VIP goes sleep → ztunnel node-1 → waypoint → ztunnel node-2 →
 * a reviews endpoint, and the waypoint carries it as HTTP: it adds the proxy headers, balances
 * over the endpoints, fails over from a dead one, answers Envoy's 503 when none is left, and
 * reports `istio_requests_total{reporter="waypoint"}`. The destination ztunnel sees the waypoint's
 * identity, not sleep's. A destination the waypoint does not front is refused at CONNECT.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { createHash } from "node:crypto";
import http from "node:http";
import { socksGet } from "../src/cli/demo/socks-get.ts";
import { eventually } from "./support/eventually.ts";
import { startWaypointMesh, type WaypointMesh } from "./support/waypoint-mesh.ts";

const MESH = `apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: waypoint, namespace: bookinfo}
spec: {gatewayClassName: istio-waypoint, listeners: [{name: mesh, port: HBONE_PORT, protocol: HBONE}]}
---
apiVersion: v1
kind: Service
metadata: {name: reviews, namespace: bookinfo, labels: {istio.io/use-waypoint: waypoint}}
spec: {selector: {app: reviews}, clusterIP: 10.96.0.30, ports: [{name: http, port: 9080}]}
---
apiVersion: networking.istio.io/v1
kind: WorkloadEntry
metadata: {name: reviews-v1, namespace: bookinfo}
spec: {address: 127.0.2.31, node: node-2, serviceAccount: bookinfo-reviews, labels: {app: reviews, version: v1}}
---
apiVersion: networking.istio.io/v1
kind: WorkloadEntry
metadata: {name: reviews-v2, namespace: bookinfo}
spec: {address: 127.0.2.32, node: node-2, serviceAccount: bookinfo-reviews, labels: {app: reviews, version: v2}}
---
apiVersion: networking.istio.io/v1
kind: WorkloadEntry
metadata: {name: waypoint-1, namespace: bookinfo}
spec: {address: 127.0.3.1, node: node-2, serviceAccount: waypoint, labels: {gateway.networking.k8s.io/gateway-name: waypoint}}
`;

/** Per-version services (Gateway API backends) and a flaky ratings service, both behind the waypoint. */
const ROUTING = `apiVersion: v1
kind: Service
metadata: {name: reviews-v1, namespace: bookinfo}
spec: {selector: {app: reviews, version: v1}, clusterIP: 10.96.0.31, ports: [{name: http, port: 9080}]}
---
apiVersion: v1
kind: Service
metadata: {name: reviews-v2, namespace: bookinfo}
spec: {selector: {app: reviews, version: v2}, clusterIP: 10.96.0.32, ports: [{name: http, port: 9080}]}
---
apiVersion: v1
kind: Service
metadata: {name: ratings, namespace: bookinfo, labels: {istio.io/use-waypoint: waypoint}}
spec: {selector: {app: ratings}, clusterIP: 10.96.0.40, ports: [{name: http, port: 9080}]}
---
apiVersion: networking.istio.io/v1
kind: WorkloadEntry
metadata: {name: ratings-v1, namespace: bookinfo}
spec: {address: 127.0.2.41, node: node-2, serviceAccount: bookinfo-ratings, labels: {app: ratings}}
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: reviews, namespace: bookinfo}
spec:
  parentRefs: [{group: "", kind: Service, name: reviews, port: 9080}]
  rules:
  - matches: [{headers: [{name: end-user, value: jason}]}]
    backendRefs: [{name: reviews-v2, port: 9080}]
  - backendRefs: [{name: reviews-v1, port: 9080, weight: 80}, {name: reviews-v2, port: 9080, weight: 20}]
`;

const RATINGS_RETRY = `apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: ratings, namespace: bookinfo}
spec:
  parentRefs: [{group: "", kind: Service, name: ratings, port: 9080}]
  rules:
  - backendRefs: [{name: ratings, port: 9080}]
    retry: {codes: [503], attempts: 2, backoff: 1ms}
  - matches: [{path: {type: PathPrefix, value: /mirror}}]
    filters: [{type: RequestMirror, requestMirror: {backendRef: {name: reviews-v1, port: 9080}}}]
    backendRefs: [{name: ratings, port: 9080}]
    retry: {codes: [503], attempts: 2, backoff: 1ms}
`;

const REVIEWS_DOWN = `apiVersion: networking.istio.io/v1
kind: WorkloadEntry
metadata: {name: reviews-v1-dead, namespace: bookinfo}
spec: {address: 127.0.2.33, node: node-2, serviceAccount: bookinfo-reviews, labels: {app: reviews, version: v1}}
`;

let mesh: WaypointMesh;
const backends: http.Server[] = [];

function backend(version: string, address: string): Promise<http.Server> {
  const server = http.createServer((req, res) => {
    if (req.method === "POST") {
      const chunks: Buffer[] = [];
      req.on("data", (c: Buffer) => chunks.push(c));
      req.on("end", () => {
        const body = Buffer.concat(chunks);
        seen.push({ version, url: req.url ?? "", host: req.headers.host ?? "", bytes: body.length });
        res.end(`${version} got ${body.length} bytes: ${createHash("sha256").update(body).digest("hex")}`);
      });
      return;
    }
    seen.push({ version, url: req.url ?? "", host: req.headers.host ?? "" });
    res.setHeader("content-type", "application/json");
    res.end(JSON.stringify({ version, url: req.url, xff: req.headers["x-forwarded-for"], proto: req.headers["x-forwarded-proto"], requestId: req.headers["x-request-id"], traceparent: req.headers.traceparent, connection: req.headers.connection ?? null }));
  });
  return new Promise((resolve) => server.listen(9080, address, () => resolve(server)));
}

/** Every request the reviews backends answered. */
const seen: Array<{ version: string; url: string; host: string; bytes?: number }> = [];

const get = (path = "/", headers?: Record<string, string>, host = "reviews.bookinfo") => socksGet({ from: "127.0.1.10", socks: mesh.socks, host, port: 9080, path, ...(headers ? { headers } : {}) });

beforeAll(async () => {
  backends.push(await backend("v1", "127.0.2.31"), await backend("v2", "127.0.2.32"));
  // ratings answers 503 to every other request: what the route's retry policy must hide.
  let ratingsCalls = 0;
  const ratings = http.createServer((_req, res) => {
    if (ratingsCalls++ % 2 === 0) res.writeHead(503).end("flaky");
    else res.end("ratings ok");
  });
  await new Promise<void>((r) => ratings.listen(9080, "127.0.2.41", r));
  backends.push(ratings);
  mesh = await startWaypointMesh({ yaml: MESH, addresses: { node1: "127.0.0.31", node2: "127.0.0.32", waypointAdmin: "127.0.0.33" }, logSpec: "off,access=info,waypoint=info" });
}, 60_000);

afterAll(async () => {
  await mesh?.close();
  for (const b of backends) b.close();
});

describe("waypoint: HTTP/1.1 through sleep → ztunnel → waypoint → ztunnel → reviews", () => {
  test("requests reach reviews through the waypoint, balanced over both endpoints, with the proxy's headers", async () => {
    const versions = new Set<string>();
    for (let i = 0; i < 6; i++) {
      const got = await get(`/reviews/${i}`);
      if (got.kind !== "response") throw new Error(`request ${i}: ${JSON.stringify(got)}`);
      expect(got.status).toBe(200);
      const body = JSON.parse(got.body);
      versions.add(body.version);
      expect(body.url).toBe(`/reviews/${i}`);
      expect(body.xff).toBe("127.0.1.10");
      expect(body.proto).toBe("http");
      expect(body.requestId).toMatch(/^[0-9a-f-]{36}$/);
      expect(body.traceparent).toMatch(/^00-[0-9a-f]{32}-[0-9a-f]{16}-01$/);
      // The client's `connection: close` is hop-by-hop: the waypoint keeps its upstream connection.
      expect(body.connection).not.toBe("close");
    }
    expect([...versions].sort()).toEqual(["v1", "v2"]);
  });

  test("the waypoint logs each request with both identities; the destination ztunnel sees the waypoint's identity", async () => {
    mesh.records.length = 0;
    const got = await get("/identity");
    expect(got.kind).toBe("response");
    await eventually(() => {
      const line = mesh.records.find((r) => r.msg === "request complete" && r.path === "/identity");
      expect(line).toBeDefined();
      expect(line?.["src.identity"]).toBe("spiffe://cluster.local/ns/bookinfo/sa/sleep");
      expect(line?.["dst.identity"]).toBe("spiffe://cluster.local/ns/bookinfo/sa/bookinfo-reviews");
      expect(line?.response_code).toBe(200);
      expect(line?.bytes_sent).toBe(Buffer.byteLength(got.kind === "response" ? got.body : ""));
      expect(line?.bytes_received).toBe(0);
      // Envoy's %REQ(X-FORWARDED-FOR)%: the header as the waypoint sent it on, client appended.
      expect(line?.x_forwarded_for).toBe("127.0.1.10");
    });
    // The waypoint's upstream connection is open (kept alive): the destination ztunnel lists it with the waypoint as the source.
    const open = (await (await fetch(`http://127.0.0.32:${mesh.ztunnels[1]?.addresses.admin?.port}/connections`)).json()) as Array<Record<string, unknown>>;
    const fromWaypoint = open.filter((c) => c.direction === "inbound" && String(c.dst).startsWith("127.0.2.3"));
    expect(fromWaypoint.length).toBeGreaterThan(0);
    for (const c of fromWaypoint) expect(c.srcIdentity).toBe("spiffe://cluster.local/ns/bookinfo/sa/waypoint");
  });

  test("the path is normalized before routing and forwarding; a broken escape is refused with 400", async () => {
    const got = await get("/a/b/../../%61dmin/./x");
    expect(got.kind === "response" && JSON.parse(got.body).url).toBe("/admin/x");
    const bad = await get("/bad%zz");
    expect(bad.kind === "response" && bad.status).toBe(400);
  });

  test("a request body reaches the endpoint whole (piped, not buffered) and is counted", async () => {
    const body = "x".repeat(300_000);
    mesh.records.length = 0;
    const got = await socksGet({ from: "127.0.1.10", socks: mesh.socks, host: "reviews.bookinfo", port: 9080, path: "/upload", method: "POST", body });
    expect(got.kind === "response" && got.body).toContain(`got 300000 bytes: ${createHash("sha256").update(body).digest("hex")}`);
    await eventually(() => expect(mesh.records.find((r) => r.msg === "request complete" && r.path === "/upload")?.bytes_received).toBe(300_000));
  });

  test("istio_requests_total with reporter=waypoint and Istio's labels", async () => {
    const text = await mesh.metrics();
    const line = text.split("\n").find((l) => l.startsWith("istio_requests_total{") && l.includes('response_code="200"'));
    expect(line).toContain('reporter="waypoint"');
    expect(line).toContain('source_principal="spiffe://cluster.local/ns/bookinfo/sa/sleep"');
    expect(line).toContain('destination_service="reviews.bookinfo.svc.cluster.local"');
    expect(line).toContain('source_workload="sleep"');
    for (const family of ["istio_request_duration_milliseconds_bucket", "istio_request_bytes_bucket", "istio_response_bytes_bucket"]) {
      expect(text.split("\n").some((l) => l.startsWith(`${family}{`) && l.includes('reporter="waypoint"'))).toBe(true);
    }
  });

  test("HTTPRoute through the router plugin: end-user jason goes to v2; the rest split 80/20 over 1,000 requests (±4 points)", async () => {
    await mesh.apply(ROUTING);
    await eventually(async () => {
      const got = await get("/jason", { "end-user": "jason" });
      expect(got.kind === "response" && JSON.parse(got.body).version).toBe("v2");
    });
    for (let i = 0; i < 5; i++) {
      const got = await get(`/jason/${i}`, { "end-user": "jason" });
      expect(got.kind === "response" && JSON.parse(got.body).version).toBe("v2");
    }
    const counts: Record<string, number> = {};
    for (let i = 0; i < 1000; i++) {
      const got = await get(`/split/${i}`);
      if (got.kind !== "response" || got.status !== 200) throw new Error(`request ${i}: ${JSON.stringify(got)}`);
      const v = JSON.parse(got.body).version as string;
      counts[v] = (counts[v] ?? 0) + 1;
    }
    expect(Math.abs((counts.v1 ?? 0) / 10 - 80)).toBeLessThanOrEqual(4);
    expect(Math.abs((counts.v2 ?? 0) / 10 - 20)).toBeLessThanOrEqual(4);
    const route = mesh.records.find((r) => r.msg === "request complete" && r.path === "/split/0");
    expect(route?.["dst.service"]).toBe("reviews.bookinfo.svc.cluster.local");
  }, 60_000);

  test("a route's retry policy turns an endpoint's 503s into 200s; without it the 503s reach the client", async () => {
    const statuses = async () => {
      const out: number[] = [];
      for (let i = 0; i < 6; i++) {
        const got = await get(`/r/${i}`, undefined, "ratings.bookinfo");
        out.push(got.kind === "response" ? got.status : 0);
      }
      return out;
    };
    await eventually(async () => expect(await statuses()).toContain(503));
    await mesh.apply(RATINGS_RETRY);
    await eventually(async () => expect(new Set(await statuses())).toEqual(new Set([200])));
  }, 30_000);

  test("RequestMirror: a copy goes to the mirror backend with -shadow in its Host; the client gets the primary's answer", async () => {
    const got = await get("/mirror/1", undefined, "ratings.bookinfo");
    expect(got.kind === "response" && got.status).toBe(200);
    expect(got.kind === "response" && got.body).toBe("ratings ok");
    await eventually(() => expect(seen).toContainEqual({ version: "v1", url: "/mirror/1", host: "ratings.bookinfo-shadow:9080" }));
    // A body is copied to the mirror whole (the primary's answer does not matter here).
    await socksGet({ from: "127.0.1.10", socks: mesh.socks, host: "ratings.bookinfo", port: 9080, path: "/mirror/body", method: "POST", body: "y".repeat(100_000) });
    await eventually(() => expect(seen).toContainEqual({ version: "v1", url: "/mirror/body", host: "ratings.bookinfo-shadow:9080", bytes: 100_000 }));
  });

  test("a dead endpoint is skipped for a live one, then ejected after five failures; with none left the client gets Envoy's 503", async () => {
    // A second reviews v1 endpoint with no server behind it: requests the route sends to reviews-v1
    // that try it first fail over.
    await mesh.apply(REVIEWS_DOWN);
    await eventually(() => expect(mesh.waypoint.state().workloadAt("127.0.2.33")).toBeDefined());
    const ejected = async () => ((await (await fetch(`http://127.0.0.33:${mesh.waypoint.addresses.admin?.port}/config_dump`)).json()) as { upstream: { ejected: string[] } }).upstream.ejected;
    expect(await ejected()).toEqual([]);
    // ~80 % of requests go to reviews-v1, whose round robin starts on the dead endpoint every other
    // time: 40 requests fail there ~16 times, far more than the 5 that eject it.
    for (let i = 0; i < 40; i++) {
      const got = await get(`/failover/${i}`);
      expect(got.kind === "response" && got.status).toBe(200);
    }
    expect(await ejected()).toEqual(["127.0.2.33"]);
    for (const b of backends.splice(0)) await new Promise((r) => b.close(r));
    const got = await get("/none");
    expect(got.kind === "response" && got.status).toBe(503);
    expect(got.kind === "response" && got.body).toContain("upstream connect error");
  });
});
