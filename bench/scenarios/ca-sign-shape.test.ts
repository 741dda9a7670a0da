import { expect, test } from "bun:test";
import { planApply } from "../../src/controlplane/api/apply.ts";
import { LIMITS } from "../../src/controlplane/resources/parse.ts";
import type { Resource } from "../../src/controlplane/resources/resource.ts";
import { DEFAULT_TRANSLATE_OPTIONS, snapshotOf } from "../../src/controlplane/translate/snapshot.ts";
import { translateMesh } from "../../src/controlplane/translate/ztunnel-view.ts";
import { parseSpiffeId } from "../../src/identity/spiffe.ts";
import { applyBatches } from "../lib/apply-batches.ts";
import { caDocs, nodeOf, percentile, spiffeIdOf, type CaShape } from "./ca-sign-shape.ts";

const shape: CaShape = { workloads: 250, nodes: 7, namespaces: 3, trustDomain: "cluster.local" };

test("the batches are valid applies within the API's limits and bind each identity to the node that asks for it", () => {
  const resources: Resource[] = [];
  for (const batch of applyBatches(caDocs(shape), 100)) {
    expect(batch.count).toBeLessThanOrEqual(100);
    expect(batch.body.length).toBeLessThan(LIMITS.maxBytes);
    resources.push(...planApply(batch.body, "batch").ops.map((op) => (op.type === "put" ? op.resource : (undefined as never))));
  }
  expect(resources.length).toBe(3 + 250);
  const mesh = translateMesh(snapshotOf(resources), DEFAULT_TRANSLATE_OPTIONS);
  expect(mesh.warnings).toEqual([]);
  // What the CA's binding check (push-hub isBound) sees: node, namespace and service account of each workload.
  const bound = new Set(mesh.workloads.map((w) => `${w.node}/${w.namespace}/${w.serviceAccount}`));
  expect(bound.size).toBe(250);
  for (const i of [0, 1, 6, 7, 123, 249]) {
    const id = parseSpiffeId(spiffeIdOf(shape, i));
    expect(id.trustDomain).toBe("cluster.local");
    expect(bound.has(`${nodeOf(shape, i)}/${id.namespace}/${id.serviceAccount}`)).toBe(true);
  }
});

test("percentile is the nearest rank", () => {
  const v = Array.from({ length: 100 }, (_, i) => 100 - i);
  expect(percentile(v, 50)).toBe(50);
  expect(percentile(v, 99)).toBe(99);
  expect(percentile([], 50)).toBeNaN();
});
