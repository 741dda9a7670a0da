/**
 * Bulk TCP throughput: one iperf3 stream per path for the run's duration, Gbit/s at the receiver,
 * and the CPU the path's proxies spent carrying it.
 */
import { measurePaths } from "../paths/measure.ts";
import { BASELINE_PATH } from "../paths/index.ts";
import { runIperf3Client, startIperf3Server } from "../tools/iperf3.ts";
import type { Scenario } from "./scenario.ts";

export const tcpThroughput: Scenario = {
  name: "tcp-throughput",
  description: "One TCP stream (iperf3 -P 1) through each path to an iperf3 server on 127.0.0.1: receiver-side Gbit/s, and CPU seconds of the path's proxy processes (from /proc/<pid>/stat).",
  tools: ["iperf3"],
  async run(ctx) {
    const server = await startIperf3Server(ctx.scope, ctx.tmpDir);
    const rows = await measurePaths(ctx, server, async (session) => {
      const cpuBefore = session.proxyCpuSeconds();
      const r = await runIperf3Client(session.address, ctx.durationSec);
      const cpu = session.proxyCpuSeconds() - cpuBefore;
      const gigabytes = r.bytes / 1e9;
      return [
        { metric: "throughput", value: r.gbitPerSec, unit: "Gbit/s" },
        { metric: "proxy CPU", value: cpu, unit: "s" },
        { metric: "proxy CPU per GB", value: gigabytes > 0 ? cpu / gigabytes : 0, unit: "s/GB" },
      ];
    });
    return { baseline: BASELINE_PATH, rows, params: { tool: "iperf3", streams: 1, server: "127.0.0.1" } };
  },
};
