import { describe, expect, test } from "bun:test";
import { readRegExp } from "./config-read.ts";
import { PluginConfigError } from "./errors.ts";

describe("readRegExp", () => {
  test("refuses a hazard (src/util/regex-hazard.ts) with the field path", () => {
    expect(() => readRegExp("/(a+)+", "rules[0].matches[0].path.value")).toThrow(PluginConfigError);
    expect(() => readRegExp("/(a+)+", "rules[0].matches[0].path.value")).toThrow(/^rules\[0\]\.matches\[0\]\.path\.value: nested quantifier/);
  });

  test("compiles a safe pattern anchored for a whole match", () => {
    const re = readRegExp("/api/v[0-9]+", "p");
    expect(re.test("/api/v2")).toBe(true);
    expect(re.test("/api/v2/x")).toBe(false);
  });
});
