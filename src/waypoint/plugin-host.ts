/**
 * What the waypoint lends its plugins (the plugin API's PluginHost): its logger, its metrics
 * registry, the system clock and Math.random. Plugins declare metric families once per config
 * version, so a family declared again (the next config version) is the same family — re-declared
 * with another type or other labels it is a clear error, not a second series under one name.
 */
import { MeshError } from "../errors/mesh-error.ts";
import { systemClock, type PluginFetch, type PluginHost, type PluginMetrics } from "../plugin-api/index.ts";
import type { Logger } from "../telemetry/log.ts";
import type { Counter, Histogram, MetricsRegistry } from "../telemetry/metrics.ts";

/** Istio's request-duration buckets (ms), the default for plugin histograms. */
const DEFAULT_BUCKETS = [0.5, 1, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000, 60000];

function pluginMetrics(registry: MetricsRegistry): PluginMetrics {
  const families = new Map<string, { kind: "counter" | "histogram"; labels: string; family: Counter | Histogram }>();
  const declare = <F extends Counter | Histogram>(kind: "counter" | "histogram", name: string, labelNames: readonly string[], make: () => F): F => {
    const labels = labelNames.join(",");
    const had = families.get(name);
    if (had) {
      if (had.kind !== kind || had.labels !== labels) throw new Error(`metric ${name} already declared as a ${had.kind} with labels [${had.labels}]`);
      return had.family as F;
    }
    const family = make();
    families.set(name, { kind, labels, family });
    return family;
  };
  return {
    counter(name, help, labelNames = []) {
      const c = declare("counter", name, labelNames, () => registry.counter(name, help, labelNames));
      return { inc: (labels = {}, by = 1) => c.labels(labels).inc(by) };
    },
    histogram(name, help, labelNames = [], buckets = DEFAULT_BUCKETS) {
      const h = declare("histogram", name, labelNames, () => registry.histogram(name, help, labelNames, buckets));
      return { observe: (v, labels = {}) => h.labels(labels).observe(v) };
    },
  };
}

/** Until the waypoint routes plugin calls through the mesh, a call out fails (the filter's failure policy decides the request). */
const unroutedFetch: PluginFetch = (request) => Promise.reject(new MeshError("unimplemented", `plugin HTTP calls are not routed by this waypoint yet (${request.method} ${request.url})`));

export function waypointPluginHost(log: Logger, registry: MetricsRegistry, fetch: PluginFetch = unroutedFetch): PluginHost {
  return { log, metrics: pluginMetrics(registry), clock: systemClock, random: Math.random, fetch };
}
