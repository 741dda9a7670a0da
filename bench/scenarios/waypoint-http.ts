/**
 * The waypoint against L7 proxies (issue 15's benchmark, HTTP/1.1): nginx in productpage as the
 * backend, the load tool in sleep, through
 *
 *   netns-direct         no proxy (the baseline);
 *   ztunnel              the mesh without a waypoint (two ztunnels, L4);
 *   netns-haproxy-http   haproxy as an HTTP/1.1 proxy over plain TCP (one thread);
 *   netns-nginx-http     nginx as an HTTP/1.1 proxy over plain TCP (one worker);
 *   waypoint             client → ztunnel → waypoint → ztunnel → server.
 *
 * Per path, after --warmup seconds of unmeasured 64-connection wrk load: wrk at 64 and at 1
 * connection (req/s, p50, p99, proxy CPU per request), then h2load at a fixed --rate on one
 * connection (trains, see http-fixed-rate) after --warmup seconds at that rate: p50/p99, the
 * achieved rate, and CPU per 1,000 req/s of every proxy process (the waypoint's alone is the
 * issue's figure). The issue's targets are computed from the same run as ratios, in the notes:
 * waypoint c64 req/s / haproxy's (≥ 0.5), waypoint vCPU per 1,000 req/s (≤ 0.15), waypoint's
 * added p99 at the fixed rate / haproxy's (≤ 2). Nothing here is a test assertion.
 */
import { join } from "node:path";
import { groupCpuSeconds } from "../lib/cpu.ts";
import type { Row } from "../lib/rows.ts";
import { netnsDirect } from "../paths/direct.ts";
import { baselineMap } from "../paths/index.ts";
import { netnsHaproxyHttp, netnsNginxHttp } from "../paths/l7-proxies.ts";
import { measurePaths, type Measurement, type PathSession } from "../paths/measure.ts";
import { waypoint } from "../paths/waypoint.ts";
import { ztunnel } from "../paths/ztunnel.ts";
import { runH2loadFixedRate } from "../tools/h2load.ts";
import { startNginx } from "../tools/nginx.ts";
import { runWrk } from "../tools/wrk.ts";
import type { Scenario } from "./scenario.ts";

const BODY_BYTES = 128;
const NGINX_WORKERS = 1;
const LOADS = [
  { label: "c64", connections: 64, threads: 2 },
  { label: "c1", connections: 1, threads: 1 },
] as const;
export const TARGETS = { throughputVsHaproxy: 0.5, waypointVcpuPer1000: 0.15, addedP99VsHaproxy: 2 } as const;
const HAPROXY = netnsHaproxyHttp.name;

/** vCPU used per 1,000 req/s: CPU seconds over the load / its seconds / (req/s / 1,000). */
export const vcpuPer1000 = (cpuSeconds: number, seconds: number, requestsPerSec: number): number => (requestsPerSec > 0 && seconds > 0 ? cpuSeconds / seconds / (requestsPerSec / 1000) : NaN);

async function measure(session: PathSession, durationSec: number, warmupSec: number, rate: number, logFile: string): Promise<Measurement[]> {
  const out: Measurement[] = [];
  if (warmupSec > 0) await runWrk(session.address, { ...LOADS[0], durationSec: warmupSec }, session.client);
  for (const load of LOADS) {
    const before = session.proxyCpuSeconds();
    const r = await runWrk(session.address, { ...load, durationSec }, session.client);
    if (r.socketErrors > 0 || r.non2xx > 0) throw new Error(`${session.path} ${load.label}: ${r.socketErrors} socket errors, ${r.non2xx} non-2xx responses`);
    const cpu = session.proxyCpuSeconds() - before;
    out.push(
      { metric: `${load.label} throughput`, value: r.requestsPerSec, unit: "req/s" },
      { metric: `${load.label} p50 latency`, value: r.latencyMs[50] ?? NaN, unit: "ms" },
      { metric: `${load.label} p99 latency`, value: r.latencyMs[99] ?? NaN, unit: "ms" },
      { metric: `${load.label} proxy CPU per request`, value: r.requests > 0 ? (cpu / r.requests) * 1e6 : 0, unit: "µs" },
    );
  }
  const named = session.proxies.map((p) => ({ name: p.name ?? `${p.side}-side proxy`, pgid: p.pgid, before: groupCpuSeconds([p.pgid]) }));
  const allBefore = session.proxyCpuSeconds();
  const started = performance.now();
  const r = await runH2loadFixedRate(session.address, { clients: 1, ratePerClient: rate, durationSec, warmupSec: Math.max(1, warmupSec), logFile }, session.client);
  if (r.failed > 0) throw new Error(`${session.path} fixed rate: ${r.failed} of ${r.requests} requests failed`);
  // CPU over the whole h2load run (warm-up included, at the same rate), per 1,000 req/s achieved.
  const seconds = (performance.now() - started) / 1000;
  out.push(
    { metric: `${rate}/s achieved rate`, value: r.requestsPerSec, unit: "req/s" },
    { metric: `${rate}/s p50 latency`, value: r.latencyMs[50] ?? NaN, unit: "ms" },
    { metric: `${rate}/s p99 latency`, value: r.latencyMs[99] ?? NaN, unit: "ms" },
    { metric: `${rate}/s proxy CPU per 1,000 req/s`, value: vcpuPer1000(session.proxyCpuSeconds() - allBefore, seconds, r.requestsPerSec), unit: "vCPU" },
    ...named.map((p) => ({ metric: `${rate}/s ${p.name} CPU per 1,000 req/s`, value: vcpuPer1000(groupCpuSeconds([p.pgid]) - p.before, seconds, r.requestsPerSec), unit: "vCPU" })),
  );
  return out;
}

