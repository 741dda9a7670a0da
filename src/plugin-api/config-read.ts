/**
 * Small readers for a plugin's raw JSON config. Each takes the value and its path and either
 * returns it typed or throws a PluginConfigError naming that path, so a parseConfig reads like
 * the shape it expects and every refusal says where the mistake is.
 */
import { PluginConfigError } from "./errors.ts";
import { regexHazard } from "../util/regex-hazard.ts";

export type ConfigObject = Readonly<Record<string, unknown>>;

const kind = (v: unknown) => (v === undefined ? "nothing (missing)" : v === null ? "null" : Array.isArray(v) ? "an array" : typeof v === "object" ? "an object" : `a ${typeof v}`);

/** `at("a.b", "c")` → "a.b.c"; `at("a", 0)` → "a[0]". */
export function at(path: string, key: string | number): string {
  if (typeof key === "number") return `${path}[${key}]`;
  return path === "" ? key : `${path}.${key}`;
}

export function readObject(v: unknown, path: string, allowed?: readonly string[]): ConfigObject {
  if (typeof v !== "object" || v === null || Array.isArray(v)) throw new PluginConfigError(path, `must be an object, got ${kind(v)}`);
  if (allowed) {
    for (const k of Object.keys(v)) if (!allowed.includes(k)) throw new PluginConfigError(at(path, k), `unknown field (expected one of ${allowed.join(", ")})`);
  }
  return v as ConfigObject;
}

export function readArray(v: unknown, path: string, max = Infinity): readonly unknown[] {
  if (!Array.isArray(v)) throw new PluginConfigError(path, `must be an array, got ${kind(v)}`);
  if (v.length > max) throw new PluginConfigError(path, `at most ${max} items (got ${v.length})`);
  return v;
}

export function readString(v: unknown, path: string, options: { min?: number; max?: number; pattern?: RegExp; what?: string } = {}): string {
  if (typeof v !== "string") throw new PluginConfigError(path, `must be a string, got ${kind(v)}`);
  if (v.length < (options.min ?? 0)) throw new PluginConfigError(path, options.min === 1 ? "must not be empty" : `at least ${options.min} characters`);
  if (v.length > (options.max ?? Infinity)) throw new PluginConfigError(path, `at most ${options.max} characters`);
  if (options.pattern && !options.pattern.test(v)) throw new PluginConfigError(path, `must be ${options.what ?? `a string matching ${options.pattern}`}`);
  return v;
}

export function readInt(v: unknown, path: string, min = -Infinity, max = Infinity): number {
  if (typeof v !== "number" || !Number.isInteger(v)) throw new PluginConfigError(path, `must be an integer, got ${kind(v)}`);
  return inRange(v, path, min, max);
}

export function readNumber(v: unknown, path: string, min = -Infinity, max = Infinity): number {
  if (typeof v !== "number" || !Number.isFinite(v)) throw new PluginConfigError(path, `must be a number, got ${kind(v)}`);
  return inRange(v, path, min, max);
}

function inRange(v: number, path: string, min: number, max: number): number {
  if (v >= min && v <= max) return v;
  const range = max === Infinity ? `at least ${min}` : min === -Infinity ? `at most ${max}` : `between ${min} and ${max}`;
  throw new PluginConfigError(path, `must be ${range} (got ${v})`);
}

export function readBoolean(v: unknown, path: string): boolean {
  if (typeof v !== "boolean") throw new PluginConfigError(path, `must be true or false, got ${kind(v)}`);
  return v;
}

export function readEnum<T extends string>(v: unknown, path: string, values: readonly T[]): T {
  if (typeof v !== "string" || !(values as readonly string[]).includes(v)) throw new PluginConfigError(path, `must be one of ${values.join(", ")} (got ${JSON.stringify(v)})`);
  return v as T;
}

/**
 * A regular expression the filter will run, compiled once; anchored when `whole` (a full match, as
 * Envoy's safe_regex). Patterns that can backtrack exponentially are refused (src/util/regex-hazard.ts, the check the
 * control plane runs on route regexes too).
 */
export function readRegExp(v: unknown, path: string, whole = true): RegExp {
  const source = readString(v, path, { min: 1 });
  const hazard = regexHazard(source);
  if (hazard) throw new PluginConfigError(path, hazard);
  try {
    return new RegExp(whole ? `^(?:${source})$` : source);
  } catch (err) {
    throw new PluginConfigError(path, `not a valid regular expression: ${(err as Error).message}`);
  }
}

/** `obj[key]` through `read` when present, else `fallback`. */
export function readOptional<T>(obj: ConfigObject, key: string, path: string, read: (v: unknown, path: string) => T): T | undefined;
export function readOptional<T>(obj: ConfigObject, key: string, path: string, read: (v: unknown, path: string) => T, fallback: T): T;
export function readOptional<T>(obj: ConfigObject, key: string, path: string, read: (v: unknown, path: string) => T, fallback?: T): T | undefined {
  const v = obj[key];
  return v === undefined ? fallback : read(v, at(path, key));
}
