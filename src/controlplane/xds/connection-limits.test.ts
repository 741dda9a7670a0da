import { describe, expect, test } from "bun:test";
import { admitConnection, sourceOf, unauthenticatedCap, type ConnectionLimits } from "./connection-limits.ts";

const limits: ConnectionLimits = { handshakeMs: 1, firstRequestMs: 1, idleMs: 1, maxUnauthenticated: 4, maxUnauthenticatedPerSource: 2 };

describe("admitConnection", () => {
  test.each([
    ["room everywhere", "a", [["a", 1]], 1, { kind: "admit" }],
    ["a new source", "z", [["a", 2]], 2, { kind: "admit" }],
    ["its source is at its cap", "a", [["a", 2]], 2, { kind: "refuse" }],
    ["total full: the busiest source gives way", "z", [["a", 1], ["b", 2], ["c", 1]], 4, { kind: "evict", source: "b" }],
    ["total full, all equal: the first source gives way", "z", [["a", 2], ["b", 2]], 4, { kind: "evict", source: "a" }],
    ["total full and the busiest is itself below its cap", "a", [["a", 1], ["b", 1], ["c", 1], ["d", 1]], 4, { kind: "evict", source: "a" }],
    ["total full with nothing to evict (cap 0)", "a", [], 4, { kind: "refuse" }],
  ] as const)("%s", (_name, source, counts, total, want) => {
    expect(admitConnection(source, new Map(counts), total, limits)).toEqual(want);
  });
});

describe("unauthenticatedCap", () => {
  test.each([
    [1024, 128],
    [20_000, 1024],
    [1_048_576, 1024],
    [64, 16],
  ])("fd limit %d → %d", (fds, cap) => {
    expect(unauthenticatedCap(fds)).toBe(cap);
  });
});

describe("sourceOf", () => {
  test.each([
    ["127.0.0.1", "127.0.0.1"],
    ["::ffff:10.1.2.3", "10.1.2.3"],
    ["2001:db8:1:2:aaaa:bbbb:cccc:dddd", "2001:db8:1:2::/64"],
    ["2001:db8:1:2::1", "2001:db8:1:2::/64"],
    ["::1", "::/64"],
    ["not an address", "not an address"],
  ])("%s → %s", (address, source) => {
    expect(sourceOf(address)).toBe(source);
  });
});
