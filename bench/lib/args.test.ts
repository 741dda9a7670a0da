import { expect, test } from "bun:test";
import { parseArgs, resolveOptions, UsageError } from "./args.ts";

test("parses a scenario and its options", () => {
  expect(parseArgs(["tcp-throughput", "--duration", "3", "--paths=stunnel-mtls"])).toEqual({
    help: false,
    scenario: "tcp-throughput",
    durationSec: 3,
    repeat: 1,
    paths: ["stunnel-mtls"],
    options: {},
  });
  expect(parseArgs([]).scenario).toBeNull();
  expect(parseArgs(["--help"]).help).toBe(true);
});

test("takes the flags scenarios declare, and only those", () => {
  expect(parseArgs(["xds-scale", "--workloads", "1000", "--clients=10"], ["workloads", "clients"]).options).toEqual({ workloads: "1000", clients: "10" });
  expect(() => parseArgs(["xds-scale", "--workloads"], ["workloads"])).toThrow(UsageError);
  expect(() => parseArgs(["xds-scale", "--nodes", "3"], ["workloads"])).toThrow(UsageError);
  const declared = [{ name: "workloads", default: 10_000, min: 1, max: 100_000 }, { name: "clients", default: 100, min: 1, max: 1000 }];
  expect(resolveOptions("xds-scale", declared, { clients: "10" })).toEqual({ workloads: 10_000, clients: 10 });
  expect(() => resolveOptions("xds-scale", declared, { clients: "0" })).toThrow(UsageError);
  expect(() => resolveOptions("http-latency", [], { clients: "10" })).toThrow(/not an option of http-latency/);
});

test("rejects bad input with a UsageError", () => {
  for (const argv of [["x", "--duration", "0"], ["x", "--duration", "1.5"], ["x", "--bogus"], ["a", "b"], ["x", "--repeat"]]) {
    expect(() => parseArgs(argv)).toThrow(UsageError);
  }
});
