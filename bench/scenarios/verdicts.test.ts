import { expect, test } from "bun:test";
import type { Row } from "../lib/rows.ts";
import { addedP99Verdict } from "./http-fixed-rate.ts";
import { idleKbVerdict } from "./idle-rss.ts";
import { vcpuPer1000, waypointVerdict } from "./waypoint-http.ts";

const row = (path: string, metric: string, value: number, runs?: number[]): Row => ({ path, metric, value, unit: "ms", ...(runs ? { runs } : {}) });
const shapes = [{ name: "trains", clients: 1 }, { name: "bursts", clients: 10 }] as const;

test("the added-p99 verdict is the median the table shows, with each run's value beside it", () => {
  const rows = [
    row("netns-stunnel-mtls", "trains added p99 vs testbed's direct", 0.2),
    row("ztunnel", "trains added p99 vs testbed's direct", 0.48, [0.47, 0.48, 1.07]),
    row("ztunnel", "bursts added p99 vs testbed's direct", 2.04),
  ];
  expect(addedP99Verdict(rows, shapes)).toBe(
    "Added p99 of the ztunnel path against the 0.5 ms target: trains: 0.480 ms (median of 0.470 / 0.480 / 1.070), meets the target; bursts: 2.040 ms, misses the target.",
  );
});

test("no ztunnel rows: the verdict says it was not measured", () => {
  expect(addedP99Verdict([row("netns-direct", "trains added p99 vs testbed's direct", 0)], shapes)).toBe("The ztunnel path was not measured: no verdict against the 0.5 ms target.");
});

test("the idle-memory verdict reads each step's row and names the missing ones", () => {
  const rows = [row("ztunnel", "1000 open: both proxies KB per connection", 12.34), row("ztunnel", "10000 open: both proxies KB per connection", 25)];
  expect(idleKbVerdict(rows, [1000, 10000, 20000])).toBe(
    "Result against the issue's target (≤ 20 KB per idle tunnelled connection): 1000 connections: 12.3 KB per connection for both ztunnels (meets the 20 KB target); 10000 connections: 25.0 KB per connection for both ztunnels (misses the 20 KB target); 20000: not measured.",
  );
});

test("the waypoint's verdict: three ratios against haproxy and the CPU target, from the rows shown", () => {
  const rows = [
    row("netns-direct", "1000/s p99 latency", 0.5),
    row("netns-haproxy-http", "c64 throughput", 10_000),
    row("netns-haproxy-http", "1000/s p99 latency", 1.0),
    row("waypoint", "c64 throughput", 6000),
    row("waypoint", "1000/s p99 latency", 2.5),
    row("waypoint", "1000/s waypoint CPU per 1,000 req/s", 0.1),
  ];
  expect(waypointVerdict(rows, 1000)).toBe(
    "Targets (issue 15), this run: waypoint c64 req/s / haproxy's = 0.60 (target ≥ 0.5: meets); waypoint CPU = 0.100 vCPU per 1,000 req/s (target ≤ 0.15: meets); added p99 at 1000 req/s over netns-direct: waypoint 2.000 ms, haproxy 0.500 ms, ratio 4.00 (target ≤ 2: misses).",
  );
  expect(waypointVerdict([], 1000)).toContain("= n/a (target ≥ 0.5: not measured)");
});

test("vCPU per 1,000 req/s: CPU seconds over the load's seconds, per thousand requests a second", () => {
  const cases: Array<[number, number, number, number]> = [
    [3, 10, 1000, 0.3],
    [1.5, 10, 500, 0.3],
  ];
  for (const [cpu, seconds, rps, want] of cases) expect(vcpuPer1000(cpu, seconds, rps)).toBeCloseTo(want, 9);
  expect(vcpuPer1000(1, 10, 0)).toBeNaN();
});
