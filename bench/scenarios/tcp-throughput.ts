/**
 * Bulk TCP throughput: one iperf3 stream per path for the run's duration, Gbit/s at the receiver,
 * and the CPU the path's proxies spent carrying it, in total and per side (client-side and
 * server-side proxy, as a share of one core: the busier one is the bottleneck).
 */
import { measurePaths } from "../paths/measure.ts";
import { BASELINE_PATH, baselineMap } from "../paths/index.ts";
import { sideCpu } from "../paths/proxy-cpu.ts";
import { runIperf3Client, startIperf3Server } from "../tools/iperf3.ts";
import type { Scenario } from "./scenario.ts";

export const tcpThroughput: Scenario = {
  name: "tcp-throughput",
  description:
    "One TCP stream (iperf3 -P 1) through each path to an iperf3 server (127.0.0.1 on loopback paths, productpage 10.0.2.10 from sleep on netns paths): receiver-side Gbit/s, and CPU of the path's proxy processes (from /proc/<pid>/stat), in total and per side.",
  tools: ["iperf3"],
  async run(ctx) {
    const rows = await measurePaths(
      ctx,
      (bed, scope, dir) => startIperf3Server(scope, dir, bed.server),
      async (session) => {
        const cpuBefore = session.proxyCpuSeconds();
        const sides = sideCpu(session);
        const r = await runIperf3Client(session.address, ctx.durationSec, session.client);
        const cpu = session.proxyCpuSeconds() - cpuBefore;
        const gigabytes = r.bytes / 1e9;
        return [
          { metric: "throughput", value: r.gbitPerSec, unit: "Gbit/s" },
          { metric: "proxy CPU", value: cpu, unit: "s" },
          { metric: "proxy CPU per GB", value: gigabytes > 0 ? cpu / gigabytes : 0, unit: "s/GB" },
          ...sides.rows(),
          { metric: "TCP retransmits (sender)", value: r.retransmits ?? NaN, unit: "count" },
        ];
      },
    );
    return {
      baseline: BASELINE_PATH,
      baselines: baselineMap(ctx.paths),
      rows,
      params: { tool: "iperf3", streams: 1, server: { loopback: "127.0.0.1", netns: "10.0.2.10 (productpage), client in sleep" } },
    };
  },
};
