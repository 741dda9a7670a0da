import { describe, expect, test } from "bun:test";
import { HbonePool } from "../hbone/client.ts";
import { bookinfoView, productpage, reviews } from "../state/bookinfo.test-support.ts";
import { MeshState } from "../state/mesh-state.ts";
import { createLogControl } from "../telemetry/log.ts";
import { Upstream } from "./upstream.ts";
import { planUpstream } from "./upstream-plan.ts";

const log = createLogControl({ format: "text", spec: "off" }).logger("test");

describe("upstream connections per hop", () => {
  test("a hop whose endpoint left the mesh (or changed identity) is pruned; the others are kept", () => {
    const pool = new HbonePool({ log });
    const upstream = new Upstream({ pool, credentials: async () => Promise.reject(new Error("not used")), self: () => ({ workload: productpage, address: { address: "10.0.2.10", port: 15008 } }), connectTimeoutMs: 100 });
    const state = new MeshState(bookinfoView);
    for (const target of [
      { kind: "workload" as const, workload: productpage, port: 9080 },
      { kind: "workload" as const, workload: reviews, port: 9080 },
    ]) {
      const hops = planUpstream(state, target, { hbonePort: 15008, start: 0 });
      if (!Array.isArray(hops)) throw hops;
      upstream.agentFor(hops[0]!);
    }
    expect(upstream.hops).toBe(2);
    upstream.prune(state);
    expect(upstream.hops).toBe(2);
    upstream.prune(new MeshState({ ...bookinfoView, workloads: bookinfoView.workloads.filter((w) => w !== reviews) }));
    expect(upstream.hops).toBe(1);
    upstream.prune(new MeshState({ ...bookinfoView, workloads: bookinfoView.workloads.map((w) => (w === productpage ? { ...w, serviceAccount: "someone-else" } : w)) }));
    expect(upstream.hops).toBe(0);
    upstream.close();
    pool.close();
  });
});
