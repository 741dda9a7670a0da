/**
 * Small HTTP/1.1 requests: wrk against an nginx backend through each path, once with 64
 * connections (throughput and latency at the maximum rate) and once with 1 connection (latency
 * without queueing). Loopback paths: nginx on 127.0.0.1; netns paths: nginx in productpage, wrk in
 * sleep. Fixed-rate latency is http-fixed-rate.
 *
 * Every path is started fresh, so each gets --warmup seconds of unmeasured load first (the 64
 * connection shape): a ztunnel measured while JSC is still compiling its data path costs more CPU
 * and has a longer tail than it does a few seconds later (see http-fixed-rate).
 */
import { measurePaths, type Measurement } from "../paths/measure.ts";
import { BASELINE_PATH, baselineMap } from "../paths/index.ts";
import { sideCpu } from "../paths/proxy-cpu.ts";
import { startNginx } from "../tools/nginx.ts";
import { runWrk } from "../tools/wrk.ts";
import type { Scenario } from "./scenario.ts";

const BODY_BYTES = 128;
const NGINX_WORKERS = 1;
/** Each load: a label for the metric names, and wrk's connections and threads. */
const LOADS = [
  { label: "c64", connections: 64, threads: 2 },
  { label: "c1", connections: 1, threads: 1 },
] as const;

export const httpLatency: Scenario = {
  name: "http-latency",
  description: `wrk --latency against nginx (127.0.0.1, or productpage from sleep on netns paths; ${BODY_BYTES}-byte body, ${NGINX_WORKERS} worker, keep-alive) through each path, with 64 connections / 2 threads and with 1 connection, after an unmeasured warm-up: req/s, p50 and p99 latency, and proxy CPU per request.`,
  tools: ["nginx", "wrk"],
  options: [{ name: "warmup", description: "seconds of unmeasured wrk load (64 connections) through each path before its measured loads", default: 10, min: 0, max: 60 }],
  async run(ctx) {
    const warmupSec = ctx.options.warmup as number;
    const rows = await measurePaths(ctx, (bed, scope, dir) => startNginx(scope, dir, { bodyBytes: BODY_BYTES, workers: NGINX_WORKERS, place: bed.server }), async (session) => {
      const out: Measurement[] = [];
      if (warmupSec > 0) await runWrk(session.address, { ...LOADS[0], durationSec: warmupSec }, session.client);
      for (const load of LOADS) {
        const cpuBefore = session.proxyCpuSeconds();
        const sides = load.connections > 1 ? sideCpu(session) : null;
        const r = await runWrk(session.address, { ...load, durationSec: ctx.durationSec }, session.client);
        const cpu = session.proxyCpuSeconds() - cpuBefore;
        if (r.socketErrors > 0) ctx.log(`${session.path} ${load.label}: warning: ${r.socketErrors} socket errors`);
        out.push(
          { metric: `${load.label} throughput`, value: r.requestsPerSec, unit: "req/s" },
          { metric: `${load.label} p50 latency`, value: r.latencyMs[50] ?? NaN, unit: "ms" },
          { metric: `${load.label} p99 latency`, value: r.latencyMs[99] ?? NaN, unit: "ms" },
          { metric: `${load.label} proxy CPU per request`, value: r.requests > 0 ? (cpu / r.requests) * 1e6 : 0, unit: "µs" },
          ...(sides?.rows().map((m) => ({ ...m, metric: `${load.label} ${m.metric}` })) ?? []),
        );
      }
      return out;
    });
    return {
      baseline: BASELINE_PATH,
      baselines: baselineMap(ctx.paths),
      rows,
      params: { tool: "wrk", loads: LOADS, warmupSec, bodyBytes: BODY_BYTES, nginxWorkers: NGINX_WORKERS, backend: { loopback: "nginx 127.0.0.1", netns: "nginx 10.0.2.10 (productpage), wrk in sleep" } },
    };
  },
};
