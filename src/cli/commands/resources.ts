/** `mesh apply`, `mesh get`, `mesh delete`: kubectl-style resource commands against the control plane API. */
import type { Command } from "../command.ts";
import type { OptionSpec } from "../options.ts";
import { notBuiltYet } from "../not-built.ts";

const SERVER_OPTIONS: readonly OptionSpec[] = [
  { name: "server", type: "string", arg: "URL", default: "http://127.0.0.1:15014", description: "control plane REST API" },
  { name: "token", type: "string", arg: "TOKEN", description: "admin token for the API" },
];

const tracking = "the control-plane issue";

export const applyCommand: Command = {
  name: "apply",
  summary: "create or update resources from YAML/JSON documents",
  options: [
    { name: "filename", short: "f", type: "string", arg: "FILE|DIR|-", required: true, description: "documents to apply; - reads standard input" },
    ...SERVER_OPTIONS,
  ],
  run: notBuiltYet("mesh apply", tracking),
};

export const getCommand: Command = {
  name: "get",
  summary: "list or show resources",
  usage: "KIND [NAME]",
  positionals: { min: 1, max: 2 },
  options: [
    { name: "namespace", short: "n", type: "string", arg: "NS", description: "namespace (default: all namespaces)" },
    { name: "output", short: "o", type: "enum", values: ["table", "wide", "yaml", "json"], default: "table", description: "output format" },
    ...SERVER_OPTIONS,
  ],
  run: notBuiltYet("mesh get", tracking),
};

export const deleteCommand: Command = {
  name: "delete",
  summary: "delete resources named in files or by kind and name",
  usage: "[KIND NAME]",
  positionals: { min: 0, max: 2 },
  options: [
    { name: "filename", short: "f", type: "string", arg: "FILE|DIR|-", description: "delete the resources these documents name" },
    { name: "namespace", short: "n", type: "string", arg: "NS", default: "default", description: "namespace of KIND NAME" },
    ...SERVER_OPTIONS,
  ],
  run: notBuiltYet("mesh delete", tracking),
};
