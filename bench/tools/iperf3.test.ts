import { expect, test } from "bun:test";
import { parseIperf3 } from "./iperf3.ts";

test("parseIperf3 reads the receiver side and surfaces iperf3's own error", () => {
  const ok = JSON.stringify({ end: { sum_received: { bits_per_second: 4.2e9, bytes: 1.575e9, seconds: 3 }, sum_sent: { retransmits: 0 } } });
  expect(parseIperf3(ok)).toEqual({ gbitPerSec: 4.2, bytes: 1.575e9, seconds: 3, retransmits: 0 });
  expect(() => parseIperf3(JSON.stringify({ error: "the server is busy" }))).toThrow(/server is busy/);
});
