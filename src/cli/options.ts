/**
 * Command options: their declaration, argv parsing and value conversion. Pure functions: they
 * return values or throw a MeshError("invalid_argument") naming the flag and what it accepts;
 * the CLI maps that to exit code 2.
 *
 * Where a value comes from, highest first: the command line, the environment (`MESH_` + the flag
 * name in upper snake case: --data-dir → MESH_DATA_DIR), the config file (YAML, keys are the flag
 * names), the option's default.
 */
import { MeshError } from "../errors/mesh-error.ts";
import { parseDuration } from "../util/duration.ts";

export type OptionType = "string" | "int" | "bool" | "enum" | "duration" | "list" | "address";

export interface OptionSpec {
  readonly name: string;
  readonly short?: string;
  readonly type: OptionType;
  readonly description: string;
  readonly values?: readonly string[];
  readonly default?: string;
  readonly required?: boolean;
  readonly min?: number;
  readonly max?: number;
  /** Placeholder for help text, e.g. FILE. */
  readonly arg?: string;
  /**
   * Taken from the command line only, never from MESH_* or the config file: a choice made per
   * invocation (what to delete, which object), which a variable left in a shell must not make.
   */
  readonly commandLineOnly?: boolean;
}

export type OptionValue = string | number | boolean | readonly string[];
export type OptionValues = Readonly<Record<string, OptionValue | undefined>>;

export interface ParsedArgv {
  readonly flags: Readonly<Record<string, string>>;
  readonly positionals: readonly string[];
  readonly help: boolean;
}

export function envNameFor(flag: string): string {
  return `MESH_${flag.toUpperCase().replaceAll("-", "_")}`;
}

function usageError(message: string, detail: { path?: string; accepted?: readonly string[] } = {}): MeshError {
  return new MeshError("invalid_argument", message, { detail });
}

function flagList(specs: readonly OptionSpec[]): string[] {
  return specs.map((s) => `--${s.name}`);
}

/** Split argv into flags (by option name) and positionals. `--` ends flags. */
export function parseArgv(specs: readonly OptionSpec[], argv: readonly string[]): ParsedArgv {
  const byName = new Map(specs.map((s) => [s.name, s]));
  const byShort = new Map(specs.filter((s) => s.short).map((s) => [s.short as string, s]));
  const flags: Record<string, string> = {};
  const positionals: string[] = [];
  let help = false;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string;
    if (arg === "--") {
      positionals.push(...argv.slice(i + 1));
      break;
    }
    if (arg === "--help" || arg === "-h") {
      help = true;
      continue;
    }
    let spec: OptionSpec | undefined;
    let inline: string | undefined;
    if (arg.startsWith("--")) {
      const eq = arg.indexOf("=");
      const name = eq < 0 ? arg.slice(2) : arg.slice(2, eq);
      inline = eq < 0 ? undefined : arg.slice(eq + 1);
      spec = byName.get(name);
      if (!spec) throw usageError(`unknown flag --${name}`, { path: `--${name}`, accepted: flagList(specs) });
    } else if (arg.startsWith("-") && arg.length > 1 && !/^-\d/.test(arg)) {
      const name = arg.slice(1, 2);
      inline = arg.length > 2 ? arg.slice(2).replace(/^=/, "") : undefined;
      spec = byShort.get(name);
      if (!spec) throw usageError(`unknown flag -${name}`, { path: `-${name}`, accepted: flagList(specs) });
    } else {
      positionals.push(arg);
      continue;
    }
    if (spec.type === "bool" && inline === undefined) {
      flags[spec.name] = "true";
      continue;
    }
    const value = inline ?? argv[++i];
    if (value === undefined) throw usageError(`flag --${spec.name} needs a value${spec.arg ? ` (${spec.arg})` : ""}`, { path: `--${spec.name}` });
    flags[spec.name] = value;
  }
  return { flags, positionals, help };
}

