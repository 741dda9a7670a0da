import { expect, test } from "bun:test";
import type { Row } from "../lib/rows.ts";
import { addedP99Verdict } from "./http-fixed-rate.ts";
import { idleKbVerdict } from "./idle-rss.ts";

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
