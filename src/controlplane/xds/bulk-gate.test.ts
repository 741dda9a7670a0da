import { describe, expect, test } from "bun:test";
import { BulkGate } from "./bulk-gate.ts";

describe("BulkGate", () => {
  test("at most `limit` holders; waiters go in arrival order; release is idempotent", async () => {
    const gate = new BulkGate(2, 60_000);
    const a = await gate.enter();
    const b = await gate.enter();
    const order: string[] = [];
    const c = gate.enter().then((r) => (order.push("c"), r));
    const d = gate.enter().then((r) => (order.push("d"), r));
    await Promise.resolve();
    expect([gate.active, gate.waiting, order]).toEqual([2, 2, []]);
    a();
    a();
    const releaseC = await c;
    expect([gate.active, gate.waiting, order]).toEqual([2, 1, ["c"]]);
    b();
    (await d)();
    releaseC();
    expect([gate.active, gate.waiting]).toEqual([0, 0]);
  });

  test("a holder that never releases loses its slot after maxHoldMs", async () => {
    const gate = new BulkGate(1, 30);
    await gate.enter(); // never released by the caller
    const started = Date.now();
    const release = await gate.enter();
    expect(Date.now() - started).toBeGreaterThanOrEqual(25);
    release();
  });
});
