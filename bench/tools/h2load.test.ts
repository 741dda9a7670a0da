import { describe, expect, test } from "bun:test";
import { parseH2loadLog, parseH2loadSummary, splitByIdleStart } from "./h2load.ts";

describe("h2load output", () => {
  test("the summary line gives totals, with failures, errors and timeouts together", () => {
    const out = "finished in 3.00s, 1000.00 req/s, 146.48KB/s\nrequests: 2000 total, 2000 started, 1990 done, 1990 succeeded, 4 failed, 3 errored, 3 timeout\n";
    expect(parseH2loadSummary(out)).toEqual({ total: 2000, succeeded: 1990, failed: 10 });
    expect(() => parseH2loadSummary("nothing")).toThrow("unexpected output");
  });

  test("the per-request log is start µs, status, µs to the response's end; blank lines are skipped", () => {
    expect(parseH2loadLog("1795328785536273\t200\t356\n1795328785536275\t503\t945\n\n")).toEqual([
      { start: 1795328785536273, status: 200, micros: 356 },
      { start: 1795328785536275, status: 503, micros: 945 },
    ]);
  });

  // start µs, duration µs → which requests found the whole load idle for ≥ 1 ms
  const cases: { name: string; lines: [number, number][]; idle: number[]; busy: number[] }[] = [
    { name: "a train: only its head starts idle", lines: [[0, 500], [500, 200], [700, 300], [10_000, 400], [10_400, 100]], idle: [0.5, 0.4], busy: [0.2, 0.3, 0.1] },
    { name: "a gap just under 1 ms is not idle", lines: [[0, 100], [1_099, 100]], idle: [0.1], busy: [0.1] },
    { name: "overlapping connections: idle only once all are done", lines: [[0, 3_000], [1_500, 100], [2_000, 100], [3_999, 50], [5_100, 50]], idle: [3, 0.05], busy: [0.1, 0.1, 0.05] },
    { name: "out-of-order lines are sorted by start", lines: [[10_000, 100], [0, 100]], idle: [0.1, 0.1], busy: [] },
  ];
  for (const c of cases)
    test(`idle starts: ${c.name}`, () => {
      const got = splitByIdleStart(c.lines.map(([start, micros]) => ({ start, status: 200, micros })));
      expect(got).toEqual({ idle: c.idle, busy: c.busy });
    });
});
