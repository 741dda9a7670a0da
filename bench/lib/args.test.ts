import { expect, test } from "bun:test";
import { parseArgs, UsageError } from "./args.ts";

test("parses a scenario and its options", () => {
  expect(parseArgs(["tcp-throughput", "--duration", "3", "--paths=stunnel-mtls"])).toEqual({
    help: false,
    scenario: "tcp-throughput",
    durationSec: 3,
    repeat: 1,
    paths: ["stunnel-mtls"],
  });
  expect(parseArgs([]).scenario).toBeNull();
  expect(parseArgs(["--help"]).help).toBe(true);
});

test("rejects bad input with a UsageError", () => {
  for (const argv of [["x", "--duration", "0"], ["x", "--duration", "1.5"], ["x", "--bogus"], ["a", "b"], ["x", "--repeat"]]) {
    expect(() => parseArgs(argv)).toThrow(UsageError);
  }
});
