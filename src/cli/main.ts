/**
 * argv → command → config → run. The only place a thrown error becomes an exit code and a message
 * on stderr; everything below throws MeshError and returns values.
 */
import { MeshError } from "../errors/mesh-error.ts";
import { exitCodeFor } from "../errors/exit-code.ts";
import type { RuntimePort } from "../runtime/port.ts";
import { createLogControl, type LogFormat } from "../telemetry/log.ts";
import { COMMON_OPTIONS, type Command } from "./command.ts";
import { readConfigFile } from "./config-file.ts";
import { commandHelp, mainHelp } from "./help.ts";
import { parseArgv, resolveOptions } from "./options.ts";
import { COMMANDS, findCommand } from "./registry.ts";

export interface CliIo {
  readonly out: (text: string) => void;
  readonly err: (text: string) => void;
}

const stdio: CliIo = {
  out: (text) => process.stdout.write(text.endsWith("\n") ? text : text + "\n"),
  err: (text) => process.stderr.write(text.endsWith("\n") ? text : text + "\n"),
};

export async function runCli(rt: RuntimePort, argv: readonly string[], io: CliIo = stdio): Promise<number> {
  try {
    return await dispatch(rt, argv, io);
  } catch (err) {
    const e = MeshError.from(err);
    io.err(`error: ${e.message}`);
    if (e.detail.accepted && e.detail.accepted.length > 0) io.err(`accepted: ${e.detail.accepted.join(", ")}`);
    if (e.code === "internal" && e.stack) io.err(e.stack);
    return exitCodeFor(e.code);
  }
}

/** A first argument naming a verb selects it; another word where a verb belongs is refused with the verbs. */
function pickSubcommand(command: Command, args: readonly string[]): { command: Command; args: readonly string[] } {
  const [first, ...after] = args;
  if (!command.subcommands || first === undefined || first.startsWith("-")) return { command, args };
  const sub = command.subcommands.find((c) => c.name === `${command.name} ${first}`);
  if (sub) return { command: sub, args: after };
  if ((command.positionals?.max ?? 0) > 0) return { command, args };
  throw new MeshError("invalid_argument", `unknown ${command.name} command "${first}"`, {
    detail: { accepted: command.subcommands.map((c) => c.name.slice(command.name.length + 1)) },
  });
}

async function dispatch(rt: RuntimePort, argv: readonly string[], io: CliIo): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === "--help" || name === "-h" || name === "help") {
    const topic = name === "help" && rest[0] ? findCommand(rest[0]) : undefined;
    io.out(topic ? commandHelp(topic) : mainHelp());
    return 0;
  }
  if (name === "--version") return dispatch(rt, ["version"], io);
  const top = findCommand(name);
  if (!top) {
    throw new MeshError("invalid_argument", `unknown command "${name}"`, {
      detail: { accepted: COMMANDS.map((c) => c.name) },
    });
  }
  const { command, args } = pickSubcommand(top, rest);
  const specs = [...command.options, ...COMMON_OPTIONS];
  const parsed = parseArgv(specs, args);
  if (parsed.help) {
    io.out(commandHelp(command));
    return 0;
  }
  const { min, max } = command.positionals ?? { min: 0, max: 0 };
  if (parsed.positionals.length < min || parsed.positionals.length > max) {
    const usage = command.usage ? ` ${command.usage}` : "";
    throw new MeshError(
      "invalid_argument",
      `mesh ${command.name} takes ${min === max ? min : `${min} to ${max}`} argument(s), got ${parsed.positionals.length}: usage mesh ${command.name}${usage} [flags]`,
    );
  }
  const env = rt.envWithPrefix("MESH_");
  const configPath = parsed.flags.config ?? env.MESH_CONFIG;
  const file = configPath ? { path: configPath, values: readConfigFile(configPath) } : undefined;
  const options = resolveOptions(specs, { flags: parsed.flags, env, ...(file ? { file } : {}) });
  const logs = createLogControl({ format: options["log-format"] as LogFormat, spec: options["log-level"] as string });
  return command.run({ rt, options, positionals: parsed.positionals, logs, out: io.out, err: io.err });
}
