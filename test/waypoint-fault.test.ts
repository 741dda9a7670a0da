/**
 * HTTPFault end to end, in-process on loopback: a control plane, two ztunnels (SOCKS5 mode) and
 * one waypoint replica, all real. `ratings` uses the waypoint and its HTTPRoute names HTTPFaults
 * with ExtensionRef filters; the control plane puts them in the router's config, and the requests
 * sleep sends (sleep → ztunnel node-1 → waypoint → ztunnel node-2 → ratings) see them: aborts
 * answered by the waypoint with Envoy's FI flag in its access log, delays added before the
 * backend call, a changed fault pushed to the running waypoint, a missing one answered 500.
 *
 * Addresses (127.0.40–43.x) differ from the other waypoint tests', so runs may overlap.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import http from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { socksGet } from "../src/cli/demo/socks-get.ts";
import type { RunningControlPlane } from "../src/controlplane/server.ts";
import { bunRuntime } from "../src/runtime/bun.ts";
import { createLogControl } from "../src/telemetry/log.ts";
import { startWaypoint, type RunningWaypoint } from "../src/waypoint/waypoint.ts";
import { startZtunnel, type RunningZtunnel } from "../src/ztunnel/ztunnel.ts";
import { applyAndWait, startTestControlPlane } from "./support/control-plane.ts";
import { eventually } from "./support/eventually.ts";
import { freePort } from "./support/ports.ts";

const SLEEP = "127.0.41.10";
const RATINGS = "127.0.42.41";
const WAYPOINT = "127.0.43.1";
const NODES = { "node-1": "127.0.40.31", "node-2": "127.0.40.32" } as const;
const DELAY_MS = 300;

const MESH = `apiVersion: v1
kind: Namespace
metadata: {name: bookinfo, labels: {istio.io/dataplane-mode: ambient}}
---
apiVersion: networking.istio.io/v1
kind: WorkloadEntry
metadata: {name: sleep, namespace: bookinfo}
spec: {address: ${SLEEP}, node: node-1, serviceAccount: sleep, labels: {app: sleep}}
---
apiVersion: gateway.networking.k8s.io/v1
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

type LogRecord = Record<string, unknown>;
const records: LogRecord[] = [];
const logs = createLogControl({ format: "json", spec: "off,access=info", write: (line) => records.push(JSON.parse(line)) });
let dir: string;
let cp: RunningControlPlane;
const ztunnels: RunningZtunnel[] = [];
let waypoint: RunningWaypoint | undefined;
let ratings: http.Server | undefined;
let socks: { host: string; port: number };

const ready = (host: string, port: number | undefined) =>
  eventually(async () => expect((await fetch(`http://${host}:${port}/healthz/ready`)).status).toBe(200), { timeoutMs: 15_000 });

async function startNode(node: keyof typeof NODES, hbonePort: number): Promise<RunningZtunnel> {
  const address = NODES[node];
  const token = (await cp.tokens.mint(node, 3600_000)).token;
  const at = { host: address, port: 0 };
  const z = await startZtunnel(
    {
      node,
      controlPlane: `http://127.0.0.1:${cp.xdsAddress.port}`,
      token: () => token,
      capture: "socks5",
      dataDir: join(dir, node),
      listen: { outbound: at, inboundPlaintext: at, hbone: { host: address, port: hbonePort }, socks5: at, dns: null, admin: at, metrics: at, readiness: at },
      hbonePort,
      drainTimeoutMs: 500,
      connectTimeoutMs: 2000,
    },
    bunRuntime,
    logs,
  );
  ztunnels.push(z);
  await ready(address, z.addresses.readiness?.port);
  return z;
}

/** One request from sleep to ratings through the waypoint: its status and how long it took. */
async function get(path: string): Promise<{ status: number; body: string; ms: number }> {
  const started = performance.now();
  const got = await socksGet({ from: SLEEP, socks, host: "ratings.bookinfo", port: 9080, path });
  if (got.kind !== "response") throw new Error(`${path}: ${JSON.stringify(got)}`);
  return { status: got.status, body: got.body, ms: performance.now() - started };
}

const logged = (path: string) => records.find((r) => r.msg === "request complete" && r.path === path);

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "mesh-waypoint-fault-"));
  const hbonePort = await freePort();
  cp = await startTestControlPlane(join(dir, "cp"));
  await applyAndWait(cp, `${MESH.replace("HBONE_PORT", String(hbonePort))}---\n${flaky(50)}`);
  ratings = http.createServer((req, res) => res.end(`ratings ${req.url}`));
  await new Promise<void>((r) => ratings?.listen(9080, RATINGS, r));
  const z1 = await startNode("node-1", hbonePort);
  await startNode("node-2", hbonePort);
  socks = { host: NODES["node-1"], port: z1.addresses.socks5?.port as number };
  const token = (await cp.tokens.mint("node-2", 3600_000)).token;
  const admin = { host: WAYPOINT, port: 0 };
  waypoint = await startWaypoint(
    {
      gateway: { namespace: "bookinfo", name: "waypoint" },
      node: "node-2",
      controlPlane: `http://127.0.0.1:${cp.xdsAddress.port}`,
      token: () => token,
      dataDir: join(dir, "waypoint"),
      listen: { admin, metrics: admin, readiness: admin },
      hbonePort,
      drainTimeoutMs: 500,
      connectTimeoutMs: 2000,
    },
    bunRuntime,
    logs,
  );
  await ready(WAYPOINT, waypoint.addresses.readiness?.port);
}, 60_000);

afterAll(async () => {
  await waypoint?.drain(200);
  for (const z of ztunnels) await z.drain(200);
  await new Promise((r) => (ratings ? ratings.close(r) : r(undefined)));
  await cp?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe("HTTPFault through the waypoint", () => {
  test("an abort of 50 % answers 503 to 50 % ± 8 points of 400 requests, logged with response_flags FI", async () => {
    await eventually(async () => expect((await get("/warmup")).status).toBe(503));
    records.length = 0;
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
    await applyAndWait(cp, flaky(100));
    await eventually(async () => {
      const got = await Promise.all(Array.from({ length: 10 }, (_, i) => get(`/all/${i}`)));
      expect(got.map((g) => g.status)).toEqual(new Array(10).fill(503));
    });
    await applyAndWait(cp, flaky(0));
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
    expect(cp.hub.warnings).toContainEqual({ resource: "HTTPRoute bookinfo/ratings", message: "spec.rules[2].filters[0] refers to HTTPFault bookinfo/ghost, which does not exist: that rule answers 500" });
  });
});
