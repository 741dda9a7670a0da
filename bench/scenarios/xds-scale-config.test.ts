import { expect, test } from "bun:test";
import { planApply } from "../../src/controlplane/api/apply.ts";
import { LIMITS } from "../../src/controlplane/resources/parse.ts";
import type { Resource } from "../../src/controlplane/resources/resource.ts";
import { DEFAULT_TRANSLATE_OPTIONS, snapshotOf } from "../../src/controlplane/translate/snapshot.ts";
import { translateMesh, viewForNode } from "../../src/controlplane/translate/ztunnel-view.ts";
import { applyBatches } from "../lib/apply-batches.ts";
import { CHANGE_LABEL, expectedPerNode, meshDocs, nodeName, workloadDoc, workloadResourceName, type MeshShape } from "./xds-scale-config.ts";

const shape: MeshShape = { workloads: 200, services: 20, policies: 15, nodes: 7, namespaces: 3 };

test("every batch is a valid apply within the API's limits, and together they are the whole mesh", () => {
  const resources: Resource[] = [];
  for (const batch of applyBatches(meshDocs(shape), 50)) {
    expect(batch.count).toBeLessThanOrEqual(50);
    expect(batch.body.length).toBeLessThan(LIMITS.maxBytes);
    resources.push(...planApply(batch.body, "batch").ops.map((op) => (op.type === "put" ? op.resource : (undefined as never))));
  }
  expect(resources.length).toBe(3 + 20 + 200 + 15);
  const mesh = translateMesh(snapshotOf(resources), DEFAULT_TRANSLATE_OPTIONS);
  expect(mesh.warnings).toEqual([]);
  for (let n = 0; n < shape.nodes; n++) {
    const view = viewForNode(mesh, nodeName(n));
    expect({ workloads: view.workloads.length, services: view.services.length, authorizations: view.authorizations.length }).toEqual(expectedPerNode(shape, n));
  }
  // every service selects its share of workloads
  expect(mesh.workloads.every((w) => Object.keys(w.services).length === 1)).toBe(true);
  expect(mesh.workloads.map((w) => `${w.namespace}/${w.name}`)).toContain(workloadResourceName(shape, 123));
});

test("a change touches one label no selector uses", () => {
  const before = workloadDoc(shape, 5) as { spec: { labels: Record<string, string> } };
  const after = workloadDoc(shape, 5, 3) as { spec: { labels: Record<string, string> } };
  expect(after.spec.labels).toEqual({ ...before.spec.labels, [CHANGE_LABEL]: "3" });
  expect(planApply(JSON.stringify(after), "change").ops).toHaveLength(1);
});
