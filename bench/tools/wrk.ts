/** wrk: a bounded run (fixed connections and threads, fixed duration, hard kill) parsed from its --latency text output. */
import { hostPort, type Endpoint } from "../lib/net.ts";
import { LOOPBACK, type Place } from "../lib/place.ts";
import { runBounded } from "../lib/process.ts";

export interface WrkOptions {
  readonly connections: number;
  readonly threads: number;
  readonly durationSec: number;
  readonly path?: string;
  /** Extra request headers, "Name: value" (e.g. "Connection: close": a new connection per request). */
  readonly headers?: readonly string[];
}

export interface WrkResult {
  readonly requestsPerSec: number;
  readonly requests: number;
  readonly seconds: number;
  /** Latency percentiles in milliseconds, keyed by percent (50, 75, 90, 99). */
  readonly latencyMs: Readonly<Record<number, number>>;
  readonly socketErrors: number;
  readonly non2xx: number;
}

const TIME_UNITS_MS: Record<string, number> = { us: 1e-3, ms: 1, s: 1e3, m: 60e3, h: 3600e3 };

function toMs(text: string): number {
  const m = /^([\d.]+)(us|ms|s|m|h)$/.exec(text.trim());
  if (!m) throw new Error(`wrk: cannot read duration "${text}"`);
  return Number(m[1]) * (TIME_UNITS_MS[m[2] as string] as number);
}

export function parseWrk(output: string): WrkResult {
  const rps = /^Requests\/sec:\s+([\d.]+)/m.exec(output);
  const total = /^\s*(\d+) requests in ([\d.]+\w+),/m.exec(output);
  if (!rps || !total) throw new Error(`wrk: unexpected output:\n${output}`);
  const latencyMs: Record<number, number> = {};
  const dist = output.split("Latency Distribution")[1] ?? "";
  for (const m of dist.matchAll(/^\s+([\d.]+)%\s+(\S+)\s*$/gm)) latencyMs[Number(m[1])] = toMs(m[2] as string);
  if (latencyMs[50] === undefined || latencyMs[99] === undefined) throw new Error(`wrk: no latency distribution (was --latency given?):\n${output}`);
  const errors = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(output);
  const non2xx = /Non-2xx or 3xx responses: (\d+)/.exec(output);
  return {
    requestsPerSec: Number(rps[1]),
    requests: Number(total[1]),
    seconds: toMs(total[2] as string) / 1000,
    latencyMs,
    socketErrors: errors ? errors.slice(1).reduce((sum, n) => sum + Number(n), 0) : 0,
    non2xx: non2xx ? Number(non2xx[1]) : 0,
  };
}

export async function runWrk(target: Endpoint, o: WrkOptions, place: Place = LOOPBACK): Promise<WrkResult> {
  place.target(target);
  const url = `http://${hostPort(target)}${o.path ?? "/"}`;
  const argv = place.exec(["wrk", "-t", String(o.threads), "-c", String(o.connections), "-d", `${o.durationSec}s`, "--timeout", "5s", "--latency", ...(o.headers ?? []).flatMap((h) => ["-H", h]), url]);
  const limitSec = o.durationSec + 20;
  const r = await runBounded(argv, { timeoutMs: limitSec * 1000 });
  if (r.timedOut) throw new Error(`wrk still running ${limitSec} s in; killed`);
  if (r.code !== 0) throw new Error(`wrk exited ${r.code ?? r.signal}: ${r.stderr.trim() || r.stdout.trim()}`);
  const result = parseWrk(r.stdout);
  if (result.non2xx > 0) throw new Error(`wrk: ${result.non2xx} responses were not 2xx/3xx; the path is broken`);
  return result;
}
