/**
 * Gateway API durations (GEP-2257): one to four `<1-5 digits><h|m|s|ms>` parts, e.g. `10s`,
 * `500ms`, `1h30m`. The format route timeouts, retry backoffs and plugin timeouts share.
 */
import { PluginConfigError } from "./errors.ts";

const DURATION = /^([0-9]{1,5}(h|m|s|ms)){1,4}$/;
const UNIT_MS: Readonly<Record<string, number>> = { h: 3_600_000, m: 60_000, s: 1000, ms: 1 };

/** Milliseconds of a Gateway API duration, or a PluginConfigError at `path`. */
export function readDuration(v: unknown, path: string): number {
  if (typeof v !== "string" || !DURATION.test(v)) throw new PluginConfigError(path, `must be a Gateway API duration such as "10s", "500ms" or "1h30m" (got ${JSON.stringify(v)})`);
  let ms = 0;
  for (const m of v.matchAll(/(\d+)(ms|h|m|s)/g)) ms += Number(m[1]) * (UNIT_MS[m[2] as string] as number);
  return ms;
}