/** Convert one raw value; `source` says where it came from, for the error message. */
export function convertValue(spec: OptionSpec, raw: string, source: string): OptionValue {
  const fail = (why: string, accepted?: readonly string[]) =>
    usageError(`${source}: ${why}`, { path: `--${spec.name}`, ...(accepted ? { accepted } : {}) });
  switch (spec.type) {
    case "string":
      if (raw === "") throw fail("must not be empty");
      return raw;
    case "bool": {
      const v = raw.toLowerCase();
      if (["true", "1", "yes"].includes(v)) return true;
      if (["false", "0", "no"].includes(v)) return false;
      throw fail(`"${raw}" is not a boolean`, ["true", "false"]);
    }
    case "int": {
      if (!/^-?\d+$/.test(raw.trim())) throw fail(`"${raw}" is not a whole number`);
      const n = Number(raw);
      if (spec.min !== undefined && n < spec.min) throw fail(`${n} is below the minimum ${spec.min}`);
      if (spec.max !== undefined && n > spec.max) throw fail(`${n} is above the maximum ${spec.max}`);
      return n;
    }
    case "enum":
      if (!spec.values?.includes(raw)) throw fail(`"${raw}" is not one of ${spec.values?.join(", ")}`, spec.values);
      return raw;
    case "duration":
      try {
        return parseDuration(raw);
      } catch (err) {
        throw fail(err instanceof Error ? err.message : String(err), ["e.g. 500ms, 30s, 5m, 24h"]);
      }
    case "list": {
      const items = raw.split(",").map((s) => s.trim()).filter((s) => s !== "");
      if (items.length === 0) throw fail("needs at least one value");
      return items;
    }
    case "address": {
      const m = /^(\[[0-9a-fA-F:.]+\]|[^\s:[\]]*):(\d{1,5})$/.exec(raw);
      const port = m ? Number(m[2]) : NaN;
      if (!m || port > 65535) throw fail(`"${raw}" is not HOST:PORT`, ["127.0.0.1:15012", "[::1]:15012", ":15012"]);
      return raw;
    }
  }
}

/** Normalize a config-file value (YAML scalar or list) to the raw string form flags use. */
function fileValueToRaw(spec: OptionSpec, value: unknown, source: string): string {
  if (Array.isArray(value) && spec.type === "list") return value.map(String).join(",");
  if (typeof value === "string" || typeof value === "number" || typeof value === "boolean") return String(value);
  throw usageError(`${source}: expected a ${spec.type === "list" ? "list or comma-separated string" : "scalar"}`, {
    path: `--${spec.name}`,
  });
}

export interface OptionSources {
  readonly flags: Readonly<Record<string, string>>;
  readonly env: Readonly<Record<string, string>>;
  readonly file?: { readonly path: string; readonly values: Readonly<Record<string, unknown>> };
}

/** Merge the sources by precedence and convert every value; refuse unknown file keys and missing required values. */
export function resolveOptions(specs: readonly OptionSpec[], sources: OptionSources): OptionValues {
  const known = new Set(specs.map((s) => s.name));
  if (sources.file) {
    for (const key of Object.keys(sources.file.values)) {
      if (!known.has(key)) {
        throw usageError(`${sources.file.path}: unknown setting "${key}"`, { path: key, accepted: [...known] });
      }
    }
  }
  const out: Record<string, OptionValue | undefined> = {};
  for (const spec of specs) {
    const envName = envNameFor(spec.name);
    let value: OptionValue | undefined;
    if (sources.flags[spec.name] !== undefined) {
      value = convertValue(spec, sources.flags[spec.name] as string, `flag --${spec.name}`);
    } else if (!spec.commandLineOnly && sources.env[envName] !== undefined) {
      value = convertValue(spec, sources.env[envName] as string, `environment ${envName}`);
    } else if (!spec.commandLineOnly && sources.file && spec.name in sources.file.values) {
      const src = `${sources.file.path}: ${spec.name}`;
      value = convertValue(spec, fileValueToRaw(spec, sources.file.values[spec.name], src), src);
    } else if (spec.default !== undefined) {
      value = convertValue(spec, spec.default, `default of --${spec.name}`);
    } else if (spec.type === "bool") {
      value = false;
    }
    if (value === undefined && spec.required) {
      throw usageError(`missing required flag --${spec.name}${spec.commandLineOnly ? "" : ` (or ${envName})`}`, { path: `--${spec.name}` });
    }
    out[spec.name] = value;
  }
  return out;
}
