/**
 * The etcd config store, for a replicated control plane: every replica commits with etcd
 * transactions and follows every change through an etcd watch.
 *
 * Layout: `<prefix>/resources/<kind>/<namespace>/<name>` → the resource as JSON, without its
 * resourceVersion: that is the key's mod_revision, so it can never disagree with etcd.
 * A commit reads its keys atomically (one txn of ranges), plans (plan.ts), then writes with a txn
 * that compares every key's mod_revision with what was read; if another writer got in between,
 * it reads and plans again (a stale expectedVersion then fails as a conflict in the plan).
 * Watches resume from the last revision they delivered when the stream breaks (a member dies);
 * only compaction past that revision is reported to the caller.
 */
import { randomUUID } from "node:crypto";
import { MeshError } from "../../errors/mesh-error.ts";
import { compareResources, keyString, type ResourceKey, type StoredResource } from "../resources/resource.ts";
import { EtcdClient, type EtcdKv } from "./etcd-client.ts";
import { keysOf, planCommit } from "./plan.ts";
import type { CommitResult, ConfigStore, ListFilter, Watch, WatchEvent, WriteOp } from "./store.ts";

export interface EtcdStoreOptions {
  readonly endpoints: readonly string[];
  readonly prefix?: string;
  readonly now?: () => Date;
  /** How often a commit re-plans after losing a race before giving up. */
  readonly maxRetries?: number;
}

const PENDING = "pending";

export function createEtcdStore(options: EtcdStoreOptions): ConfigStore {
  const client = new EtcdClient(options.endpoints);
  const root = `${(options.prefix ?? "/mesh").replace(/\/+$/, "")}/resources/`;
  const now = options.now ?? (() => new Date());
  const maxRetries = options.maxRetries ?? 20;
  const watches = new Set<{ close(): void }>();
  let closed = false;

  const keyPath = (k: ResourceKey) => `${root}${k.kind}/${k.namespace}/${k.name}`;
  const decode = (kv: EtcdKv): StoredResource => {
    const r = JSON.parse(kv.value) as StoredResource;
    return { ...r, metadata: { ...r.metadata, resourceVersion: kv.modRevision } };
  };
  const encode = (r: StoredResource) => {
    const { resourceVersion: _rv, ...metadata } = r.metadata;
    return JSON.stringify({ ...r, metadata });
  };
  const ensureOpen = () => {
    if (closed) throw new MeshError("unavailable", "the config store is closed");
  };

  async function commitOnce(ops: readonly WriteOp[]): Promise<CommitResult | null> {
    const keys = keysOf(ops);
    const read = await client.rangeMany(keys.map(keyPath));
    const current = new Map<string, StoredResource>();
    const modRevisions = new Map<string, string>();
    for (const kv of read.kvs) {
      const r = decode(kv);
      current.set(keyString({ kind: r.kind, namespace: r.metadata.namespace, name: r.metadata.name }), r);
      modRevisions.set(kv.key, kv.modRevision);
    }
    const plan = planCommit(ops, current, { revision: PENDING, now: now().toISOString(), newUid: randomUUID });
    if (plan.writes.length === 0) return { revision: read.revision, results: plan.results };
    const compares = [...new Set(keys.map(keyPath))].map((path) =>
      modRevisions.has(path) ? { key: path, modRevision: modRevisions.get(path) as string } : { key: path, absent: true },
    );
    const txn = await client.txn(
      compares,
      plan.writes.map((w) => (w.value ? { put: { key: keyPath(w.key), value: encode(w.value) } } : { delete: { key: keyPath(w.key) } })),
    );
    if (!txn.succeeded) return null;
    const stamp = (r: StoredResource): StoredResource =>
      r.metadata.resourceVersion === PENDING ? { ...r, metadata: { ...r.metadata, resourceVersion: txn.revision } } : r;
    return { revision: txn.revision, results: plan.results.map((x) => ({ outcome: x.outcome, resource: stamp(x.resource) })) };
  }

  return {
    backend: "etcd",
    async get(key) {
      ensureOpen();
      const { kvs } = await client.range(keyPath(key));
      return kvs[0] ? decode(kvs[0]) : undefined;
    },
    async list(filter: ListFilter = {}) {
      ensureOpen();
      const prefix = filter.kind ? `${root}${filter.kind}/${filter.namespace !== undefined ? `${filter.namespace}/` : ""}` : root;
      const { kvs, revision } = await client.range(prefix, { prefix: true });
      let items = kvs.map(decode);
      if (!filter.kind && filter.namespace !== undefined) items = items.filter((r) => r.metadata.namespace === filter.namespace);
      items.sort(compareResources);
      return { items, revision };
    },
    async commit(ops) {
      ensureOpen();
      for (let attempt = 0; attempt <= maxRetries; attempt++) {
        const result = await commitOnce(ops);
        if (result) return result;
      }
      throw new MeshError("unavailable", `etcd: commit lost the race ${maxRetries + 1} times in a row; retry later`);
    },
    watch(fromRevision, onEvent, onError): Watch {
      ensureOpen();
      let last = fromRevision;
      let cancel: (() => void) | null = null;
      let stopped = false;
      let backoffMs = 100;
      const handle = { close: () => {
        stopped = true;
        watches.delete(handle);
        cancel?.();
      } };
      watches.add(handle);
      const start = async (): Promise<void> => {
        if (stopped) return;
        try {
          const w = await client.watch(
            root,
            String(Number(last) + 1),
            (events, revision) => {
              backoffMs = 100;
              const out: WatchEvent[] = events.map((e) =>
                e.type === "PUT"
                  ? { type: "put", revision: e.kv.modRevision, resource: decode(e.kv) }
                  : { type: "delete", revision: e.kv.modRevision, resource: decode(e.prevKv as EtcdKv) },
              );
              last = out.length > 0 ? (out[out.length - 1] as WatchEvent).revision : revision;
              if (!stopped) onEvent(out);
            },
            (err, compacted) => {
              if (stopped) return;
              if (compacted) {
                stopped = true;
                watches.delete(handle);
                return onError(err);
              }
              setTimeout(() => void start(), backoffMs);
              backoffMs = Math.min(backoffMs * 2, 2000);
            },
          );
          cancel = w.cancel;
          if (stopped) w.cancel();
        } catch {
          if (stopped) return;
          setTimeout(() => void start(), backoffMs);
          backoffMs = Math.min(backoffMs * 2, 2000);
        }
      };
      void start();
      return handle;
    },
    async close() {
      closed = true;
      for (const w of [...watches]) w.close();
    },
  };
}
