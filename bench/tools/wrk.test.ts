import { describe, expect, test } from "bun:test";
import { parseWrk } from "./wrk.ts";

const SAMPLE = `Running 3s test @ http://127.0.0.1:44387/
  2 threads and 64 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency    12.85ms   28.90ms 404.44ms   91.81%
    Req/Sec     7.86k     1.46k   11.25k    81.51%
  Latency Distribution
     50%  720.00us
     75%    1.15ms
     90%   35.40ms
     99%    1.20s
  93110 requests in 6.00s, 24.60MB read
  Socket errors: connect 0, read 2, write 0, timeout 1
Requests/sec:  15510.64
Transfer/sec:      4.10MB
`;

describe("parseWrk", () => {
  test("reads req/s, totals, percentiles in ms and errors", () => {
    const r = parseWrk(SAMPLE);
    expect(r.requestsPerSec).toBe(15510.64);
    expect(r.requests).toBe(93110);
    expect(r.seconds).toBe(6);
    expect(r.latencyMs[50]).toBeCloseTo(0.72);
    expect(r.latencyMs[90]).toBeCloseTo(35.4);
    expect(r.latencyMs[99]).toBeCloseTo(1200);
    expect(r.socketErrors).toBe(3);
    expect(r.non2xx).toBe(0);
  });

  test("refuses output without a latency distribution", () => {
    const withoutLatency = SAMPLE.replace(/ {2}Latency Distribution[\s\S]*?99%.*\n/, "");
    expect(() => parseWrk(withoutLatency)).toThrow(/latency distribution/);
  });
});
