/**
 * The config store contract: what every backend must do, run by sqlite-store.test.ts and
 * etcd-store.test.ts against real databases.
 */
import { describe, expect, test } from "bun:test";
import { eventually } from "../../../test/support/eventually.ts";
import { isMeshError } from "../../errors/mesh-error.ts";
import type { Resource } from "../resources/resource.ts";
import type { ConfigStore, WatchEvent } from "./store.ts";

export interface StoreHarness {
  /** A fresh, empty store. */
  open(): Promise<ConfigStore>;
  /** Close `store` and open the same data again (a control-plane restart). */
  reopen(store: ConfigStore): Promise<ConfigStore>;
  /** Release everything the harness created. */
  cleanup(): Promise<void>;
}

function svc(name: string, port = 9080, labels: Record<string, string> = {}, namespace = "default"): Resource {
  return { apiVersion: "v1", kind: "Service", metadata: { name, namespace, labels, annotations: {} }, spec: { ports: [{ port }] } };
}

const KEY = (name: string, namespace = "default") => ({ kind: "Service", namespace, name });

async function expectCode(p: Promise<unknown>, code: "conflict" | "not_found" | "already_exists") {
  try {
    await p;
  } catch (err) {
    if (isMeshError(err, code)) return err;
    throw err;
  }
  throw new Error(`expected a ${code} error`);
}

function collect(store: ConfigStore, from: string) {
  const events: WatchEvent[] = [];
  const errors: Error[] = [];
  const w = store.watch(from, (batch) => events.push(...batch), (e) => errors.push(e));
  return { events, errors, close: () => w.close() };
}

