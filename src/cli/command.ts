/** The shape of a CLI command, and the options every command shares. */
import type { LogControl } from "../telemetry/log.ts";
import type { RuntimePort } from "../runtime/port.ts";
import type { OptionSpec, OptionValues } from "./options.ts";

export interface CommandContext {
  readonly rt: RuntimePort;
  readonly options: OptionValues;
  readonly positionals: readonly string[];
  readonly logs: LogControl;
  /** Standard output for the command's results (logs go to stderr). */
  readonly out: (text: string) => void;
  /** Standard error, for warnings meant for the person at the terminal. */
  readonly err: (text: string) => void;
}

export interface Command {
  readonly name: string;
  readonly summary: string;
  /** Positional arguments in usage form, e.g. "KIND [NAME]". */
  readonly usage?: string;
  readonly positionals?: { readonly min: number; readonly max: number };
  readonly options: readonly OptionSpec[];
  /**
   * Verbs under this command (`mesh waypoint apply`), each a command of its own whose name is the
   * full path ("waypoint apply"). The first argument picks one; without a verb the command itself runs.
   */
  readonly subcommands?: readonly Command[];
  /** Runs the command; resolves to its exit code. */
  readonly run: (ctx: CommandContext) => Promise<number>;
}

export const COMMON_OPTIONS: readonly OptionSpec[] = [
  { name: "config", type: "string", arg: "FILE", description: "YAML file of settings, keyed by flag name (flags and MESH_* variables win over it)" },
  { name: "log-level", type: "string", arg: "SPEC", default: "info", description: "log level, optionally per component: info,xds=debug (levels: debug, info, warn, error, off)" },
  { name: "log-format", type: "enum", values: ["text", "json"], default: "text", description: "log line format" },
];
