/**
 * HTTPFault end to end, in-process on loopback: a control plane, two ztunnels (SOCKS5 mode) and
 * one waypoint replica, all real. `ratings` uses the waypoint and its HTTPRoute names HTTPFaults
 * with ExtensionRef filters; the control plane puts them in the router's config, and the requests
 * sleep sends (sleep → ztunnel node-1 → waypoint → ztunnel node-2 → ratings) see them: aborts
 * answered by the waypoint with Envoy's FI flag in its access log, delays added before the
 * backend call, a changed fault pushed to the running waypoint, a missing one answered 500.
 *
 * The mesh is test/support/waypoint-mesh.ts (sleep at the demo's 127.0.1.10); its ztunnels and the
 * waypoint's admin listen on 127.0.40.x, ratings on 127.0.42.41, the replica on 127.0.43.1.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import http from "node:http";
import { socksGet } from "../src/cli/demo/socks-get.ts";
import { eventually } from "./support/eventually.ts";
import { startWaypointMesh, type WaypointMesh } from "./support/waypoint-mesh.ts";

const SLEEP = "127.0.1.10";
const RATINGS = "127.0.42.41";
const WAYPOINT = "127.0.43.1";
const DELAY_MS = 300;

const MESH = `apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: waypoint, namespace: bookinfo}
spec: {gatewayClassName: istio-waypoint, listeners: [{name: mesh, port: HBONE_PORT, protocol: HBONE}]}
---
apiVersion: networking.istio.io/v1
kind: WorkloadEntry
metadata: {name: waypoint-1, namespace: bookinfo}
spec: {address: ${WAYPOINT}, node: node-2, serviceAccount: waypoint, labels: {gateway.networking.k8s.io/gateway-name: waypoint}}
---
apiVersion: v1
kind: Service
metadata: {name: ratings, namespace: bookinfo, labels: {istio.io/use-waypoint: waypoint}}
spec: {selector: {app: ratings}, clusterIP: 10.96.0.40, ports: [{name: http, port: 9080}]}
---
apiVersion: networking.istio.io/v1
kind: WorkloadEntry
metadata: {name: ratings-v1, namespace: bookinfo}
spec: {address: ${RATINGS}, node: node-2, serviceAccount: bookinfo-ratings, labels: {app: ratings}}
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: ratings, namespace: bookinfo}
spec:
  parentRefs: [{group: "", kind: Service, name: ratings, port: 9080}]
  rules:
  - matches: [{path: {value: /plain}}]
    backendRefs: [{name: ratings, port: 9080}]
  - matches: [{path: {value: /slow}}]
    filters: [{type: ExtensionRef, extensionRef: {group: mesh.dev, kind: HTTPFault, name: slow}}]
    backendRefs: [{name: ratings, port: 9080}]
  - matches: [{path: {value: /ghost}}]
    filters: [{type: ExtensionRef, extensionRef: {group: mesh.dev, kind: HTTPFault, name: ghost}}]
    backendRefs: [{name: ratings, port: 9080}]
  - filters: [{type: ExtensionRef, extensionRef: {group: mesh.dev, kind: HTTPFault, name: flaky}}]
    backendRefs: [{name: ratings, port: 9080}]
---
apiVersion: mesh.dev/v1
kind: HTTPFault
metadata: {name: slow, namespace: bookinfo}
spec: {delay: {fixedDelay: ${DELAY_MS}ms}}
`;

const flaky = (percentage: number) => `apiVersion: mesh.dev/v1
kind: HTTPFault
metadata: {name: flaky, namespace: bookinfo}
spec: {abort: {httpStatus: 503, percentage: ${percentage}}}
`;

let mesh: WaypointMesh;
let ratings: http.Server | undefined;

/** One request from sleep to ratings through the waypoint: its status and how long it took. */
async function get(path: string): Promise<{ status: number; body: string; ms: number }> {
  const started = performance.now();
  const got = await socksGet({ from: SLEEP, socks: mesh.socks, host: "ratings.bookinfo", port: 9080, path });
  if (got.kind !== "response") throw new Error(`${path}: ${JSON.stringify(got)}`);
  return { status: got.status, body: got.body, ms: performance.now() - started };
}

