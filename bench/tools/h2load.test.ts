import { describe, expect, test } from "bun:test";
import { parseH2loadLog, parseH2loadSummary } from "./h2load.ts";

describe("h2load output", () => {
  test("the summary line gives totals, with failures, errors and timeouts together", () => {
    const out = "finished in 3.00s, 1000.00 req/s, 146.48KB/s\nrequests: 2000 total, 2000 started, 1990 done, 1990 succeeded, 4 failed, 3 errored, 3 timeout\n";
    expect(parseH2loadSummary(out)).toEqual({ total: 2000, succeeded: 1990, failed: 10 });
    expect(() => parseH2loadSummary("nothing")).toThrow("unexpected output");
  });

  test("the per-request log is start µs, status, µs to the response's end; blank lines are skipped", () => {
    expect(parseH2loadLog("1795328785536273\t200\t356\n1795328785536275\t503\t945\n\n")).toEqual([
      { status: 200, micros: 356 },
      { status: 503, micros: 945 },
    ]);
  });
});
