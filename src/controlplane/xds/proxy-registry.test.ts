import { describe, expect, test } from "bun:test";
import { MeshError } from "../../errors/mesh-error.ts";
import { createLogControl } from "../../telemetry/log.ts";
import { MetricsRegistry } from "../../telemetry/metrics.ts";
import { MAX_LISTED_PROXIES, ProxyRegistry } from "./proxy-registry.ts";

function registry(limits = {}) {
  const lines: string[] = [];
  let now = Date.parse("2026-12-04T12:00:00Z");
  const log = createLogControl({ format: "json", spec: "info", write: (l) => lines.push(l) }).logger("xds");
  const r = new ProxyRegistry({ log, metrics: new MetricsRegistry(), limits, now: () => new Date(now) });
  return { r, lines, advance: (ms: number) => (now += ms) };
}

const nack = (message: string, resources: string[] = []) => ({ typeUrl: "type.googleapis.com/mesh.xds.v1.Workload", nonce: "7", message, resources });

describe("ProxyRegistry", () => {
  test("a NACK flood keeps a few bounded NACKs and logs one line per interval", () => {
    const { r, lines, advance } = registry();
    const p = r.connect("node-1", "ztunnel");
    const huge = "x".repeat(1024 * 1024);
    for (let i = 0; i < 1000; i++) {
      r.recordNack(p, nack(huge, Array.from({ length: 100 }, (_, j) => `ns/w-${j}`)));
      advance(5); // 1000 NACKs over 5 s
    }
    expect(p.nackCount).toBe(1000);
    expect(p.nacks).toHaveLength(10);
    for (const n of p.nacks) {
      expect(n.message.length).toBeLessThan(1100);
      expect(n.resources).toHaveLength(16);
      expect(n.moreResources).toBe(84);
    }
    expect(JSON.stringify(r.list()).length).toBeLessThan(20_000);
    expect(lines).toHaveLength(1); // 5 s of flood, one line per 10 s
    expect(lines[0]?.length).toBeLessThan(1400);
    advance(10_000);
    r.recordNack(p, nack("bad"));
    expect(lines).toHaveLength(2);
    expect(JSON.parse(lines[1] as string)).toMatchObject({ msg: "proxy rejected config (NACK)", node: "node-1", error: "bad", nacksNotLogged: 999 });
  });

  test("NACK logging is limited per proxy: another proxy's NACK is logged", () => {
    const { r, lines } = registry();
    const a = r.connect("node-1", "ztunnel");
    const b = r.connect("node-2", "ztunnel");
    r.recordNack(a, nack("a1"));
    r.recordNack(a, nack("a2"));
    r.recordNack(b, nack("b1"));
    expect(lines.map((l) => (JSON.parse(l) as { error: string }).error)).toEqual(["a1", "b1"]);
  });

  test("reconnecting does not reset a proxy's NACK logging", () => {
    const { r, lines, advance } = registry();
    for (let i = 0; i < 50; i++) {
      const p = r.connect("node-1", "ztunnel");
      r.recordNack(p, nack(`n${i}`));
      r.disconnect(p);
      advance(100); // 50 streams in 5 s
    }
    expect(lines).toHaveLength(1);
    advance(10_000);
    r.recordNack(r.connect("node-1", "ztunnel"), nack("later"));
    expect(JSON.parse(lines[1] as string)).toMatchObject({ error: "later", nacksNotLogged: 49 });
  });

  test("a listing returns at most MAX_LISTED_PROXIES records, with the total, filtered and paged", () => {
    const { r } = registry();
    for (let i = 0; i < MAX_LISTED_PROXIES + 20; i++) r.connect(`node-${i % 2}`, "ztunnel");
    const all = r.list();
    expect(all.total).toBe(MAX_LISTED_PROXIES + 20);
    expect(all.items).toHaveLength(MAX_LISTED_PROXIES);
    expect(r.list({ limit: 100_000 }).items).toHaveLength(MAX_LISTED_PROXIES);
    expect(r.list({ node: "node-1", limit: 5, offset: 2 }).items.map((p) => p.id)).toEqual([6, 8, 10, 12, 14]);
    expect(r.list({ offset: MAX_LISTED_PROXIES + 19 }).items).toHaveLength(1);
  });

  test("recheckAll ends the streams whose credentials fail, and only those", async () => {
    const { r, lines } = registry();
    const ended: Array<[string, string]> = [];
    const stream = (node: string, ok: boolean) =>
      r.connect(node, "ztunnel", {
        recheck: async () => {
          if (!ok) throw new MeshError("unauthenticated", "node token refused: revoked (id x)");
        },
        end: (e) => ended.push([node, `${e.code}: ${e.message}`]),
      });
    stream("good", true);
    const bad = stream("bad", false);
    r.connect("no-stream", "ztunnel");
    expect(await r.recheckAll()).toBe(1);
    expect(ended).toEqual([["bad", "unauthenticated: node token refused: revoked (id x)"]]);
    expect(lines.some((l) => l.includes("ending xDS stream"))).toBe(true);
    r.disconnect(bad);
    expect(await r.recheckAll()).toBe(0);
  });
});
