/**
 * In-process integration: a real control plane (SQLite store, xDS on loopback h2c) and real xDS
 * clients: initial sync, incremental pushes, removals, NACK isolation, control plane outages and
 * restarts, and the persisted last good config.
 */
import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type RunningControlPlane } from "../src/controlplane/server.ts";
import { createLogControl } from "../src/telemetry/log.ts";
import { XdsClient, type ConfigChange, type Decoder } from "../src/xds/client.ts";
import { AUTHORIZATION_TYPE, SERVICE_TYPE, WAYPOINT_CONFIG_TYPE, WORKLOAD_TYPE } from "../src/xds/type-urls.ts";
import type { AuthorizationView, WaypointConfigView, WorkloadView } from "../src/state/view.ts";
import { WAYPOINT_DECODERS } from "../src/xds/waypoint-wire.ts";
import { DECODERS } from "../src/xds/wire.ts";
import { eventually } from "./support/eventually.ts";
import { applyAndWait, startTestControlPlane, WAYPOINT_YAML } from "./support/control-plane.ts";
import { freePort } from "./support/ports.ts";

const logs = createLogControl({ format: "text", spec: "off" });
const BOOKINFO = readFileSync(new URL("./fixtures/bookinfo.yaml", import.meta.url), "utf8");

let dir: string;
let xdsPort: number;
let cp: RunningControlPlane | undefined;
const clients: XdsClient[] = [];

async function startCp(): Promise<RunningControlPlane> {
  cp = await startTestControlPlane(join(dir, "cp"), { xdsPort });
  return cp;
}

/** Node tokens minted once per test (they survive control-plane restarts: same data dir). */
const tokens = new Map<string, string>();

function client(node: string, options: { decoders?: Record<string, Decoder>; cacheFile?: string; token?: string; role?: string } = {}): XdsClient {
  const c = new XdsClient({
    server: `http://127.0.0.1:${xdsPort}`,
    node,
    role: options.role ?? "ztunnel",
    token: () => options.token ?? tokens.get(node) ?? "",
    decoders: options.decoders ?? DECODERS,
    log: logs.logger("xds-client"),
    backoff: { initialMs: 50, maxMs: 200 },
    ...(options.cacheFile ? { cacheFile: options.cacheFile } : {}),
  });
  clients.push(c);
  c.start();
  return c;
}

async function apply(yaml: string) {
  return applyAndWait(cp as RunningControlPlane, yaml);
}

beforeEach(async () => {
  dir = mkdtempSync(join(tmpdir(), "mesh-xds-"));
  xdsPort = await freePort();
  await startCp();
  await apply(BOOKINFO);
  for (const node of ["node-1", "node-2"]) tokens.set(node, (await (cp as RunningControlPlane).tokens.mint(node, 3600_000)).token);
});
afterEach(async () => {
  for (const c of clients.splice(0)) await c.stop();
  await cp?.close();
  cp = undefined;
  rmSync(dir, { recursive: true, force: true });
});