export function storeContract(name: string, harness: () => StoreHarness) {
  describe(`config store contract: ${name}`, () => {
    const withStore = (fn: (store: ConfigStore, h: StoreHarness) => Promise<void>) => async () => {
      const h = harness();
      let store = await h.open();
      try {
        await fn(store, {
          ...h,
          reopen: async (s) => (store = await h.reopen(s)),
        });
      } finally {
        await store.close().catch(() => {});
        await h.cleanup();
      }
    };

    test(
      "creates, reads and lists with server-managed metadata",
      withStore(async (store) => {
        const before = await store.list();
        expect(before.items).toEqual([]);
        const r = await store.commit([{ type: "put", resource: svc("a") }, { type: "put", resource: svc("b", 80, {}, "other") }]);
        expect(r.results.map((x) => x.outcome)).toEqual(["created", "created"]);
        expect(Number(r.revision)).toBeGreaterThan(Number(before.revision));
        const a = await store.get(KEY("a"));
        expect(a?.metadata).toMatchObject({ name: "a", namespace: "default", resourceVersion: r.revision, generation: 1 });
        expect(a?.metadata.uid).toMatch(/^[0-9a-f-]{36}$/);
        expect(Date.parse(a?.metadata.creationTimestamp ?? "")).not.toBeNaN();
        expect((await store.list()).items.map((i) => i.metadata.name)).toEqual(["a", "b"]);
        expect((await store.list({ namespace: "other" })).items.map((i) => i.metadata.name)).toEqual(["b"]);
        expect((await store.list({ kind: "Namespace" })).items).toEqual([]);
        expect(await store.get(KEY("missing"))).toBeUndefined();
      }),
    );

    test(
      "updates bump resourceVersion; generation moves only with the spec; re-applying the same thing writes nothing",
      withStore(async (store) => {
        const c = await store.commit([{ type: "put", resource: svc("a") }]);
        const same = await store.commit([{ type: "put", resource: svc("a") }]);
        expect(same.results[0]?.outcome).toBe("unchanged");
        expect(same.revision).toBe(c.revision);
        const relabel = await store.commit([{ type: "put", resource: svc("a", 9080, { v: "1" }) }]);
        expect(relabel.results[0]?.resource.metadata).toMatchObject({ generation: 1, resourceVersion: relabel.revision, uid: c.results[0]?.resource.metadata.uid });
        const respec = await store.commit([{ type: "put", resource: svc("a", 9090, { v: "1" }) }]);
        expect(respec.results[0]?.resource.metadata.generation).toBe(2);
        expect(Number(respec.revision)).toBeGreaterThan(Number(relabel.revision));
      }),
    );

    test(
      "compare-and-swap: a stale resourceVersion is a conflict and changes nothing",
      withStore(async (store) => {
        const c = await store.commit([{ type: "put", resource: svc("a") }]);
        const rv = c.results[0]?.resource.metadata.resourceVersion as string;
        await store.commit([{ type: "put", resource: svc("a", 1), expectedVersion: rv }]);
        const err = await expectCode(store.commit([{ type: "put", resource: svc("a", 2), expectedVersion: rv }]), "conflict");
        expect(String(err)).toContain("stale");
        expect((await store.get(KEY("a")))?.spec).toEqual({ ports: [{ port: 1 }] });
        await expectCode(store.commit([{ type: "put", resource: svc("a", 3), createOnly: true }]), "already_exists");
        await expectCode(store.commit([{ type: "put", resource: svc("new"), expectedVersion: "1" }]), "conflict");
      }),
    );

    test(
      "a multi-resource commit is all-or-nothing",
      withStore(async (store) => {
        const c = await store.commit([{ type: "put", resource: svc("a") }]);
        await expectCode(
          store.commit([
            { type: "put", resource: svc("b") },
            { type: "put", resource: svc("a", 1), expectedVersion: "999999" },
          ]),
          "conflict",
        );
        expect(await store.get(KEY("b"))).toBeUndefined();
        expect((await store.list()).revision).toBe(c.revision);
      }),
    );

    test(
      "deletes: not_found, conditional, and the watch sees the last state",
      withStore(async (store) => {
        await expectCode(store.commit([{ type: "delete", key: KEY("nope") }]), "not_found");
        const c = await store.commit([{ type: "put", resource: svc("a") }]);
        const w = collect(store, c.revision);
        await expectCode(store.commit([{ type: "delete", key: KEY("a"), expectedVersion: "0" }]), "conflict");
        const d = await store.commit([{ type: "delete", key: KEY("a"), expectedVersion: c.revision }]);
        expect(d.results[0]?.outcome).toBe("deleted");
        expect(await store.get(KEY("a"))).toBeUndefined();
        await eventually(() => expect(w.events.map((e) => [e.type, e.resource.metadata.name, e.revision])).toEqual([["delete", "a", d.revision]]));
        w.close();
      }),
    );

    test(
      "watch replays history after a revision, then follows live changes in order",
      withStore(async (store) => {
        const r1 = await store.commit([{ type: "put", resource: svc("a") }]);
        const r2 = await store.commit([{ type: "put", resource: svc("b") }]);
        const w = collect(store, r1.revision);
        const r3 = await store.commit([{ type: "put", resource: svc("c") }, { type: "put", resource: svc("a", 1) }]);
        await eventually(() =>
          expect(w.events.map((e) => `${e.type}:${e.resource.metadata.name}@${e.revision}`)).toEqual([
            `put:b@${r2.revision}`,
            `put:c@${r3.revision}`,
            `put:a@${r3.revision}`,
          ]),
        );
        w.close();
        await store.commit([{ type: "put", resource: svc("d") }]);
        const all = collect(store, "0");
        await eventually(() => expect(all.events.map((e) => e.resource.metadata.name)).toEqual(["a", "b", "c", "a", "d"]));
        all.close();
        expect(w.events).toHaveLength(3);
        expect(w.errors).toEqual([]);
      }),
    );

    test(
      "concurrent compare-and-swap writers: exactly one wins each round",
      withStore(async (store) => {
        let current = (await store.commit([{ type: "put", resource: svc("counter", 1) }])).revision;
        for (let round = 0; round < 3; round++) {
          const attempts = await Promise.allSettled(
            Array.from({ length: 8 }, (_, i) => store.commit([{ type: "put", resource: svc("counter", 100 + round * 10 + i), expectedVersion: current }])),
          );
          const won = attempts.filter((a) => a.status === "fulfilled");
          expect(won).toHaveLength(1);
          for (const a of attempts) if (a.status === "rejected") expect(isMeshError(a.reason, "conflict")).toBe(true);
          current = (won[0] as PromiseFulfilledResult<{ revision: string }>).value.revision;
        }
      }),
    );

    test(
      "what was acknowledged survives a restart",
      withStore(async (store, h) => {
        const c = await store.commit([{ type: "put", resource: svc("a") }, { type: "put", resource: svc("b") }]);
        await store.commit([{ type: "delete", key: KEY("b") }]);
        const again = await h.reopen(store);
        const listed = await again.list();
        expect(listed.items.map((i) => [i.metadata.name, i.metadata.resourceVersion])).toEqual([["a", c.revision]]);
        expect(Number(listed.revision)).toBeGreaterThan(Number(c.revision));
        const next = await again.commit([{ type: "put", resource: svc("z") }]);
        expect(Number(next.revision)).toBeGreaterThan(Number(listed.revision));
      }),
    );
  });
}