/** The issue's three targets as ratios, from the rows the report shows (pure). */
export function waypointVerdict(rows: readonly Row[], rate: number): string {
  const v = (path: string, metric: string) => rows.find((r) => r.path === path && r.metric === metric)?.value ?? NaN;
  const f = (x: number, digits = 2) => (Number.isFinite(x) ? x.toFixed(digits) : "n/a");
  const meets = (ok: boolean, x: number) => (Number.isFinite(x) ? (ok ? "meets" : "misses") : "not measured");
  const throughput = v(waypoint.name, "c64 throughput") / v(HAPROXY, "c64 throughput");
  const cpu = v(waypoint.name, `${rate}/s waypoint CPU per 1,000 req/s`);
  const added = (path: string) => v(path, `${rate}/s p99 latency`) - v(netnsDirect.name, `${rate}/s p99 latency`);
  const p99 = added(waypoint.name) / added(HAPROXY);
  return [
    `Targets (issue 15), this run: waypoint c64 req/s / haproxy's = ${f(throughput)} (target ≥ ${TARGETS.throughputVsHaproxy}: ${meets(throughput >= TARGETS.throughputVsHaproxy, throughput)});`,
    `waypoint CPU = ${f(cpu, 3)} vCPU per 1,000 req/s (target ≤ ${TARGETS.waypointVcpuPer1000}: ${meets(cpu <= TARGETS.waypointVcpuPer1000, cpu)});`,
    `added p99 at ${rate} req/s over netns-direct: waypoint ${f(added(waypoint.name), 3)} ms, haproxy ${f(added(HAPROXY), 3)} ms, ratio ${f(p99)} (target ≤ ${TARGETS.addedP99VsHaproxy}: ${meets(p99 <= TARGETS.addedP99VsHaproxy, p99)}).`,
  ].join(" ");
}

export const waypointHttp: Scenario = {
  name: "waypoint-http",
  description: `HTTP/1.1 through the waypoint (client → ztunnel → waypoint → ztunnel → server) against the mesh without a waypoint, haproxy and nginx as L7 proxies over plain TCP, and netns-direct: wrk req/s and p50/p99 at 64 and 1 connections, h2load p50/p99 at a fixed rate on one connection, CPU per 1,000 req/s of each proxy process; nginx backend (${BODY_BYTES}-byte body) in productpage, load from sleep.`,
  tools: ["nginx", "wrk", "h2load"],
  defaultPaths: [ztunnel.name, netnsHaproxyHttp.name, netnsNginxHttp.name, waypoint.name],
  options: [
    { name: "warmup", description: "seconds of unmeasured load before the wrk loads (64 connections) and before the fixed-rate load (at its rate)", default: 10, min: 0, max: 60 },
    { name: "rate", description: "requests per second of the fixed-rate load", default: 1000, min: 10, max: 20_000 },
  ],
  async run(ctx) {
    const warmupSec = ctx.options.warmup as number;
    const rate = ctx.options.rate as number;
    const rows = await measurePaths(
      ctx,
      (bed, scope, dir) => startNginx(scope, dir, { bodyBytes: BODY_BYTES, workers: NGINX_WORKERS, place: bed.server }),
      (session) => measure(session, ctx.durationSec, warmupSec, rate, join(ctx.tmpDir, `${session.path}.h2load.log`)),
    );
    const p99 = (path: string) => rows.find((r) => r.path === path && r.metric === `${rate}/s p99 latency`)?.value ?? NaN;
    const added: Row[] = [...new Set(rows.map((r) => r.path))].map((path) => ({ path, metric: `${rate}/s added p99 vs netns-direct`, value: p99(path) - p99(netnsDirect.name), unit: "ms" }));
    return {
      baseline: netnsDirect.name,
      baselines: baselineMap(ctx.paths),
      rows: [...rows, ...added],
      notes: [
        `wrk: ${LOADS.map((l) => `${l.connections} connection(s) / ${l.threads} thread(s)`).join(" and ")}, each --duration seconds after ${warmupSec} s of unmeasured 64-connection load. Fixed rate: h2load --h1 --rps ${rate} on one connection (10 requests released back to back every 10 ms, see http-fixed-rate), ${warmupSec} s unlogged warm-up, then --duration seconds logged; CPU per 1,000 req/s is each proxy process's CPU over the whole h2load run divided by (${rate} / 1,000).`,
        "The waypoint path dials a service VIP whose Service uses the waypoint; its access log is off (--log-level warn), like the L7 baselines'. haproxy and nginx run in node-1 on plain TCP (no TLS, no identity); the mesh paths carry every hop in mutual TLS.",
      ],
      conclude: (merged) => waypointVerdict(merged, rate),
      params: { loads: LOADS, warmupSec, rate, bodyBytes: BODY_BYTES, nginxWorkers: NGINX_WORKERS, targets: TARGETS, backend: "nginx 10.0.2.10 (productpage), load tools in sleep" },
    };
  },
};