describe("xDS between the control plane and proxies", () => {
  test("a waypoint on a node gets the configs of the waypoints with a replica there, and follows changes", async () => {
    await apply(`${WAYPOINT_YAML}---
apiVersion: v1
kind: Service
metadata: {name: productpage, namespace: bookinfo, labels: {istio.io/use-waypoint: waypoint}}
spec: {selector: {app: productpage}, clusterIP: 10.96.0.20, ports: [{name: http, port: 9080}]}
`);
    const onNode2 = client("node-2", { role: "waypoint", decoders: WAYPOINT_DECODERS });
    const onNode1 = client("node-1", { role: "waypoint", decoders: WAYPOINT_DECODERS });
    await Promise.all([onNode2.synced(), onNode1.synced()]);
    expect([...onNode1.resources(WAYPOINT_CONFIG_TYPE).keys()]).toEqual([]);
    expect(onNode2.resources<WaypointConfigView>(WAYPOINT_CONFIG_TYPE).get("bookinfo/waypoint")).toMatchObject({
      hbonePort: 15008,
      listeners: [{ kind: "service", key: "bookinfo/productpage.bookinfo.svc.cluster.local", ports: [{ port: 9080, protocol: "http" }] }],
      filters: [],
    });
    expect(onNode2.resources(WORKLOAD_TYPE).size).toBe(4);
    await apply(`apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: get-only, namespace: bookinfo}
spec: {targetRefs: [{kind: Service, group: "", name: productpage}], action: ALLOW, rules: [{to: [{operation: {methods: [GET]}}]}]}
`);
    await eventually(() => expect(onNode2.resources<WaypointConfigView>(WAYPOINT_CONFIG_TYPE).get("bookinfo/waypoint")?.filters.map((f) => f.source)).toEqual(["AuthorizationPolicy bookinfo/get-only"]));
    // A replica moving to node-1 moves the config with it.
    await apply(`apiVersion: networking.istio.io/v1
kind: WorkloadEntry
metadata: {name: waypoint-1, namespace: bookinfo}
spec: {address: 10.0.1.40, node: node-1, serviceAccount: waypoint, labels: {gateway.networking.k8s.io/gateway-name: waypoint}}
`);
    await eventually(() => expect([...onNode1.resources(WAYPOINT_CONFIG_TYPE).keys()]).toEqual(["bookinfo/waypoint"]));
    await eventually(() => expect([...onNode2.resources(WAYPOINT_CONFIG_TYPE).keys()]).toEqual([]));
  });

  test("initial sync: every workload and service; only the node's own authorizations", async () => {
    const node2 = client("node-2");
    const node1 = client("node-1");
    await Promise.all([node2.synced(), node1.synced()]);
    expect([...node2.resources<WorkloadView>(WORKLOAD_TYPE).keys()].sort()).toEqual(["bookinfo/notsleep", "bookinfo/productpage-v1", "bookinfo/sleep"]);
    expect([...node2.resources(SERVICE_TYPE).keys()]).toEqual(["bookinfo/productpage.bookinfo.svc.cluster.local"]);
    expect(node2.resources<WorkloadView>(WORKLOAD_TYPE).get("bookinfo/productpage-v1")).toMatchObject({
      addresses: ["10.0.2.10"],
      serviceAccount: "bookinfo-productpage",
      captured: true,
      authorizationPolicies: ["bookinfo/productpage-viewer"],
    });
    expect(node2.resources<AuthorizationView>(AUTHORIZATION_TYPE).get("bookinfo/productpage-viewer")?.rules[0]?.from[0]?.principals).toEqual(["cluster.local/ns/bookinfo/sa/sleep"]);
    expect([...node1.resources(AUTHORIZATION_TYPE).keys()]).toEqual([]);
    await eventually(() => expect(cp?.hub.proxies.list().items.map((p) => p.node).sort()).toEqual(["node-1", "node-2"]));
  });

  test("a change pushes only what changed; a deletion is a removal", async () => {
    const c = client("node-2");
    await c.synced();
    const changes: ConfigChange[] = [];
    c.onChange((ch) => changes.push(ch));
    await apply(BOOKINFO.replace('principals: ["cluster.local/ns/bookinfo/sa/sleep"]', 'principals: ["cluster.local/ns/bookinfo/sa/sleep", "cluster.local/ns/bookinfo/sa/admin"]'));
    await eventually(() => expect(changes).toEqual([{ typeUrl: AUTHORIZATION_TYPE, updated: ["bookinfo/productpage-viewer"], removed: [] }]));
    await cp?.store.commit([{ type: "delete", key: { kind: "WorkloadEntry", namespace: "bookinfo", name: "notsleep" } }]);
    await eventually(() => expect(changes.at(-1)).toEqual({ typeUrl: WORKLOAD_TYPE, updated: [], removed: ["bookinfo/notsleep"] }));
    expect(c.resources(WORKLOAD_TYPE).has("bookinfo/notsleep")).toBe(false);
  });

  test("a resource the proxy rejects is NACKed alone; the rest applies; the operator sees it", async () => {
    const picky: Record<string, Decoder> = {
      ...DECODERS,
      [WORKLOAD_TYPE]: (name, bytes) => {
        if (name === "bookinfo/notsleep") throw new Error("this proxy refuses notsleep");
        return DECODERS[WORKLOAD_TYPE](name, bytes);
      },
    };
    const c = client("node-1", { decoders: picky });
    await c.synced();
    expect([...c.resources(WORKLOAD_TYPE).keys()].sort()).toEqual(["bookinfo/productpage-v1", "bookinfo/sleep"]);
    await eventually(() => {
      const proxy = cp?.hub.proxies.list().items.find((p) => p.node === "node-1");
      expect(proxy?.nacks.map((n) => [n.typeUrl, n.message])).toEqual([[WORKLOAD_TYPE, "this proxy refuses notsleep"]]);
    });
    const res = await fetch(`http://127.0.0.1:${cp?.apiAddress.port}/api/v1/xds/proxies`, { headers: { authorization: `Bearer ${cp?.adminToken}` } });
    expect(JSON.stringify(await res.json())).toContain("this proxy refuses notsleep");
  });

  test("the proxy keeps its config while the control plane is down, and resyncs without resending", async () => {
    const c = client("node-2");
    await c.synced();
    const before = c.versions(WORKLOAD_TYPE);
    await cp?.close();
    await eventually(() => expect(c.connected).toBe(false));
    expect(c.versions(WORKLOAD_TYPE)).toEqual(before);
    const changes: ConfigChange[] = [];
    c.onChange((ch) => changes.push(ch));
    await startCp();
    await eventually(() => expect(c.connected).toBe(true), { timeoutMs: 10_000 });
    await c.synced();
    expect(changes).toEqual([]);
    await apply(BOOKINFO.replace("address: 10.0.1.10", "address: 10.0.1.12"));
    await eventually(() => expect(c.resources<WorkloadView>(WORKLOAD_TYPE).get("bookinfo/sleep")?.addresses).toEqual(["10.0.1.12"]));
  });

  test("a restarted proxy starts from its persisted config even with no control plane", async () => {
    const cacheFile = join(dir, "ztunnel", "xds-cache.json");
    const first = client("node-2", { cacheFile });
    await first.synced();
    await first.stop();
    await cp?.close();
    cp = undefined;
    const second = client("node-2", { cacheFile });
    expect([...second.resources(WORKLOAD_TYPE).keys()].sort()).toEqual(["bookinfo/notsleep", "bookinfo/productpage-v1", "bookinfo/sleep"]);
    expect(second.resources<AuthorizationView>(AUTHORIZATION_TYPE).get("bookinfo/productpage-viewer")?.action).toBe("allow");
    expect(second.connected).toBe(false);
  });

  test("a stream needs a node token for the node it names", async () => {
    const none = client("node-2", { token: "" });
    const other = client("node-2", { token: tokens.get("node-1") as string });
    await eventually(() => {
      expect(none.lastError).toMatch(/node token is required/);
      expect(other.lastError).toMatch(/token is for node node-1, not node-2/);
    });
    expect([none.connected, other.connected]).toEqual([false, false]);
    expect(none.resources(WORKLOAD_TYPE).size).toBe(0);
  });
});
