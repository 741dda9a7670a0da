/**
 * Outlier detection, as Envoy's consecutive-gateway-failure ejection with Istio's defaults: an
 * endpoint that fails `consecutiveFailures` times in a row (it could not be connected, or answered
 * 502/503/504) is ejected for `baseEjectionMs` × the number of times it has been ejected (capped
 * at `maxEjectionMs`); one success resets its count. Ejected endpoints go to the end of the order
 * rather than out of it, and at most `maxEjectionPercent` of a destination's endpoints are moved,
 * so a request always has somewhere to go. State is per endpoint address; the clock is injected.
 */
import type { UpstreamHop } from "./upstream-plan.ts";

export interface OutlierSettings {
  readonly consecutiveFailures: number;
  readonly baseEjectionMs: number;
  readonly maxEjectionMs: number;
  readonly maxEjectionPercent: number;
}

export const DEFAULT_OUTLIER_SETTINGS: OutlierSettings = { consecutiveFailures: 5, baseEjectionMs: 30_000, maxEjectionMs: 300_000, maxEjectionPercent: 50 };

interface EndpointHealth {
  failures: number;
  ejections: number;
  ejectedUntil: number;
}

const GATEWAY_FAILURES: ReadonlySet<number> = new Set([502, 503, 504]);

export class OutlierDetector {
  readonly #s: OutlierSettings;
  readonly #now: () => number;
  readonly #health = new Map<string, EndpointHealth>();

  constructor(settings: Partial<OutlierSettings> = {}, now: () => number = Date.now) {
    this.#s = { ...DEFAULT_OUTLIER_SETTINGS, ...settings };
    this.#now = now;
  }

  /** The outcome of one try: an HTTP status, or "connect-failure". */
  record(hop: UpstreamHop, outcome: number | "connect-failure"): void {
    const key = hop.target.address;
    const failed = outcome === "connect-failure" || GATEWAY_FAILURES.has(outcome);
    const h = this.#health.get(key);
    if (!failed) {
      if (h) h.failures = 0;
      return;
    }
    const health = h ?? { failures: 0, ejections: 0, ejectedUntil: 0 };
    if (!h) this.#health.set(key, health);
    if (++health.failures < this.#s.consecutiveFailures) return;
    health.failures = 0;
    health.ejections++;
    health.ejectedUntil = this.#now() + Math.min(this.#s.baseEjectionMs * health.ejections, this.#s.maxEjectionMs);
  }

  /** The hops with ejected endpoints moved to the end (at most maxEjectionPercent of them). */
  order(hops: readonly UpstreamHop[]): readonly UpstreamHop[] {
    if (this.#health.size === 0) return hops;
    const now = this.#now();
    const ejected = hops.filter((h) => (this.#health.get(h.target.address)?.ejectedUntil ?? 0) > now);
    if (ejected.length === 0) return hops;
    const movable = ejected.slice(0, Math.floor((hops.length * this.#s.maxEjectionPercent) / 100));
    if (movable.length === 0) return hops;
    const moved = new Set(movable);
    return [...hops.filter((h) => !moved.has(h)), ...movable];
  }

  /** Addresses ejected now (for the config dump). */
  ejected(): string[] {
    const now = this.#now();
    return [...this.#health].filter(([, h]) => h.ejectedUntil > now).map(([address]) => address);
  }

  /** Forget endpoints no longer in the mesh. */
  keepOnly(addresses: ReadonlySet<string>): void {
    for (const key of this.#health.keys()) if (!addresses.has(key)) this.#health.delete(key);
  }
}
