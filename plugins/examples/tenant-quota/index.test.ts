/**
 * The worked example of docs/plugins.md: a plugin tested through compose, without sockets. The
 * host is recordingHost (seeded random, a clock that only moves when told, metrics in memory);
 * the terminal stands in for the upstream stage.
 */
import { describe, expect, test } from "bun:test";
import { buildChain, PluginConfigError, recordingHost, RequestContext, steppingClock, type Terminal } from "../../../src/plugin-api/index.ts";
import { QUOTA_REMAINING, tenantQuota } from "./index.ts";

const upstream: Terminal = async (ctx) => ctx.respond(200, { body: "ok", headers: { "x-remaining-seen": String(ctx.get(QUOTA_REMAINING)) } });

function setup(config: unknown) {
  const clock = steppingClock(10_000);
  const host = recordingHost({ clock });
  const { chain, refusals } = buildChain([{ name: "FilterPlugin shop/tenant-quota", plugin: tenantQuota, config, failurePolicy: "FailClosed" }], upstream, host);
  const send = async (tenant: string) => {
    const ctx = new RequestContext({ request: { method: "GET", authority: "cart:80", path: "/", headers: { "x-tenant": tenant } }, log: host.log, metrics: host.metrics });
    await chain(ctx);
    return ctx;
  };
  return { clock, host, refusals, send };
}

describe("tenant-quota", () => {
  test("allows `limit` requests per tenant per window, then 429 with Retry-After; the next window starts afresh", async () => {
    const { clock, host, send } = setup({ limit: 2, window: "10s", header: "X-Tenant" });
    const statuses = [];
    for (const tenant of ["acme", "acme", "acme", "globex"]) statuses.push((await send(tenant)).response?.status);
    expect(statuses).toEqual([200, 200, 429, 200]);
    const refused = await send("acme");
    expect([refused.response?.details, refused.response?.headers.get("retry-after")]).toEqual(["tenant_quota", "10"]);
    expect(host.values.get('tenant_quota_rejected_total{"tenant":"acme"}')).toEqual([1, 1]);
    await clock.sleep(10_000);
    const fresh = await send("acme");
    expect([fresh.response?.status, fresh.response?.headers.get("x-quota-remaining"), fresh.response?.headers.get("x-remaining-seen")]).toEqual([200, "1", "1"]);
  });

  const refusals: Array<[string, unknown, string]> = [
    ["limit missing", {}, "limit: must be an integer, got nothing (missing)"],
    ["limit zero", { limit: 0 }, "limit: must be at least 1 (got 0)"],
    ["window zero", { limit: 1, window: "0s" }, "window: must be longer than 0"],
    ["unknown field", { limit: 1, burst: 2 }, "burst: unknown field (expected one of limit, window, header)"],
  ];
  for (const [name, config, message] of refusals) {
    test(`refuses config: ${name}`, async () => {
      expect(() => tenantQuota.parseConfig(config)).toThrow(PluginConfigError);
      const { refusals: got, send } = setup(config);
      expect(got.map((r) => `${r.path}: ${r.message.slice(r.path.length + 2)}`)).toEqual([message]);
      expect((await send("acme")).response?.status).toBe(500); // FailClosed: a refused config refuses requests
    });
  }
});
