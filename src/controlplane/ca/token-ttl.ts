/**
 * A node token's lifetime, as the API and the CLI take it: a duration string ("90s", "24h"),
 * between 1 s and 365 days, 24 h when absent. Anything else is refused with a clear error: a
 * number used to be ignored silently (the token got 24 h), and "1ms" was accepted although the
 * message said at least 1 s. Pure; the one check both sides use.
 */
import { MeshError } from "../../errors/mesh-error.ts";
import { formatDuration, parseDuration } from "../../util/duration.ts";

export const MIN_TOKEN_TTL_MS = 1000;
export const MAX_TOKEN_TTL_MS = 365 * 24 * 3600_000;
export const DEFAULT_TOKEN_TTL_MS = 24 * 3600_000;

/** `ms` if it is an allowed lifetime; MeshError("invalid_argument") naming `path` otherwise. */
export function checkTokenTtl(ms: number, path = "ttl"): number {
  if (!(Number.isFinite(ms) && ms >= MIN_TOKEN_TTL_MS && ms <= MAX_TOKEN_TTL_MS)) {
    throw new MeshError("invalid_argument", `token lifetime must be between 1s and 365d (got ${Number.isFinite(ms) ? formatDuration(ms) : String(ms)})`, { detail: { path } });
  }
  return ms;
}

/** The lifetime in an API request body's `ttl` field. */
export function tokenTtlFromBody(ttl: unknown): number {
  if (ttl === undefined) return DEFAULT_TOKEN_TTL_MS;
  if (typeof ttl !== "string") {
    throw new MeshError("invalid_argument", `"ttl" must be a duration string such as "90s" or "24h" (got ${typeof ttl === "number" ? `the number ${ttl}` : typeof ttl === "object" ? (ttl === null ? "null" : "an object") : `a ${typeof ttl}`})`, { detail: { path: "ttl" } });
  }
  let ms: number;
  try {
    ms = parseDuration(ttl);
  } catch (err) {
    throw new MeshError("invalid_argument", `"ttl": ${MeshError.from(err).message}`, { detail: { path: "ttl" } });
  }
  return checkTokenTtl(ms);
}
