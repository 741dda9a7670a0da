/**
 * Example plugin (the worked example of docs/plugins.md): a per-tenant request quota. The tenant
 * is a request header when configured, else the peer's SPIFFE principal. Windows are fixed and
 * aligned to the host clock; the counters are cleared when a window ends, so memory is bounded by
 * the tenants seen in one window. Over the limit: a local 429 with Retry-After.
 */
import { createContextKey, definePlugin, PluginConfigError, readDuration, readInt, readObject, readOptional, readString } from "../../../src/plugin-api/index.ts";

export interface QuotaConfig {
  readonly limit: number;
  readonly windowMs: number;
  /** Lower-case header naming the tenant; null: the peer's principal. */
  readonly header: string | null;
}

/** What is left of the tenant's quota in this window, for filters after this one. */
export const QUOTA_REMAINING = createContextKey<number | null>(null, { description: "tenant-quota remaining" });

export const tenantQuota = definePlugin<QuotaConfig>({
  name: "tenant-quota",
  version: "1.0.0",
  parseConfig(raw) {
    const o = readObject(raw, "", ["limit", "window", "header"]);
    const windowMs = readOptional(o, "window", "", readDuration, 1000);
    if (windowMs === 0) throw new PluginConfigError("window", "must be longer than 0");
    return {
      limit: readInt(o.limit, "limit", 1),
      windowMs,
      header: readOptional(o, "header", "", (v, p) => readString(v, p, { min: 1 }).toLowerCase()) ?? null,
    };
  },
  create(config, host) {
    const rejected = host.metrics.counter("tenant_quota_rejected_total", "Requests refused by tenant-quota", ["tenant"]);
    let windowStart = -1;
    const used = new Map<string, number>();
    return async function tenantQuotaFilter(ctx, next) {
      const now = host.clock.now();
      const start = now - (now % config.windowMs);
      if (start !== windowStart) {
        windowStart = start;
        used.clear();
      }
      const tenant = (config.header ? ctx.request.headers.get(config.header) : ctx.peer.principal) ?? "anonymous";
      const count = (used.get(tenant) ?? 0) + 1;
      used.set(tenant, count);
      if (count > config.limit) {
        rejected.inc({ tenant });
        ctx.respond(429, { headers: { "retry-after": String(Math.ceil((start + config.windowMs - now) / 1000)) }, body: `quota of ${config.limit} requests per ${config.windowMs}ms exceeded for ${tenant}\n`, details: "tenant_quota" });
        return;
      }
      ctx.set(QUOTA_REMAINING, config.limit - count);
      await next();
      ctx.response?.headers.set("x-quota-remaining", String(config.limit - count));
    };
  },
});