const logged = (path: string) => mesh.records.find((r) => r.msg === "request complete" && r.path === path);

beforeAll(async () => {
  ratings = http.createServer((req, res) => res.end(`ratings ${req.url}`));
  await new Promise<void>((r) => ratings?.listen(9080, RATINGS, r));
  mesh = await startWaypointMesh({ yaml: `${MESH}---\n${flaky(50)}`, addresses: { node1: "127.0.40.31", node2: "127.0.40.32", waypointAdmin: "127.0.40.33" }, logSpec: "off,access=info" });
}, 60_000);

afterAll(async () => {
  await mesh?.close();
  await new Promise((r) => (ratings ? ratings.close(r) : r(undefined)));
});

describe("HTTPFault through the waypoint", () => {
  test("an abort of 50 % answers 503 to 50 % ± 8 points of 400 requests, logged with response_flags FI", async () => {
    await eventually(async () => expect((await get("/warmup")).status).toBe(503));
    mesh.records.length = 0;
    const statuses: number[] = [];
    for (let i = 0; i < 400; i++) {
      const got = await get(`/abort/${i}`);
      if (got.status === 200) expect(got.body).toBe(`ratings /abort/${i}`);
      statuses.push(got.status);
    }
    expect(new Set(statuses)).toEqual(new Set([200, 503]));
    const aborted = statuses.filter((s) => s === 503).length;
    expect(Math.abs((aborted / 400) * 100 - 50)).toBeLessThanOrEqual(8);
    // Each request has its access log line: the aborted ones flagged FI (fault injected), the others not.
    await eventually(() => expect(logged("/abort/399")).toBeDefined());
    statuses.forEach((status, i) => {
      const line = logged(`/abort/${i}`);
      expect({ i, code: line?.response_code, fi: line?.response_flags === "FI" }).toEqual({ i, code: status, fi: status === 503 });
    });
  }, 60_000);

  test("a changed HTTPFault reaches the running waypoint: 100 % aborts, then 0 %", async () => {
    await mesh.apply(flaky(100));
    await eventually(async () => {
      const got = await Promise.all(Array.from({ length: 10 }, (_, i) => get(`/all/${i}`)));
      expect(got.map((g) => g.status)).toEqual(new Array(10).fill(503));
    });
    await mesh.apply(flaky(0));
    await eventually(async () => {
      const got = await Promise.all(Array.from({ length: 10 }, (_, i) => get(`/none/${i}`)));
      expect(got.map((g) => g.status)).toEqual(new Array(10).fill(200));
    });
  }, 30_000);

  test(`a delay fault adds at least its fixedDelay (${DELAY_MS} ms); the same path without it is faster`, async () => {
    const plain: number[] = [];
    const slow: number[] = [];
    for (let i = 0; i < 5; i++) {
      const p = await get(`/plain/${i}`);
      const s = await get(`/slow/${i}`);
      expect([p.status, s.status]).toEqual([200, 200]);
      expect(s.body).toBe(`ratings /slow/${i}`);
      plain.push(p.ms);
      slow.push(s.ms);
    }
    for (const ms of slow) expect(ms).toBeGreaterThanOrEqual(DELAY_MS);
    expect(Math.min(...plain)).toBeLessThan(DELAY_MS / 2);
  }, 30_000);

  test("a route naming an HTTPFault that does not exist answers 500 on that rule and is reported", async () => {
    const got = await get("/ghost");
    expect(got.status).toBe(500);
    expect(mesh.cp.hub.warnings).toContainEqual({ resource: "HTTPRoute bookinfo/ratings", message: "spec.rules[2].filters[0] refers to HTTPFault bookinfo/ghost, which does not exist: that rule answers 500" });
  });
});
