import { describe, expect, test } from "bun:test";
import { SelectorIndex } from "./selector-index.ts";
import { selectorMatches } from "./snapshot.ts";

describe("SelectorIndex", () => {
  test("finds exactly what a scan with selectorMatches finds (seeded property)", () => {
    let seed = 7;
    const rnd = (n: number) => ((seed = (seed * 1103515245 + 12345) >>> 0) % n);
    const keys = ["app", "version", "tier", "team"];
    const label = () => Object.fromEntries(keys.filter(() => rnd(2) === 0).map((k) => [k, `v${rnd(3)}`]));
    const selectors = Array.from({ length: 200 }, (_, i) => ({ ns: `ns${rnd(3)}`, sel: label(), id: i })).filter((s) => Object.keys(s.sel).length > 0);
    const index = new SelectorIndex<number>();
    for (const s of selectors) index.add(s.ns, s.sel, s.id);
    for (let i = 0; i < 500; i++) {
      const ns = `ns${rnd(3)}`;
      const labels = label();
      const expected = selectors.filter((s) => s.ns === ns && selectorMatches(s.sel, labels)).map((s) => s.id);
      expect(index.matches(ns, labels)).toEqual(expected);
    }
  });
  test("other namespaces and unlabelled workloads match nothing", () => {
    const index = new SelectorIndex<string>();
    index.add("a", { app: "x" }, "svc");
    expect(index.matches("b", { app: "x" })).toEqual([]);
    expect(index.matches("a", {})).toEqual([]);
    expect(() => index.add("a", {}, "bad")).toThrow();
  });
});
