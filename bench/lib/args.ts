/** Command-line options of bench/run.ts. Bad input throws UsageError (exit 2). */

export class UsageError extends Error {}

export interface BenchArgs {
  readonly help: boolean;
  readonly scenario: string | null;
  readonly durationSec: number;
  readonly repeat: number;
  /** null: every path. */
  readonly paths: readonly string[] | null;
  /** Scenario-specific flags as given (--name value), checked against the scenario by run.ts. */
  readonly options: Readonly<Record<string, string>>;
}

export const DEFAULT_DURATION_SEC = 5;
const MAX_DURATION_SEC = 300;
const MAX_REPEAT = 20;

function integer(flag: string, text: string | undefined, min: number, max: number): number {
  const n = Number(text);
  if (text === undefined || !Number.isInteger(n) || n < min || n > max) throw new UsageError(`${flag} needs a whole number from ${min} to ${max}, got ${text ?? "nothing"}`);
  return n;
}

/** `scenarioFlags`: names (without --) some scenario declares; any other unknown flag is an error. */
export function parseArgs(argv: readonly string[], scenarioFlags: readonly string[] = []): BenchArgs {
  let help = false;
  let scenario: string | null = null;
  let durationSec = DEFAULT_DURATION_SEC;
  let repeat = 1;
  let paths: string[] | null = null;
  const options: Record<string, string> = {};
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string;
    const [flag, inline] = arg.startsWith("--") && arg.includes("=") ? [arg.slice(0, arg.indexOf("=")), arg.slice(arg.indexOf("=") + 1)] : [arg, undefined];
    const value = (): string | undefined => inline ?? argv[++i];
    switch (flag) {
      case "-h":
      case "--help":
        help = true;
        break;
      case "-d":
      case "--duration":
        durationSec = integer("--duration", value(), 1, MAX_DURATION_SEC);
        break;
      case "--repeat":
        repeat = integer("--repeat", value(), 1, MAX_REPEAT);
        break;
      case "--paths":
        paths = (value() ?? "").split(",").map((p) => p.trim()).filter((p) => p !== "");
        if (paths.length === 0) throw new UsageError("--paths needs a comma-separated list of path names");
        break;
      default:
        if (flag.startsWith("--") && scenarioFlags.includes(flag.slice(2))) {
          const v = value();
          if (v === undefined || v.startsWith("--")) throw new UsageError(`${flag} needs a value`);
          options[flag.slice(2)] = v;
          break;
        }
        if (arg.startsWith("-")) throw new UsageError(`unknown option ${arg}`);
        if (scenario !== null) throw new UsageError(`one scenario at a time (got ${scenario} and ${arg})`);
        scenario = arg;
    }
  }
  return { help, scenario, durationSec, repeat, paths, options };
}

/** A scenario's whole-number option, as run.ts checks it (Scenario.options). */
export interface OptionSpec {
  readonly name: string;
  readonly default: number;
  readonly min: number;
  readonly max: number;
}

/** The given scenario flags checked against what the scenario declares, defaults filled in. */
export function resolveOptions(scenario: string, declared: readonly OptionSpec[], given: Readonly<Record<string, string>>): Record<string, number> {
  const unknown = Object.keys(given).filter((k) => !declared.some((d) => d.name === k));
  if (unknown.length > 0) throw new UsageError(`${unknown.map((k) => `--${k}`).join(", ")}: not an option of ${scenario}`);
  return Object.fromEntries(declared.map((d) => [d.name, given[d.name] === undefined ? d.default : integer(`--${d.name}`, given[d.name], d.min, d.max)]));
}
