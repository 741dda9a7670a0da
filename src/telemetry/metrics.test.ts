import { describe, expect, test } from "bun:test";
import { MetricsRegistry } from "./metrics.ts";

describe("MetricsRegistry", () => {
  test("renders counters, gauges and histograms in the exposition format", () => {
    const m = new MetricsRegistry();
    const opened = m.counter("istio_tcp_connections_opened_total", "Connections opened.", ["reporter", "source_workload"]);
    const series = opened.labels({ reporter: "destination", source_workload: 'sl"eep\\' });
    series.inc();
    series.inc(2);
    m.gauge("pilot_xds", "Connected proxies.").labels().set(5);
    const h = m.histogram("pilot_proxy_convergence_time", "Push time.", [], [0.1, 1]);
    h.labels().observe(0.05);
    h.labels().observe(0.5);
    h.labels().observe(3);
    expect(m.render()).toBe(
      [
        "# HELP istio_tcp_connections_opened_total Connections opened.",
        "# TYPE istio_tcp_connections_opened_total counter",
        'istio_tcp_connections_opened_total{reporter="destination",source_workload="sl\\"eep\\\\"} 3',
        "# HELP pilot_xds Connected proxies.",
        "# TYPE pilot_xds gauge",
        "pilot_xds 5",
        "# HELP pilot_proxy_convergence_time Push time.",
        "# TYPE pilot_proxy_convergence_time histogram",
        'pilot_proxy_convergence_time_bucket{le="0.1"} 1',
        'pilot_proxy_convergence_time_bucket{le="1"} 2',
        'pilot_proxy_convergence_time_bucket{le="+Inf"} 3',
        "pilot_proxy_convergence_time_sum 3.55",
        "pilot_proxy_convergence_time_count 3",
        "",
      ].join("\n"),
    );
  });
  test("the same labels give the same series; removed series disappear", () => {
    const m = new MetricsRegistry();
    const c = m.counter("c_total", "c", ["a"]);
    c.labels({ a: "x" }).inc();
    c.labels({ a: "x" }).inc();
    expect(c.labels({ a: "x" }).value).toBe(2);
    c.remove({ a: "x" });
    expect(m.render()).not.toContain('a="x"');
  });
  test("refuses bad names and duplicates", () => {
    const m = new MetricsRegistry();
    expect(() => m.counter("bad-name", "")).toThrow();
    m.gauge("g", "");
    expect(() => m.gauge("g", "")).toThrow(/twice/);
  });
});
