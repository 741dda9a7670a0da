/**
 * What the waypoint gives a plugin's `create(config, host)`: a logger, metrics, a clock and a
 * random source. All four are interfaces so tests inject them (a seeded random, a clock that
 * advances on sleep); the waypoint passes its real ones. `seededRandom` and `recordingHost` are
 * part of the contract so plugin authors test the same way first-party plugins do.
 */

export type LogFields = Readonly<Record<string, unknown>>;

export interface PluginLogger {
  debug(message: string, fields?: LogFields): void;
  info(message: string, fields?: LogFields): void;
  warn(message: string, fields?: LogFields): void;
  error(message: string, fields?: LogFields): void;
}

export type MetricLabels = Readonly<Record<string, string>>;

export interface PluginCounter {
  inc(labels?: MetricLabels, by?: number): void;
}

export interface PluginHistogram {
  observe(value: number, labels?: MetricLabels): void;
}

/** Metric families are declared once (in create), then used per request. */
export interface PluginMetrics {
  counter(name: string, help: string, labelNames?: readonly string[]): PluginCounter;
  histogram(name: string, help: string, labelNames?: readonly string[], buckets?: readonly number[]): PluginHistogram;
}

export interface Clock {
  /** Milliseconds since the epoch. */
  now(): number;
  /** Resolves after `ms`, or rejects with an AbortError when `signal` aborts first. */
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
}

/**
 * An HTTP call out of a filter (an external authorizer, a JWKS, a rate-limit service): the URL's
 * host names a mesh service (`http://ext-authz.foo.svc.cluster.local:9000/check`), reached
 * through the mesh as the waypoint's identity; `options.timeoutMs` bounds the whole call. Rejects
 * on a connection failure or timeout; an HTTP error status is a resolved Response.
 */
export type PluginFetch = (request: Request, options?: { readonly timeoutMs?: number }) => Promise<Response>;

export interface PluginHost {
  readonly log: PluginLogger;
  readonly metrics: PluginMetrics;
  readonly clock: Clock;
  /** Uniform in [0, 1), like Math.random. */
  readonly random: () => number;
  /** HTTP calls to mesh services (see PluginFetch). */
  readonly fetch: PluginFetch;
}

export const systemClock: Clock = {
  now: () => Date.now(),
  sleep: (ms, signal) =>
    new Promise<void>((resolve, reject) => {
      if (signal?.aborted) return reject(signal.reason);
      const onAbort = () => {
        clearTimeout(timer);
        reject(signal?.reason);
      };
      const timer = setTimeout(() => {
        signal?.removeEventListener("abort", onAbort);
        resolve();
      }, ms);
      signal?.addEventListener("abort", onAbort, { once: true });
    }),
};

/** A deterministic random source (mulberry32): the same seed gives the same draws. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return function random(): number {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A clock that never waits: `sleep` moves `now` forward and records the sleep. */
export function steppingClock(start = 0): Clock & { readonly sleeps: number[] } {
  let now = start;
  const sleeps: number[] = [];
  return {
    sleeps,
    now: () => now,
    sleep: async (ms, signal) => {
      if (signal?.aborted) throw signal.reason;
      sleeps.push(ms);
      now += ms;
    },
  };
}

export interface RecordedLine {
  readonly level: "debug" | "info" | "warn" | "error";
  readonly message: string;
  readonly fields: LogFields;
}

/** A host that keeps what it is told in memory: log lines, and metric values by name and labels. */
/** recordingHost's default fetch: a filter under test that calls out must be given a fetch (e.g. one answering from a table, or the global fetch to a loopback server). */
const noFetch: PluginFetch = (request) => Promise.reject(new Error(`recordingHost: no fetch given for ${request.method} ${request.url}`));

export function recordingHost(options: { seed?: number; clock?: Clock; fetch?: PluginFetch } = {}): PluginHost & { readonly lines: RecordedLine[]; readonly values: Map<string, number[]> } {
  const lines: RecordedLine[] = [];
  const values = new Map<string, number[]>();
  const series = (name: string, labels?: MetricLabels) => `${name}${JSON.stringify(labels ?? {})}`;
  const push = (key: string, v: number) => values.set(key, [...(values.get(key) ?? []), v]);
  const line = (level: RecordedLine["level"]) => (message: string, fields?: LogFields) => void lines.push({ level, message, fields: fields ?? {} });
  return {
    lines,
    values,
    log: { debug: line("debug"), info: line("info"), warn: line("warn"), error: line("error") },
    metrics: {
      counter: (name) => ({ inc: (labels, by = 1) => push(series(name, labels), by) }),
      histogram: (name) => ({ observe: (v, labels) => push(series(name, labels), v) }),
    },
    clock: options.clock ?? steppingClock(),
    random: seededRandom(options.seed ?? 1),
    fetch: options.fetch ?? noFetch,
  };
}
