import { describe, expect, test } from "bun:test";
import { ERROR_CODES, MeshError, isMeshError } from "./mesh-error.ts";
import { exitCodeFor } from "./exit-code.ts";

describe("MeshError.from", () => {
  const cases: Array<[string, unknown, string]> = [
    ["passes a MeshError through", new MeshError("conflict", "stale"), "conflict"],
    ["plain Error becomes internal", new Error("boom"), "internal"],
    ["AbortError becomes canceled", Object.assign(new Error("aborted"), { name: "AbortError" }), "canceled"],
    ["TimeoutError becomes deadline_exceeded", Object.assign(new Error("t"), { name: "TimeoutError" }), "deadline_exceeded"],
    ["a thrown string keeps its text", "weird", "internal"],
  ];
  for (const [name, input, code] of cases) {
    test(name, () => {
      const err = MeshError.from(input);
      expect(err.code).toBe(code as MeshError["code"]);
      expect(isMeshError(err)).toBe(true);
      if (input instanceof MeshError) expect(err).toBe(input);
      else expect(err.cause).toBe(input);
    });
  }
  test("fallback code is used for foreign errors", () => {
    expect(MeshError.from(new Error("x"), "unavailable").code).toBe("unavailable");
  });
});

describe("exitCodeFor", () => {
  test("every code maps to a non-zero exit code; usage errors exit 2", () => {
    for (const code of ERROR_CODES) expect(exitCodeFor(code)).toBeGreaterThan(0);
    expect(exitCodeFor("invalid_argument")).toBe(2);
    expect(exitCodeFor("internal")).toBe(1);
  });
});
