/**
 * Strict reverse-path filtering (net.ipv4.conf.<if>.rp_filter=1) on the interfaces workloads are
 * bound to: the kernel drops an IPv4 packet (and refuses an ARP request) whose source address it
 * would not route back out of the interface it came in on. It backs up the explicit raw-table
 * rules; IPv6 has no rp_filter and relies on those rules alone.
 *
 * Invariants:
 * - The value an interface had before mesh set it is remembered and written back when the
 *   interface is no longer bound and on close, so mesh leaves the sysctl as it found it.
 * - An interface that does not exist yet (the workload is declared before it is started) is not
 *   an error: it is tried again at the next sync.
 */

/** The sysctl key for an interface (a "." in its name is written "/" in sysctl keys). */
export function rpFilterKey(iface: string): string {
  return `net.ipv4.conf.${iface.replaceAll(".", "/")}.rp_filter`;
}

export const RP_FILTER_STRICT = "1";
/** "2" (loose) in conf.all overrides a per-interface "1": the kernel uses the larger of the two. */
export const RP_FILTER_LOOSE = "2";

export interface RpFilterPlan {
  /** Interfaces to read the current value of, then set strict. */
  readonly set: readonly string[];
  /** Interfaces to write their remembered value back to. */
  readonly restore: readonly (readonly [iface: string, value: string])[];
}

/** From the remembered values (interfaces mesh has set) to the wanted interfaces. */
export function planRpFilter(remembered: ReadonlyMap<string, string>, wanted: readonly string[]): RpFilterPlan {
  const want = new Set(wanted);
  return {
    set: [...want].filter((i) => !remembered.has(i)).sort(),
    restore: [...remembered].filter(([i]) => !want.has(i)).sort(([a], [b]) => (a < b ? -1 : 1)),
  };
}
