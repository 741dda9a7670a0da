/**
 * The config store interface both backends (SQLite, etcd) implement and one contract suite checks.
 *
 * Invariants:
 * - Every commit is atomic: all its operations apply at one new store revision, or none do.
 * - A resource's resourceVersion is the revision of the commit that last changed it; revisions
 *   only grow, so "newer" is a numeric comparison.
 * - A put that changes nothing (same apiVersion, labels, annotations and spec) writes nothing and
 *   keeps its resourceVersion, so re-applying a file causes no pushes.
 * - Watchers see every change after the revision they start from, in revision order, exactly once.
 */
import type { ResourceKey, Resource, StoredResource } from "../resources/resource.ts";

export interface PutOp {
  readonly type: "put";
  readonly resource: Resource;
  /** Compare-and-swap: the write applies only if the stored resourceVersion is this one. */
  readonly expectedVersion?: string;
  /** The write applies only if the resource does not exist yet. */
  readonly createOnly?: boolean;
}

export interface DeleteOp {
  readonly type: "delete";
  readonly key: ResourceKey;
  readonly expectedVersion?: string;
}

export type WriteOp = PutOp | DeleteOp;

export type ChangeOutcome = "created" | "updated" | "unchanged" | "deleted";

export interface CommitResult {
  /** The store revision after the commit (unchanged when nothing was written). */
  readonly revision: string;
  /** One per op, in order: the resource as stored now (for deletes, as it was before). */
  readonly results: ReadonlyArray<{ readonly outcome: ChangeOutcome; readonly resource: StoredResource }>;
}

export interface WatchEvent {
  readonly type: "put" | "delete";
  readonly revision: string;
  /** For deletes, the resource as it was before. */
  readonly resource: StoredResource;
}

export interface ListFilter {
  readonly kind?: string;
  readonly namespace?: string;
}

export interface Watch {
  close(): void;
}

export interface ConfigStore {
  readonly backend: "sqlite" | "etcd";
  get(key: ResourceKey): Promise<StoredResource | undefined>;
  /** A consistent snapshot, with the revision it was taken at (start a watch from it). */
  list(filter?: ListFilter): Promise<{ readonly items: StoredResource[]; readonly revision: string }>;
  commit(ops: readonly WriteOp[]): Promise<CommitResult>;
  /**
   * Deliver every change after `fromRevision`. `onError` is called once if the watch cannot go on
   * (e.g. the history before fromRevision was compacted: MeshError "failed_precondition"); the
   * caller then lists again and starts a new watch.
   */
  watch(fromRevision: string, onEvent: (events: readonly WatchEvent[]) => void, onError: (err: Error) => void): Watch;
  close(): Promise<void>;
}
