/**
 * Limits on connections to the xDS/CA port that have not (yet) authenticated, and the admission
 * decision for a new one. Anyone who can reach the port can open connections; only those that
 * carry an authenticated request within the deadlines stay. Unauthenticated connections are
 * capped per source address and in total, the total well below the process's fd limit, so the
 * API, authenticated proxies and the CA keep their descriptors during a flood.
 */
import { formatIp, parseIp } from "../../net/ip.ts";
export interface ConnectionLimits {
  /** A TLS handshake must finish this long after accept. */
  readonly handshakeMs: number;
  /** An authenticated request must arrive this long after accept. */
  readonly firstRequestMs: number;
  /** A connection with no authenticated stream open is closed after this long. */
  readonly idleMs: number;
  readonly maxUnauthenticated: number;
  readonly maxUnauthenticatedPerSource: number;
}

export const DEFAULT_CONNECTION_LIMITS: Omit<ConnectionLimits, "maxUnauthenticated"> = {
  handshakeMs: 5_000,
  firstRequestMs: 10_000,
  idleMs: 60_000,
  maxUnauthenticatedPerSource: 32,
};

/** At most 1024 unauthenticated connections, and never more than an eighth of the fd limit. */
export function unauthenticatedCap(fdLimit: number): number {
  return Math.max(16, Math.min(1024, Math.floor(fdLimit / 8)));
}

/**
 * The "source" a per-source cap counts: an IPv4 address (also when IPv4-mapped), or the /64 an
 * IPv6 address is in — one host usually holds a whole /64, so counting addresses would not cap it.
 */
export function sourceOf(address: string): string {
  const bytes = parseIp(address);
  if (!bytes) return address;
  if (bytes.length === 4) return formatIp(bytes);
  const mapped = bytes.subarray(0, 12).every((b, i) => b === (i < 10 ? 0 : 0xff));
  if (mapped) return formatIp(bytes.subarray(12));
  const prefix = new Uint8Array(16);
  prefix.set(bytes.subarray(0, 8));
  return `${formatIp(prefix)}/64`;
}

export type Admission = { readonly kind: "admit" } | { readonly kind: "refuse" } | { readonly kind: "evict"; readonly source: string };

/**
 * What to do with a new connection from `source`, given how many unauthenticated connections each
 * source holds: refuse it when its source is at its cap; when the total is at its cap, make room by
 * evicting (the oldest connection of) the source holding the most, so a flood from some addresses
 * pushes out its own connections rather than a proxy's fresh one.
 */
export function admitConnection(source: string, bySource: ReadonlyMap<string, number>, total: number, limits: ConnectionLimits): Admission {
  if ((bySource.get(source) ?? 0) >= limits.maxUnauthenticatedPerSource) return { kind: "refuse" };
  if (total < limits.maxUnauthenticated) return { kind: "admit" };
  let busiest: string | undefined;
  let most = 0;
  for (const [s, n] of bySource) {
    if (n > most) [busiest, most] = [s, n];
  }
  return busiest === undefined ? { kind: "refuse" } : { kind: "evict", source: busiest };
}
