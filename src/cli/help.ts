/** Help text, rendered from the command table so it can never drift from what is parsed. */
import { COMMON_OPTIONS, type Command } from "./command.ts";
import { envNameFor, type OptionSpec } from "./options.ts";
import { COMMANDS } from "./registry.ts";

export function mainHelp(): string {
  const width = Math.max(...COMMANDS.map((c) => c.name.length));
  return [
    "mesh — a sidecar-less service mesh in one binary",
    "",
    "Usage: mesh <command> [flags]",
    "",
    "Commands:",
    ...COMMANDS.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`),
    "",
    "Run `mesh <command> --help` for a command's flags. Every flag can also be set with a MESH_*",
    "environment variable or in the --config file; flags win over the environment, which wins over the file.",
  ].join("\n");
}

function optionLine(spec: OptionSpec): [string, string] {
  const short = spec.short ? `-${spec.short}, ` : "    ";
  const arg = spec.type === "bool" ? "" : ` ${spec.arg ?? (spec.type === "enum" ? (spec.values ?? []).join("|") : spec.type.toUpperCase())}`;
  const notes: string[] = [];
  if (spec.required) notes.push("required");
  if (spec.default !== undefined) notes.push(`default ${spec.default}`);
  notes.push(spec.commandLineOnly ? "command line only" : `env ${envNameFor(spec.name)}`);
  return [`  ${short}--${spec.name}${arg}`, `${spec.description} (${notes.join("; ")})`];
}

export function commandHelp(command: Command): string {
  const lines = [...command.options, ...COMMON_OPTIONS].map(optionLine);
  const width = Math.max(...lines.map(([l]) => l.length));
  return [
    `mesh ${command.name} — ${command.summary}`,
    "",
    `Usage: mesh ${command.name}${command.usage ? ` ${command.usage}` : ""} [flags]`,
    "",
    ...subcommandLines(command),
    "Flags:",
    ...lines.map(([l, d]) => `${l.padEnd(width)}  ${d}`),
    `${"  -h, --help".padEnd(width)}  show this help`,
  ].join("\n");
}

function subcommandLines(command: Command): string[] {
  const subs = command.subcommands ?? [];
  if (subs.length === 0) return [];
  const width = Math.max(...subs.map((c) => c.name.length));
  return ["Commands:", ...subs.map((c) => `  mesh ${c.name.padEnd(width)}  ${c.summary}`), `Run \`mesh ${command.name} <command> --help\` for a command's flags.`, ""];
}
