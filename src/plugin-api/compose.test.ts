import { describe, expect, test } from "bun:test";
import { compose, type ChainEntry, type Terminal } from "./compose.ts";
import { RequestContext } from "./context.ts";
import { recordingHost } from "./host.ts";
import type { Filter } from "./plugin.ts";

const host = recordingHost();
const newCtx = () => new RequestContext({ request: { method: "GET", authority: "svc:80", path: "/" }, log: host.log, metrics: host.metrics });
const ok: Terminal = async (ctx) => ctx.respond(200, { body: "upstream", details: "upstream" });
const never = () => new Promise<void>(() => undefined);
const entry = (name: string, filter: Filter, failurePolicy: ChainEntry["failurePolicy"] = "FailClosed", timeoutMs?: number): ChainEntry => ({ name, filter, failurePolicy, ...(timeoutMs === undefined ? {} : { timeoutMs }) });
const mark = (name: string): Filter => async (ctx, next) => {
  ctx.request.headers.append("x-trace", name);
  await next();
  ctx.response?.headers.append("x-trace", name);
};

describe("compose", () => {
  // [name, entries, terminal, want status, want details, want request trace, want response trace]
  const cases: Array<[string, ChainEntry[], Terminal, number, string, string | null, string | null]> = [
    ["runs filters in order, then the terminal, and back out", [entry("a", mark("a")), entry("b", mark("b"))], ok, 200, "upstream", "a, b", "b, a"],
    ["a local reply short-circuits the rest", [entry("a", mark("a")), entry("deny", async (ctx) => ctx.respond(403, { details: "denied" })), entry("c", mark("c"))], ok, 403, "denied", "a", "a"],
    ["throw before next, FailClosed: 500 naming the filter", [entry("a", mark("a")), entry("boom", async () => { throw new Error("bad"); })], ok, 500, "filter_failed", "a", "a"],
    ["throw before next, FailOpen: skipped, chain continues", [entry("boom", async () => { throw new Error("bad"); }, "FailOpen"), entry("b", mark("b"))], ok, 200, "upstream", "b", "b"],
    ["FailOpen discards a local reply the failed filter set", [entry("boom", async (ctx) => { ctx.respond(418); throw new Error("bad"); }, "FailOpen")], ok, 200, "upstream", null, null],
    ["throw after next, FailClosed: the response becomes 500", [entry("late", async (_ctx, next) => { await next(); throw new Error("bad"); })], ok, 500, "filter_failed", null, null],
    ["throw after next, FailOpen: the response stands", [entry("late", async (_ctx, next) => { await next(); throw new Error("bad"); }, "FailOpen")], ok, 200, "upstream", null, null],
    ["a second next() fails that filter (FailClosed)", [entry("twice", async (_ctx, next) => { await next(); await next(); }), entry("b", mark("b"))], ok, 500, "filter_failed", "b", null],
    ["returning without next() or a reply is a failure (FailClosed)", [entry("silent", async () => undefined), entry("b", mark("b"))], ok, 500, "filter_failed", null, null],
    ["returning without next() or a reply is a failure (FailOpen: skipped)", [entry("silent", async () => undefined, "FailOpen"), entry("b", mark("b"))], ok, 200, "upstream", "b", "b"],
    ["timeout before next, FailClosed: 500", [entry("slow", never, "FailClosed", 20)], ok, 500, "filter_failed", null, null],
    ["timeout before next, FailOpen: skipped", [entry("slow", never, "FailOpen", 20), entry("b", mark("b"))], ok, 200, "upstream", "b", "b"],
    ["timeout after next, FailOpen: the response stands", [entry("slow", async (_ctx, next) => { await next(); await never(); }, "FailOpen", 20)], ok, 200, "upstream", null, null],
    ["time spent in next() does not count against the timeout", [entry("quick", mark("quick"), "FailClosed", 30)], async (ctx) => { await new Promise((r) => setTimeout(r, 80)); ctx.respond(200, { details: "upstream" }); }, 200, "upstream", "quick", "quick"],
    ["a failure further down is handled there; outer filters see its 500", [entry("a", mark("a")), entry("boom", async () => { throw new Error("bad"); })], ok, 500, "filter_failed", "a", "a"],
  ];
  for (const [name, entries, terminal, status, details, reqTrace, resTrace] of cases) {
    test(name, async () => {
      const ctx = newCtx();
      await compose(entries, terminal)(ctx);
      expect(ctx.response?.status).toBe(status);
      expect(ctx.response?.details).toBe(details);
      expect(ctx.request.headers.get("x-trace")).toBe(reqTrace);
      expect(ctx.response?.headers.get("x-trace") ?? null).toBe(resTrace);
    });
  }

  test("the FailClosed body names the filter and the reason", async () => {
    const ctx = newCtx();
    await compose([entry("FilterPlugin ns/quota", async () => { throw new Error("quota store down"); })], ok)(ctx);
    expect(await new Response(ctx.response?.body).text()).toBe('filter "FilterPlugin ns/quota" failed (quota store down); the request was refused by its failure policy (FailClosed)\n');
    expect(host.lines.some((l) => l.message === "filter failed" && l.fields.filter === "FilterPlugin ns/quota")).toBe(true);
  });

  test("an error from the terminal passes through filters that do not catch it", async () => {
    const ctx = newCtx();
    const down: Terminal = async () => { throw new Error("upstream reset"); };
    const run = compose([entry("a", mark("a"), "FailClosed"), entry("b", mark("b"), "FailOpen")], down)(ctx);
    expect(await run.then(() => "resolved", (e: Error) => e.message)).toBe("upstream reset");
    expect(ctx.response).toBeNull();
  });

  test("a filter that times out and calls next() later is refused, and the chain ran once", async () => {
    let terminalRuns = 0;
    let late: Promise<unknown> = Promise.resolve();
    let release = () => {};
    const gate = new Promise<void>((r) => (release = r));
    const slow: Filter = async (_ctx, next) => {
      await gate;
      late = next().then(() => "ran", (e: Error) => e.message);
    };
    const ctx = newCtx();
    await compose([entry("slow", slow, "FailOpen", 10)], async (c) => { terminalRuns++; c.respond(200); })(ctx);
    release();
    await new Promise((r) => setTimeout(r, 0));
    expect(await late).toBe('filter "slow" called next() after it had failed');
    expect(terminalRuns).toBe(1);
  });

  const busy = (ms: number) => {
    const until = Date.now() + ms;
    while (Date.now() < until);
  };
  const slowUpstream: Terminal = async (ctx) => {
    await new Promise((r) => setTimeout(r, 40));
    ctx.respond(200, { details: "upstream" });
  };
  const settled: Array<[string, ChainEntry, number, string]> = [
    ["over budget before next(), FailOpen: the chain settles only after the upstream answered", entry("hog", async (_ctx, next) => { busy(30); await next(); }, "FailOpen", 10), 200, "upstream"],
    ["over budget before next(), FailClosed: 500 once the upstream is done", entry("hog", async (_ctx, next) => { busy(30); await next(); }, "FailClosed", 10), 500, "filter_failed"],
    ["throws while next() still runs, FailClosed: the 500 is not overwritten later", entry("rash", async (_ctx, next) => { void next(); throw new Error("bad"); }), 500, "filter_failed"],
  ];
  for (const [name, e, status, details] of settled) {
    test(name, async () => {
      const ctx = newCtx();
      await compose([e], slowUpstream)(ctx);
      const atSettle = [ctx.response?.status, ctx.response?.details];
      await new Promise((r) => setTimeout(r, 60));
      expect(atSettle).toEqual([status, details]);
      expect([ctx.response?.status, ctx.response?.details]).toEqual([status, details]);
    });
  }

  test("the chain is reusable: a second request starts fresh", async () => {
    const chain = compose([entry("a", mark("a"))], ok);
    for (let n = 0; n < 3; n++) {
      const ctx = newCtx();
      await chain(ctx);
      expect(ctx.request.headers.get("x-trace")).toBe("a");
    }
  });
});
