/**
 * h2load (nghttp2-client) at a fixed request rate over HTTP/1.1: `--h1 --rps R -c C` sends R
 * requests per second on each of C keep-alive connections (C × R in all), one at a time per
 * connection, for a timed run after a warm-up. Latency percentiles come from its --log-file (one
 * line per request: start µs, status, µs to the end of the response), since its summary has only
 * min/max/mean. A request that waits for the previous one on its connection is timed from when it
 * was sent, not from when it was due (closed loop): keep C × latency far below C / R so no
 * request waits, and check the achieved rate.
 */
import { readFileSync, rmSync } from "node:fs";
import { hostPort, type Endpoint } from "../lib/net.ts";
import { LOOPBACK, type Place } from "../lib/place.ts";
import { runBounded } from "../lib/process.ts";
import { percentile } from "../scenarios/ca-sign-shape.ts";

export interface H2loadOptions {
  readonly clients: number;
  /** Requests per second per client. */
  readonly ratePerClient: number;
  readonly durationSec: number;
  readonly warmupSec: number;
  /** Where h2load writes its per-request log (a path it can reach from its place). */
  readonly logFile: string;
}

export interface H2loadResult {
  readonly requests: number;
  readonly succeeded: number;
  /** Requests that failed, errored or timed out, and responses that were not 2xx. */
  readonly failed: number;
  readonly requestsPerSec: number;
  /** Percentiles in ms keyed by percent (50, 90, 99, 99.9, 100). */
  readonly latencyMs: Readonly<Record<number, number>>;
}

export const PERCENTS = [50, 90, 99, 99.9, 100] as const;

/** The per-request log: [status, µs] per line. */
export function parseH2loadLog(text: string): { status: number; micros: number }[] {
  const out: { status: number; micros: number }[] = [];
  for (const line of text.split("\n")) {
    const [start, status, micros] = line.split("\t");
    if (start === undefined || status === undefined || micros === undefined) continue;
    out.push({ status: Number(status), micros: Number(micros) });
  }
  return out;
}

/** "requests: 3000 total, 3000 started, 3000 done, 3000 succeeded, 0 failed, 0 errored, 0 timeout" */
export function parseH2loadSummary(stdout: string): { total: number; succeeded: number; failed: number } {
  const m = /requests: (\d+) total, \d+ started, \d+ done, (\d+) succeeded, (\d+) failed, (\d+) errored, (\d+) timeout/.exec(stdout);
  if (!m) throw new Error(`h2load: unexpected output:\n${stdout}`);
  return { total: Number(m[1]), succeeded: Number(m[2]), failed: Number(m[3]) + Number(m[4]) + Number(m[5]) };
}

export async function runH2loadFixedRate(target: Endpoint, o: H2loadOptions, place: Place = LOOPBACK): Promise<H2loadResult> {
  place.target(target);
  rmSync(o.logFile, { force: true }); // h2load appends to an existing log
  const argv = place.exec([
    "h2load", "--h1", "-t", "1", "-c", String(o.clients), "--rps", String(o.ratePerClient),
    "-D", String(o.durationSec), "--warm-up-time", String(o.warmupSec), "-T", String(o.durationSec + o.warmupSec + 5), "-N", "5",
    "--log-file", o.logFile, `http://${hostPort(target)}/`,
  ]);
  const limitSec = o.durationSec + o.warmupSec + 20;
  const r = await runBounded(argv, { timeoutMs: limitSec * 1000 });
  if (r.timedOut) throw new Error(`h2load still running ${limitSec} s in; killed`);
  if (r.code !== 0) throw new Error(`h2load exited ${r.code ?? r.signal}: ${r.stderr.trim() || r.stdout.trim()}`);
  const summary = parseH2loadSummary(r.stdout);
  const log = parseH2loadLog(readFileSync(o.logFile, "utf8"));
  const ok = log.filter((l) => l.status >= 200 && l.status < 300);
  const ms = ok.map((l) => l.micros / 1000);
  const latencyMs: Record<number, number> = {};
  for (const p of PERCENTS) latencyMs[p] = percentile(ms, p);
  return {
    requests: log.length,
    succeeded: ok.length,
    failed: summary.failed + (log.length - ok.length),
    requestsPerSec: log.length / o.durationSec,
    latencyMs,
  };
}
