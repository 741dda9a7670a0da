import { describe, expect, test } from "bun:test";
import { softLimitTarget } from "./file-limit.ts";

describe("softLimitTarget", () => {
  test.each([
    ["a finite hard limit is the target", 20_000n, 1_048_576n, 20_000n],
    ["an unlimited hard limit becomes the kernel's ceiling", 0xffff_ffff_ffff_ffffn, 1_048_576n, 1_048_576n],
  ])("%s", (_name, hard, ceiling, want) => {
    expect(softLimitTarget(hard, ceiling)).toBe(want);
  });
});
