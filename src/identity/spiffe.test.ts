import { describe, expect, test } from "bun:test";
import { isMeshError } from "../errors/mesh-error.ts";
import { formatSpiffeId, parseSpiffeId, principalOf } from "./spiffe.ts";

describe("SPIFFE ids", () => {
  test("round trip and principal form", () => {
    const id = parseSpiffeId("spiffe://cluster.local/ns/bookinfo/sa/bookinfo-productpage");
    expect(id).toEqual({ trustDomain: "cluster.local", namespace: "bookinfo", serviceAccount: "bookinfo-productpage" });
    expect(formatSpiffeId(id)).toBe("spiffe://cluster.local/ns/bookinfo/sa/bookinfo-productpage");
    expect(principalOf(id)).toBe("cluster.local/ns/bookinfo/sa/bookinfo-productpage");
  });
  const bad = [
    "",
    "http://cluster.local/ns/a/sa/b",
    "spiffe://",
    "spiffe://cluster.local",
    "spiffe://Cluster.local/ns/a/sa/b",
    "spiffe://cluster.local:8080/ns/a/sa/b",
    "spiffe://user@cluster.local/ns/a/sa/b",
    "spiffe://cluster.local/ns/a/sa/b/extra",
    "spiffe://cluster.local/ns/a/sa/",
    "spiffe://cluster.local/ns//sa/b",
    "spiffe://cluster.local/ns/a/sa/b?x=1",
    "spiffe://cluster.local/ns/a/sa/b#f",
    "spiffe://cluster.local/ns/a%2Fb/sa/c",
    "spiffe://cluster.local/ns/../sa/b",
    "spiffe://cluster.local/sa/b/ns/a",
    "spiffe://cluster.local/ns/A/sa/b",
    "spiffe://.local/ns/a/sa/b",
    `spiffe://cluster.local/ns/a/sa/${"x".repeat(3000)}`,
  ];
  for (const text of bad) {
    test(`refuses ${JSON.stringify(text.slice(0, 60))}`, () => {
      expect(() => parseSpiffeId(text)).toThrow(/not a workload SPIFFE id/);
    });
  }
  test("property: random strings never crash, only refuse (seeded)", () => {
    let seed = 42;
    const rnd = () => (seed = (seed * 1664525 + 1013904223) >>> 0) / 2 ** 32;
    const alphabet = "spiffe:/.-_nsaSA0123456789%?#@ \u00e9\u0000";
    for (let i = 0; i < 5000; i++) {
      const base = i % 2 ? "spiffe://cluster.local/ns/a/sa/b" : "";
      let s = base;
      const n = Math.floor(rnd() * 12);
      for (let j = 0; j < n; j++) {
        const pos = Math.floor(rnd() * (s.length + 1));
        s = s.slice(0, pos) + alphabet[Math.floor(rnd() * alphabet.length)] + s.slice(pos + (rnd() < 0.5 ? 1 : 0));
      }
      try {
        const id = parseSpiffeId(s);
        expect(formatSpiffeId(id)).toBe(s); // anything accepted is canonical
      } catch (err) {
        if (!isMeshError(err, "invalid_argument")) throw err;
      }
    }
  });
});
