/** Command-line options of bench/run.ts. Bad input throws UsageError (exit 2). */

export class UsageError extends Error {}

export interface BenchArgs {
  readonly help: boolean;
  readonly scenario: string | null;
  readonly durationSec: number;
  readonly repeat: number;
  /** null: every path. */
  readonly paths: readonly string[] | null;
}

export const DEFAULT_DURATION_SEC = 5;
const MAX_DURATION_SEC = 300;
const MAX_REPEAT = 20;

function integer(flag: string, text: string | undefined, min: number, max: number): number {
  const n = Number(text);
  if (text === undefined || !Number.isInteger(n) || n < min || n > max) throw new UsageError(`${flag} needs a whole number from ${min} to ${max}, got ${text ?? "nothing"}`);
  return n;
}

export function parseArgs(argv: readonly string[]): BenchArgs {
  let help = false;
  let scenario: string | null = null;
  let durationSec = DEFAULT_DURATION_SEC;
  let repeat = 1;
  let paths: string[] | null = null;
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
        if (arg.startsWith("-")) throw new UsageError(`unknown option ${arg}`);
        if (scenario !== null) throw new UsageError(`one scenario at a time (got ${scenario} and ${arg})`);
        scenario = arg;
    }
  }
  return { help, scenario, durationSec, repeat, paths };
}
