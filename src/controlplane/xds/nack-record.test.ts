import { describe, expect, test } from "bun:test";
import { clip, decideNackLog, INITIAL_NACK_LOG, keptNack, type NackLogState } from "./nack-record.ts";

const LIMITS = { maxDetailChars: 10, maxResources: 2, maxKept: 3, logIntervalMs: 1000 };
const AT = new Date("2026-12-04T12:00:00Z");

describe("keptNack", () => {
  test.each([
    ["short detail and few names are kept as they are", "bad", ["a", "b"], { message: "bad", resources: ["a", "b"] }],
    ["a long detail is cut, saying how much", "x".repeat(16 * 1024 * 1024), [], { message: `${"x".repeat(10)}… (${16 * 1024 * 1024 - 10} more characters)`, resources: [] }],
    ["many names are cut, saying how many", "bad", ["a", "b", "c", "d"], { message: "bad", resources: ["a", "b"], moreResources: 2 }],
  ])("%s", (_name, message, resources, want) => {
    expect(keptNack({ typeUrl: "t", nonce: "1", message, resources }, AT, LIMITS)).toEqual({ typeUrl: "t", nonce: "1", at: AT.toISOString(), ...want });
  });
});

describe("clip", () => {
  test.each([
    ["", 3, ""],
    ["abc", 3, "abc"],
    ["abcd", 3, "abc… (1 more characters)"],
  ])("clip(%p, %d) = %p", (text, max, want) => expect(clip(text, max)).toBe(want));
});

describe("decideNackLog", () => {
  // A sequence of NACK times (ms) and, for each, whether it is logged and the count it reports as left out.
  test.each([
    ["the first NACK is logged", [0], [[true, 0]]],
    ["a flood inside the interval is logged once", [0, 1, 2, 999], [[true, 0], [false, 0], [false, 0], [false, 0]]],
    ["the first after the interval reports what was left out", [0, 1, 2, 1000, 1001, 2500], [[true, 0], [false, 0], [false, 0], [true, 2], [false, 0], [true, 1]]],
    ["spaced NACKs are all logged", [0, 1000, 2000], [[true, 0], [true, 0], [true, 0]]],
  ] as Array<[string, number[], Array<[boolean, number]>]>)("%s", (_name, times, want) => {
    let state: NackLogState = INITIAL_NACK_LOG;
    const got = times.map((t) => {
      const d = decideNackLog(state, t, LIMITS.logIntervalMs);
      state = d.next;
      return [d.log, d.suppressed];
    });
    expect(got).toEqual(want);
  });
});
