/**
 * CPU of a path's proxies one side at a time (the proxy next to the client, the one next to the
 * server), as a share of one core over a load: shows which end is the bottleneck.
 */
import { groupCpuSeconds } from "../lib/cpu.ts";
import type { Measurement, PathSession } from "./measure.ts";

export interface SideCpu {
  /** Rows "client-side proxy CPU" and "server-side proxy CPU" in % of one core over the elapsed time; none for a path without proxies. */
  rows(): Measurement[];
  /** Rows "client-side proxy CPU per <what>" and "server-side …" in µs: CPU since the start over `count` operations. */
  perOperation(count: number, what: string): Measurement[];
}

export function sideCpu(session: PathSession): SideCpu {
  const sides = (["client", "server"] as const).map((side) => {
    const groups = session.proxies.filter((p) => p.side === side).map((p) => p.pgid);
    return { side, groups, before: groupCpuSeconds(groups) };
  });
  const started = performance.now();
  const used = () => sides.filter((s) => s.groups.length > 0).map((s) => ({ side: s.side, seconds: groupCpuSeconds(s.groups) - s.before }));
  return {
    rows: () => {
      const elapsed = (performance.now() - started) / 1000;
      return used().map((u) => ({ metric: `${u.side}-side proxy CPU`, value: (u.seconds / elapsed) * 100, unit: "% of a core" }));
    },
    perOperation: (count, what) => used().map((u) => ({ metric: `${u.side}-side proxy CPU per ${what}`, value: count > 0 ? (u.seconds / count) * 1e6 : NaN, unit: "µs" })),
  };
}
