/**
 * CPU of a path's proxies one side at a time (the proxy next to the client, the one next to the
 * server), as a share of one core over a load: shows which end is the bottleneck.
 */
import { groupCpuSeconds } from "../lib/cpu.ts";
import type { Measurement, PathSession } from "./measure.ts";

export interface SideCpu {
  /** Rows "client-side proxy CPU" and "server-side proxy CPU" in % of one core over the elapsed time; none for a path without proxies. */
  rows(): Measurement[];
}

export function sideCpu(session: PathSession): SideCpu {
  const sides = (["client", "server"] as const).map((side) => {
    const groups = session.proxies.filter((p) => p.side === side).map((p) => p.pgid);
    return { side, groups, before: groupCpuSeconds(groups) };
  });
  const started = performance.now();
  return {
    rows: () => {
      const elapsed = (performance.now() - started) / 1000;
      return sides
        .filter((s) => s.groups.length > 0)
        .map((s) => ({ metric: `${s.side}-side proxy CPU`, value: ((groupCpuSeconds(s.groups) - s.before) / elapsed) * 100, unit: "% of a core" }));
    },
  };
}
