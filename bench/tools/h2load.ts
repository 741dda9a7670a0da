/**
 * h2load (nghttp2-client) at a fixed request rate over HTTP/1.1: `--h1 --rps R -c C` sends R
 * requests per second on each of C keep-alive connections (C × R in all), one at a time per
 * connection, for a timed run after a warm-up. Latency percentiles come from its --log-file (one
 * line per request: start µs, status, µs to the end of the response), since its summary has only
 * min/max/mean. A request that waits for the previous one on its connection is timed from when it
 * was sent, not from when it was due (closed loop): keep C × latency far below C / R so no
 * request waits, and check the achieved rate.
 *
 * The rate is not spread evenly: h2load's rps timer never ticks faster than every 10 ms, and each
 * tick releases the requests due since the last one (10 per connection at 1,000 req/s), which a
 * connection then sends back to back. So the first request of each tick finds every process on
 * the path asleep, and the rest find them awake; the result splits latency by that
 * (`idleStart`), because on a shared VM the wake-up from idle is most of a proxy's tail.
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

/** h2load's rps timer: `max(0.01, 1 / rps)` seconds per connection. */
export const RPS_TICK_MIN_MS = 10;

/** Requests that started after nothing had been in flight for this long count as idle starts. */
export const IDLE_START_MS = 1;

export interface IdleStartSplit {
  /** Share of requests that started after the whole load had been idle ≥ IDLE_START_MS (0..1). */
  readonly share: number;
  /** Percentiles in ms (50, 99) of those requests, and p99 of the others. */
  readonly idleP50: number;
  readonly idleP99: number;
  readonly busyP99: number;
}

export interface H2loadResult {
  readonly requests: number;
  readonly succeeded: number;
  /** Requests that failed, errored or timed out, and responses that were not 2xx. */
  readonly failed: number;
  readonly requestsPerSec: number;
  /** Percentiles in ms keyed by percent (50, 90, 99, 99.9, 100). */
  readonly latencyMs: Readonly<Record<number, number>>;
  readonly idleStart: IdleStartSplit;
}

export const PERCENTS = [50, 90, 99, 99.9, 100] as const;

export interface H2loadLogLine {
  /** When the request was sent, µs (h2load's clock). */
  readonly start: number;
  readonly status: number;
  /** µs from sending to the end of the response. */
  readonly micros: number;
}

/** The per-request log: start µs, status, µs per line. */
export function parseH2loadLog(text: string): H2loadLogLine[] {
  const out: H2loadLogLine[] = [];
  for (const line of text.split("\n")) {
    const [start, status, micros] = line.split("\t");
    if (start === undefined || status === undefined || micros === undefined) continue;
    out.push({ start: Number(start), status: Number(status), micros: Number(micros) });
  }
  return out;
}

/**
 * Split latencies (ms) by whether the request started after the whole load had been idle (no
 * request of any connection in flight) for at least `idleMs`.
 */
export function splitByIdleStart(lines: readonly H2loadLogLine[], idleMs = IDLE_START_MS): { idle: number[]; busy: number[] } {
  const idle: number[] = [];
  const busy: number[] = [];
  let busyUntil = -Infinity;
  for (const l of [...lines].sort((a, b) => a.start - b.start)) {
    (l.start - busyUntil >= idleMs * 1000 ? idle : busy).push(l.micros / 1000);
    busyUntil = Math.max(busyUntil, l.start + l.micros);
  }
  return { idle, busy };
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
  const { idle, busy } = splitByIdleStart(ok);
  return {
    requests: log.length,
    succeeded: ok.length,
    failed: summary.failed + (log.length - ok.length),
    requestsPerSec: log.length / o.durationSec,
    latencyMs,
    idleStart: { share: ok.length > 0 ? idle.length / ok.length : 0, idleP50: percentile(idle, 50), idleP99: percentile(idle, 99), busyP99: percentile(busy, 99) },
  };
}
