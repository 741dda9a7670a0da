/**
 * The decision half of a commit, shared by every backend: given what is stored now for the keys a
 * commit touches, check its conditions and compute what to write. Pure: the new revision, the
 * clock and the uid source are parameters.
 */
import { MeshError } from "../../errors/mesh-error.ts";
import { describeKey, keyOf, keyString, type ResourceKey, type StoredResource } from "../resources/resource.ts";
import type { ChangeOutcome, WriteOp } from "./store.ts";

export interface PlannedWrite {
  readonly key: ResourceKey;
  /** null: delete the key. */
  readonly value: StoredResource | null;
}

export interface CommitPlan {
  readonly writes: readonly PlannedWrite[];
  readonly results: ReadonlyArray<{ readonly outcome: ChangeOutcome; readonly resource: StoredResource }>;
}

export interface PlanContext {
  readonly revision: string;
  readonly now: string;
  readonly newUid: () => string;
}

function sameContent(a: StoredResource, b: { apiVersion: string; metadata: { labels: object; annotations: object }; spec: unknown }): boolean {
  return (
    a.apiVersion === b.apiVersion &&
    canonical(a.metadata.labels) === canonical(b.metadata.labels) &&
    canonical(a.metadata.annotations) === canonical(b.metadata.annotations) &&
    canonical(a.spec) === canonical(b.spec)
  );
}

/** JSON with sorted object keys, so key order in a document does not count as a change. */
export function canonical(value: unknown): string {
  return JSON.stringify(value, (_k, v: unknown) =>
    v && typeof v === "object" && !Array.isArray(v) ? Object.fromEntries(Object.entries(v).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) : v,
  );
}

export function keysOf(ops: readonly WriteOp[]): ResourceKey[] {
  return ops.map((op) => (op.type === "put" ? keyOf(op.resource) : op.key));
}

/** `current` maps keyString → stored resource (absent keys: not stored). Throws MeshError on a failed condition. */
export function planCommit(ops: readonly WriteOp[], current: ReadonlyMap<string, StoredResource>, ctx: PlanContext): CommitPlan {
  const state = new Map(current);
  const writes = new Map<string, PlannedWrite>();
  const results: Array<{ outcome: ChangeOutcome; resource: StoredResource }> = [];
  for (const op of ops) {
    const key = op.type === "put" ? keyOf(op.resource) : op.key;
    const ks = keyString(key);
    const existing = state.get(ks);
    if (op.expectedVersion !== undefined && existing?.metadata.resourceVersion !== op.expectedVersion) {
      throw new MeshError(
        "conflict",
        `${describeKey(key)}: resourceVersion ${op.expectedVersion} is stale (stored: ${existing?.metadata.resourceVersion ?? "none, it does not exist"}); read it again and retry`,
        { detail: { path: "metadata.resourceVersion" } },
      );
    }
    if (op.type === "delete") {
      if (!existing) throw new MeshError("not_found", `${describeKey(key)} not found`);
      state.delete(ks);
      writes.set(ks, { key, value: null });
      results.push({ outcome: "deleted", resource: existing });
      continue;
    }
    if (op.createOnly && existing) throw new MeshError("already_exists", `${describeKey(key)} already exists`);
    if (existing && sameContent(existing, op.resource)) {
      results.push({ outcome: "unchanged", resource: existing });
      continue;
    }
    const specChanged = !existing || canonical(existing.spec) !== canonical(op.resource.spec);
    const stored: StoredResource = {
      apiVersion: op.resource.apiVersion,
      kind: op.resource.kind,
      metadata: {
        name: key.name,
        namespace: key.namespace,
        labels: op.resource.metadata.labels,
        annotations: op.resource.metadata.annotations,
        uid: existing?.metadata.uid ?? ctx.newUid(),
        resourceVersion: ctx.revision,
        generation: existing ? existing.metadata.generation + (specChanged ? 1 : 0) : 1,
        creationTimestamp: existing?.metadata.creationTimestamp ?? ctx.now,
      },
      spec: op.resource.spec,
    };
    state.set(ks, stored);
    writes.set(ks, { key, value: stored });
    results.push({ outcome: existing ? "updated" : "created", resource: stored });
  }
  return { writes: [...writes.values()], results };
}
