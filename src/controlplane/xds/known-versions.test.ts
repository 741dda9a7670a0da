import { describe, expect, test } from "bun:test";
import { KnownVersions } from "./known-versions.ts";
import type { EncodedResource } from "./resources.ts";

const index = (entries: Record<string, string>): Map<string, EncodedResource> =>
  new Map(Object.entries(entries).map(([name, version]) => [name, { name, version } as EncodedResource]));

describe("KnownVersions", () => {
  test("behaves as a plain name → version map under random operations (seeded)", () => {
    let seed = 7;
    const rand = (n: number) => Math.floor((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31 * n);
    const names = Array.from({ length: 40 }, (_, i) => `ns/w${i}`);
    for (let run = 0; run < 50; run++) {
      const known = new KnownVersions({ "ns/w0": "v0" });
      const ref = new Map<string, string>([["ns/w0", "v0"]]);
      for (let step = 0; step < 300; step++) {
        const op = rand(10);
        const name = names[rand(names.length)] as string;
        if (op < 5) {
          const v = `v${rand(3)}`;
          known.set(name, v);
          ref.set(name, v);
        } else if (op < 9) {
          known.delete(name);
          ref.delete(name);
        } else {
          const entries = Object.fromEntries(names.filter(() => rand(2) === 0).map((n) => [n, `v${rand(3)}`]));
          known.rebase(index(entries));
          ref.clear();
          for (const [n, v] of Object.entries(entries)) ref.set(n, v);
        }
        for (const n of names) expect(known.get(n)).toBe(ref.get(n));
        expect([...known.names()].sort()).toEqual([...ref.keys()].sort());
      }
      expect(known.toMap()).toEqual(ref);
    }
  });

  test("a rebased record shares the index instead of copying it", () => {
    const big = index(Object.fromEntries(Array.from({ length: 10_000 }, (_, i) => [`ns/w${i}`, "v1"])));
    const known = new KnownVersions();
    known.rebase(big);
    known.set("ns/w1", "v2");
    known.delete("ns/w2");
    expect([known.get("ns/w0"), known.get("ns/w1"), known.get("ns/w2")]).toEqual(["v1", "v2", undefined]);
    expect(known.toMap().size).toBe(9_999);
  });
});
