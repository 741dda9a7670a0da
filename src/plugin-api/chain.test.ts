import { describe, expect, test } from "bun:test";
import { buildChain } from "./chain.ts";
import { readInt, readObject } from "./config-read.ts";
import { RequestContext } from "./context.ts";
import { readDuration } from "./duration.ts";
import { PluginConfigError } from "./errors.ts";
import { recordingHost } from "./host.ts";
import { definePlugin } from "./plugin.ts";

/** A plugin that adds a header; counts how often its factory ran. */
let created = 0;
const stamp = definePlugin({
  name: "stamp",
  version: "1.0.0",
  parseConfig: (raw) => ({ n: readInt(readObject(raw, "").n, "n", 0, 9) }),
  create: (config) => {
    created++;
    return async function stampFilter(ctx, next) {
      ctx.request.headers.set("x-stamp", String(config.n));
      await next();
    };
  },
});

const echo = async (ctx: RequestContext) => ctx.respond(200, { headers: { "x-seen": ctx.request.headers.get("x-stamp") ?? "none" } });

describe("buildChain", () => {
  test("parses and creates once per config, then serves many requests", async () => {
    const host = recordingHost();
    created = 0;
    const { chain, refusals } = buildChain([{ name: "stamp", plugin: stamp, config: { n: 7 }, failurePolicy: "FailClosed" }], echo, host);
    for (let i = 0; i < 5; i++) {
      const ctx = new RequestContext({ request: { method: "GET", authority: "a", path: "/" }, log: host.log, metrics: host.metrics });
      await chain(ctx);
      expect(ctx.response?.headers.get("x-seen")).toBe("7");
    }
    expect(created).toBe(1);
    expect(refusals).toEqual([]);
  });

  const cases: Array<[string, unknown, "FailOpen" | "FailClosed", number, string, string]> = [
    ["refused config, FailClosed: every request gets 500", { n: 42 }, "FailClosed", 500, "none", "n: must be between 0 and 9 (got 42)"],
    ["refused config, FailOpen: the plugin is skipped", { n: "x" }, "FailOpen", 200, "none", "n: must be an integer, got a string"],
  ];
  for (const [name, config, failurePolicy, status, seen, message] of cases) {
    test(name, async () => {
      const host = recordingHost();
      const { chain, refusals } = buildChain([{ name: "FilterPlugin ns/stamp", plugin: stamp, config, failurePolicy }], echo, host);
      expect(refusals).toEqual([{ source: "FilterPlugin ns/stamp", path: "n", message }]);
      const ctx = new RequestContext({ request: { method: "GET", authority: "a", path: "/" }, log: host.log, metrics: host.metrics });
      await chain(ctx);
      expect(ctx.response?.status).toBe(status);
      expect(ctx.response?.headers.get("x-seen") ?? "none").toBe(seen);
    });
  }
});

describe("config readers", () => {
  const cases: Array<[string, () => unknown, string]> = [
    ["object expected", () => readObject([], "spec"), "spec: must be an object, got an array"],
    ["unknown field", () => readObject({ a: 1, b: 2 }, "spec", ["a"]), "spec.b: unknown field (expected one of a)"],
    ["duration", () => readDuration("10 s", "timeouts.request"), 'timeouts.request: must be a Gateway API duration such as "10s", "500ms" or "1h30m" (got "10 s")'],
  ];
  for (const [name, run, message] of cases) {
    test(name, () => {
      const err = (() => {
        try {
          run();
          return null;
        } catch (e) {
          return e as PluginConfigError;
        }
      })();
      expect(err).toBeInstanceOf(PluginConfigError);
      expect(err?.message).toBe(message);
    });
  }
  test("durations add their parts", () => {
    expect([readDuration("1h30m", ""), readDuration("500ms", ""), readDuration("0s", ""), readDuration("1m1s1ms", "")]).toEqual([5_400_000, 500, 0, 61_001]);
  });
});
