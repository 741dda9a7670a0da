/**
 * The push hub's incremental builds must equal a full translation: a seeded sequence of workload
 * changes (with the odd service or policy change forcing a full build) against a real SQLite
 * store, comparing every resource's content-hash version with a from-scratch translation.
 */
import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { eventually } from "../../../test/support/eventually.ts";
import { bunRuntime } from "../../runtime/bun.ts";
import { createLogControl } from "../../telemetry/log.ts";
import { MetricsRegistry } from "../../telemetry/metrics.ts";
import { AUTHORIZATION_TYPE, SERVICE_TYPE, WAYPOINT_CONFIG_TYPE, WORKLOAD_TYPE } from "../../xds/type-urls.ts";
import { encodeWaypointConfig } from "../../xds/waypoint-wire.ts";
import { planApply } from "../api/apply.ts";
import { createSqliteStore } from "../store/sqlite-store.ts";
import type { ConfigStore } from "../store/store.ts";
import { DEFAULT_TRANSLATE_OPTIONS, snapshotOf } from "../translate/snapshot.ts";
import { waypointsOf } from "../translate/waypoint-view.ts";
import { translateMesh, viewForNode } from "../translate/ztunnel-view.ts";
import { PushHub } from "./push-hub.ts";
import { encodeZtunnelView, ResourceEncoder, type ResourceIndex } from "./resources.ts";

let dir: string;
let store: ConfigStore;
let hub: PushHub;

beforeEach(async () => {
  dir = mkdtempSync(join(tmpdir(), "mesh-hub-"));
  store = createSqliteStore({ db: bunRuntime.openDatabase(join(dir, "store.db")) });
  hub = new PushHub({ store, translate: DEFAULT_TRANSLATE_OPTIONS, log: createLogControl({ format: "text", spec: "off" }).logger("hub"), metrics: new MetricsRegistry(), debounceMs: 0 });
  await hub.start();
});
afterEach(async () => {
  hub.close();
  await store.close();
  rmSync(dir, { recursive: true, force: true });
});

const versions = (index: ResourceIndex, typeUrl: string) => Object.fromEntries([...(index.get(typeUrl) ?? [])].map(([n, r]) => [n, r.version]).sort());

async function fromScratch(node: string) {
  const mesh = translateMesh(snapshotOf((await store.list()).items), DEFAULT_TRANSLATE_OPTIONS);
  return encodeZtunnelView(viewForNode(mesh, node), new ResourceEncoder());
}

/** Commit and, when it changed anything, wait for the hub's next build. */
async function commit(yaml: string) {
  const before = hub.build;
  const result = await store.commit(planApply(yaml, "test").ops);
  if (result.results.some((r) => r.outcome !== "unchanged")) await eventually(() => expect(hub.build).toBeGreaterThan(before));
}

const we = (i: number, node: number, app: string, sa: string) =>
  `apiVersion: networking.istio.io/v1\nkind: WorkloadEntry\nmetadata: {name: w${i}, namespace: bookinfo}\nspec: {address: 10.0.${node}.${i}, node: node-${node}, labels: {app: ${app}}, serviceAccount: ${sa}}\n`;

describe("push hub", () => {
  test("incremental builds after workload changes equal a full translation (seeded)", async () => {
    await commit(readFileSync(new URL("../../../test/fixtures/bookinfo.yaml", import.meta.url), "utf8"));
    let seed = 1234;
    const rnd = (n: number) => ((seed = (seed * 1103515245 + 12345) >>> 0) % n);
    const apps = ["productpage", "sleep", "notsleep", "reviews"];
    for (let step = 0; step < 40; step++) {
      const roll = rnd(10);
      if (roll < 6) await commit(we(rnd(12), 1 + rnd(2), apps[rnd(4)] as string, `sa${rnd(3)}`));
      else if (roll < 8) {
        const i = rnd(12);
        if (await store.get({ kind: "WorkloadEntry", namespace: "bookinfo", name: `w${i}` })) {
          const before = hub.build;
          await store.commit([{ type: "delete", key: { kind: "WorkloadEntry", namespace: "bookinfo", name: `w${i}` } }]);
          await eventually(() => expect(hub.build).toBeGreaterThan(before));
        }
      } else if (roll < 9) {
        await commit(`apiVersion: v1\nkind: Service\nmetadata: {name: reviews, namespace: bookinfo}\nspec: {selector: {app: reviews}, ports: [{port: ${9000 + rnd(5)}}]}\n`);
      } else {
        await commit(
          `apiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\nmetadata: {name: p, namespace: bookinfo}\nspec: {selector: {matchLabels: {app: ${apps[rnd(4)]}}}, rules: [{from: [{source: {namespaces: [ns${rnd(3)}]}}]}]}\n`,
        );
      }
      for (const node of ["node-1", "node-2"]) {
        const expected = await fromScratch(node);
        const actual = hub.ztunnelResources(node);
        for (const typeUrl of [WORKLOAD_TYPE, SERVICE_TYPE, AUTHORIZATION_TYPE]) {
          expect({ step, node, typeUrl, v: versions(actual, typeUrl) }).toEqual({ step, node, typeUrl, v: versions(expected, typeUrl) });
        }
      }
    }
  });

  test("changing an HTTPFault a route names pushes a new waypoint config", async () => {
    await commit(`apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: waypoint, namespace: bookinfo}
spec: {gatewayClassName: istio-waypoint, listeners: [{name: mesh, port: 15008, protocol: HBONE}]}
---
apiVersion: v1
kind: Service
metadata: {name: ratings, namespace: bookinfo, labels: {istio.io/use-waypoint: waypoint}}
spec: {selector: {app: ratings}, ports: [{name: http, port: 9080}]}
---
apiVersion: networking.istio.io/v1
kind: WorkloadEntry
metadata: {name: waypoint-1, namespace: bookinfo}
spec: {address: 10.0.3.1, node: node-2, serviceAccount: waypoint, labels: {gateway.networking.k8s.io/gateway-name: waypoint}}
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: ratings, namespace: bookinfo}
spec:
  parentRefs: [{group: "", kind: Service, name: ratings, port: 9080}]
  rules: [{filters: [{type: ExtensionRef, extensionRef: {group: mesh.dev, kind: HTTPFault, name: flaky}}], backendRefs: [{name: ratings, port: 9080}]}]
`);
    const pushed = () => hub.waypointResources("node-2").get(WAYPOINT_CONFIG_TYPE)?.get("bookinfo/waypoint")?.version;
    const expected = async () => {
      const snapshot = snapshotOf((await store.list()).items);
      const config = waypointsOf(snapshot, translateMesh(snapshot, DEFAULT_TRANSLATE_OPTIONS), DEFAULT_TRANSLATE_OPTIONS, () => {})[0];
      if (!config) throw new Error("no waypoint config");
      return new ResourceEncoder().encodeValue(WAYPOINT_CONFIG_TYPE, "bookinfo/waypoint", config, encodeWaypointConfig).version;
    };
    const versions = [pushed()];
    for (const percentage of [10, 90]) {
      await commit(`apiVersion: mesh.dev/v1\nkind: HTTPFault\nmetadata: {name: flaky, namespace: bookinfo}\nspec: {abort: {httpStatus: 503, percentage: ${percentage}}}\n`);
      expect(pushed()).toBe(await expected());
      versions.push(pushed());
    }
    expect(new Set(versions).size).toBe(3);
  });
});
