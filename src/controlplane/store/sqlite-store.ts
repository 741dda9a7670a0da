/**
 * The SQLite config store: one file in the data directory, opened through the runtime port
 * (WAL, synchronous=FULL, so an acknowledged commit survives a crash).
 *
 * Tables: `resources` holds the current state; `changes` is the change log watchers replay from,
 * trimmed to the newest `historyLimit` revisions; `meta` holds the revision counter. A commit
 * reads, plans (plan.ts) and writes inside one IMMEDIATE transaction, so concurrent writers —
 * even other processes on the same file — serialize. Watchers in this process are told after the
 * transaction commits.
 */
import { randomUUID } from "node:crypto";
import { MeshError } from "../../errors/mesh-error.ts";
import type { SqlDatabase } from "../../runtime/sql.ts";
import { keyString, type ResourceKey, type StoredResource } from "../resources/resource.ts";
import { keysOf, planCommit } from "./plan.ts";
import type { CommitResult, ConfigStore, ListFilter, Watch, WatchEvent, WriteOp } from "./store.ts";

const SCHEMA = `
CREATE TABLE IF NOT EXISTS meta (k TEXT PRIMARY KEY, v INTEGER NOT NULL);
INSERT OR IGNORE INTO meta (k, v) VALUES ('revision', 0), ('compacted', 0);
CREATE TABLE IF NOT EXISTS resources (
  kind TEXT NOT NULL, namespace TEXT NOT NULL, name TEXT NOT NULL,
  revision INTEGER NOT NULL, body TEXT NOT NULL,
  PRIMARY KEY (kind, namespace, name)
);
CREATE TABLE IF NOT EXISTS changes (
  revision INTEGER NOT NULL, seq INTEGER NOT NULL, type TEXT NOT NULL, body TEXT NOT NULL,
  PRIMARY KEY (revision, seq)
);
`;

export interface SqliteStoreOptions {
  readonly db: SqlDatabase;
  /** How many revisions of change history watchers can resume from. */
  readonly historyLimit?: number;
  readonly now?: () => Date;
}

interface Watcher {
  after: number;
  onEvent: (events: readonly WatchEvent[]) => void;
}

