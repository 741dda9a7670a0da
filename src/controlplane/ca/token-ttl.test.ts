import { describe, expect, test } from "bun:test";
import { MeshError } from "../../errors/mesh-error.ts";
import { checkTokenTtl, tokenTtlFromBody } from "./token-ttl.ts";

function outcome(f: () => number): number | string {
  try {
    return f();
  } catch (err) {
    const e = MeshError.from(err);
    return `${e.code}: ${e.message}`;
  }
}

describe("tokenTtlFromBody", () => {
  test.each([
    ["absent: 24 h", undefined, 24 * 3600_000],
    ["a duration", "90s", 90_000],
    ["the shortest", "1s", 1000],
    ["the longest", "365d", 365 * 24 * 3600_000],
    ["1ms is too short", "1ms", "invalid_argument: token lifetime must be between 1s and 365d (got 1ms)"],
    ["999ms is too short", "999ms", "invalid_argument: token lifetime must be between 1s and 365d (got 999ms)"],
    ["366d is too long", "366d", "invalid_argument: token lifetime must be between 1s and 365d (got 8784h)"],
    ["a number is refused, not ignored", 3600, 'invalid_argument: "ttl" must be a duration string such as "90s" or "24h" (got the number 3600)'],
    ["null", null, 'invalid_argument: "ttl" must be a duration string such as "90s" or "24h" (got null)'],
    ["an object", { h: 1 }, 'invalid_argument: "ttl" must be a duration string such as "90s" or "24h" (got an object)'],
    ["a boolean", true, 'invalid_argument: "ttl" must be a duration string such as "90s" or "24h" (got a boolean)'],
    ["not a duration", "soon", 'invalid_argument: "ttl": "soon" is not a duration (e.g. 500ms, 30s, 5m, 24h)'],
  ] as Array<[string, unknown, number | string]>)("%s", (_name, ttl, want) => {
    expect(outcome(() => tokenTtlFromBody(ttl))).toBe(want);
  });
});

describe("checkTokenTtl", () => {
  test.each([
    [1000, 1000],
    [0, "invalid_argument: token lifetime must be between 1s and 365d (got 0ms)"],
    [Number.NaN, "invalid_argument: token lifetime must be between 1s and 365d (got NaN)"],
  ] as Array<[number, number | string]>)("%p", (ms, want) => expect(outcome(() => checkTokenTtl(ms, "--ttl"))).toBe(want));
});
