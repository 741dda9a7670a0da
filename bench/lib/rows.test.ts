import { expect, test } from "bun:test";
import { medianRows, rate } from "./rows.ts";

test("ratios are per metric against the baseline path; null when the baseline is 0 or absent", () => {
  const rows = rate(
    [
      { path: "direct", metric: "tput", value: 40, unit: "Gbit/s" },
      { path: "direct", metric: "cpu", value: 0, unit: "s" },
      { path: "proxy", metric: "tput", value: 10, unit: "Gbit/s" },
      { path: "proxy", metric: "cpu", value: 3, unit: "s" },
      { path: "proxy", metric: "extra", value: 1, unit: "x" },
    ],
    "direct",
  );
  expect(rows.map((r) => r.ratio)).toEqual([1, null, 0.25, null, null]);
});

test("medianRows keeps one row per path and metric, with every run's value when there were several", () => {
  const run = (v: number) => [{ path: "p", metric: "m", value: v, unit: "u" }];
  expect(medianRows([run(3), run(1), run(2)])).toEqual([{ path: "p", metric: "m", value: 2, unit: "u", runs: [3, 1, 2] }]);
  expect(medianRows([run(1), run(4)])[0]?.value).toBe(2.5);
  expect(medianRows([run(5)])).toEqual([{ path: "p", metric: "m", value: 5, unit: "u" }]);
});