export function createSqliteStore(options: SqliteStoreOptions): ConfigStore {
  const { db } = options;
  const historyLimit = options.historyLimit ?? 10_000;
  const now = options.now ?? (() => new Date());
  db.exec(SCHEMA);
  const watchers = new Set<Watcher>();
  let closed = false;

  const metaValue = (k: string) => Number(db.get<{ v: number }>("SELECT v FROM meta WHERE k = ?", [k])?.v ?? 0);
  const parse = (body: string) => JSON.parse(body) as StoredResource;
  const ensureOpen = () => {
    if (closed) throw new MeshError("unavailable", "the config store is closed");
  };

  const readChanges = (after: number): WatchEvent[] =>
    db
      .all<{ revision: number; type: "put" | "delete"; body: string }>("SELECT revision, type, body FROM changes WHERE revision > ? ORDER BY revision, seq", [after])
      .map((r) => ({ type: r.type, revision: String(r.revision), resource: parse(r.body) }));

  // Delivery is always through the microtask queue, so a watcher's backlog (queued when it starts)
  // reaches it before any live event committed after it started.
  const deliver = (w: Watcher, events: readonly WatchEvent[]) =>
    queueMicrotask(() => {
      if (watchers.has(w)) w.onEvent(events);
    });
  const notify = (events: readonly WatchEvent[], revision: number) => {
    for (const w of watchers) {
      if (revision <= w.after) continue;
      w.after = revision;
      deliver(w, events);
    }
  };

  return {
    backend: "sqlite",
    async get(key: ResourceKey) {
      ensureOpen();
      const row = db.get<{ body: string }>("SELECT body FROM resources WHERE kind = ? AND namespace = ? AND name = ?", [key.kind, key.namespace, key.name]);
      return row ? parse(row.body) : undefined;
    },
    async list(filter: ListFilter = {}) {
      ensureOpen();
      return db.transaction(() => {
        const conditions: Array<[string, string]> = [];
        if (filter.kind) conditions.push(["kind = ?", filter.kind]);
        if (filter.namespace !== undefined) conditions.push(["namespace = ?", filter.namespace]);
        const where = conditions.map(([c]) => c);
        const params = conditions.map(([, p]) => p);
        const sql = `SELECT body FROM resources ${where.length ? `WHERE ${where.join(" AND ")}` : ""} ORDER BY kind, namespace, name`;
        return { items: db.all<{ body: string }>(sql, params).map((r) => parse(r.body)), revision: String(metaValue("revision")) };
      });
    },
    async commit(ops: readonly WriteOp[]): Promise<CommitResult> {
      ensureOpen();
      const { result, events, revision } = db.transaction(() => {
        const current = new Map<string, StoredResource>();
        for (const key of keysOf(ops)) {
          const row = db.get<{ body: string }>("SELECT body FROM resources WHERE kind = ? AND namespace = ? AND name = ?", [key.kind, key.namespace, key.name]);
          if (row) current.set(keyString(key), parse(row.body));
        }
        const previous = metaValue("revision");
        const next = previous + 1;
        const plan = planCommit(ops, current, { revision: String(next), now: now().toISOString(), newUid: randomUUID });
        if (plan.writes.length === 0) return { result: { revision: String(previous), results: plan.results }, events: [], revision: previous };
        const events: WatchEvent[] = [];
        plan.writes.forEach((w, seq) => {
          const before = current.get(keyString(w.key));
          if (w.value) {
            const body = JSON.stringify(w.value);
            db.run("INSERT OR REPLACE INTO resources (kind, namespace, name, revision, body) VALUES (?, ?, ?, ?, ?)", [w.key.kind, w.key.namespace, w.key.name, next, body]);
            db.run("INSERT INTO changes (revision, seq, type, body) VALUES (?, ?, 'put', ?)", [next, seq, body]);
            events.push({ type: "put", revision: String(next), resource: w.value });
          } else if (before) {
            db.run("DELETE FROM resources WHERE kind = ? AND namespace = ? AND name = ?", [w.key.kind, w.key.namespace, w.key.name]);
            db.run("INSERT INTO changes (revision, seq, type, body) VALUES (?, ?, 'delete', ?)", [next, seq, JSON.stringify(before)]);
            events.push({ type: "delete", revision: String(next), resource: before });
          }
        });
        db.run("UPDATE meta SET v = ? WHERE k = 'revision'", [next]);
        const floor = next - historyLimit;
        if (floor > 0 && next % 100 === 0) {
          db.run("DELETE FROM changes WHERE revision <= ?", [floor]);
          db.run("UPDATE meta SET v = ? WHERE k = 'compacted'", [floor]);
        }
        return { result: { revision: String(next), results: plan.results }, events, revision: next };
      });
      if (events.length > 0) notify(events, revision);
      return result;
    },
    watch(fromRevision, onEvent, onError): Watch {
      ensureOpen();
      const from = Number(fromRevision);
      const watcher: Watcher = { after: from, onEvent };
      if (!Number.isInteger(from) || from < 0) {
        queueMicrotask(() => onError(new MeshError("invalid_argument", `watch: bad revision "${fromRevision}"`)));
        return { close: () => {} };
      }
      if (from < metaValue("compacted")) {
        queueMicrotask(() => onError(new MeshError("failed_precondition", `watch: revision ${from} is compacted; list again`)));
        return { close: () => {} };
      }
      // Replay what happened since `from` before live events; both run on this thread, so none is missed.
      const backlog = readChanges(from);
      watchers.add(watcher);
      if (backlog.length > 0) {
        watcher.after = Number((backlog[backlog.length - 1] as WatchEvent).revision);
        deliver(watcher, backlog);
      }
      return { close: () => void watchers.delete(watcher) };
    },
    async close() {
      if (closed) return;
      closed = true;
      watchers.clear();
      db.close();
    },
  };
}
