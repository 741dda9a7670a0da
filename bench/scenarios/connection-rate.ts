/**
 * New connections per second: wrk with `Connection: close` against nginx through each path, so
 * every request opens a TCP connection from the load tool (and, through the mesh, a CONNECT stream
 * on a pooled HBONE connection, an admission decision, an upstream connection to the workload, an
 * access log line and metrics). Short-lived connections are what health checks, HTTP/1.0 clients
 * and many service-to-service calls make; their cost is per connection, not per byte.
 *
 * Rows per load: connections (= requests) per second, p50/p99 of connect + request + response,
 * and proxy CPU per connection per side. stunnel makes a full TLS handshake per connection here
 * (it has no pool), which is the sidecar-style cost the mesh's pooled tunnels avoid.
 */
import { measurePaths, type Measurement } from "../paths/measure.ts";
import { BASELINE_PATH, baselineMap } from "../paths/index.ts";
import { sideCpu } from "../paths/proxy-cpu.ts";
import { startNginx } from "../tools/nginx.ts";
import { runWrk } from "../tools/wrk.ts";
import type { Scenario } from "./scenario.ts";

const BODY_BYTES = 128;
const NGINX_WORKERS = 1;
const CLOSE = "Connection: close";
/** Each load: a label for the metric names, and wrk's connections and threads. */
const LOADS = [
  { label: "c16", connections: 16, threads: 1 },
  { label: "c1", connections: 1, threads: 1 },
] as const;

export const connectionRate: Scenario = {
  name: "connection-rate",
  description: `wrk --latency -H "${CLOSE}" against nginx (127.0.0.1, or productpage from sleep on netns paths; ${BODY_BYTES}-byte body, ${NGINX_WORKERS} worker) through each path, 16 and 1 concurrent connections, each request on a new connection: connections per second, p50/p99 latency, proxy CPU per connection per side.`,
  tools: ["nginx", "wrk"],
  async run(ctx) {
    const rows = await measurePaths(ctx, (bed, scope, dir) => startNginx(scope, dir, { bodyBytes: BODY_BYTES, workers: NGINX_WORKERS, place: bed.server }), async (session) => {
      const out: Measurement[] = [];
      for (const load of LOADS) {
        const sides = sideCpu(session);
        const r = await runWrk(session.address, { ...load, durationSec: ctx.durationSec, headers: [CLOSE] }, session.client);
        if (r.socketErrors > 0) ctx.log(`${session.path} ${load.label}: warning: ${r.socketErrors} socket errors`);
        out.push(
          { metric: `${load.label} connections per second`, value: r.requestsPerSec, unit: "conn/s" },
          { metric: `${load.label} p50 latency`, value: r.latencyMs[50] ?? NaN, unit: "ms" },
          { metric: `${load.label} p99 latency`, value: r.latencyMs[99] ?? NaN, unit: "ms" },
          ...sides.perOperation(r.requests, "connection").map((m) => ({ ...m, metric: `${load.label} ${m.metric}` })),
        );
      }
      return out;
    });
    return {
      baseline: BASELINE_PATH,
      baselines: baselineMap(ctx.paths),
      rows,
      params: { tool: "wrk", header: CLOSE, loads: LOADS, bodyBytes: BODY_BYTES, nginxWorkers: NGINX_WORKERS },
    };
  },
};
