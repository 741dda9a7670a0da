/** Reads the --config file: a YAML mapping of flag names to values. */
import { readFileSync } from "node:fs";
import { parse } from "yaml";
import { MeshError } from "../errors/mesh-error.ts";

export function readConfigFile(path: string): Record<string, unknown> {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (err) {
    throw new MeshError("invalid_argument", `config file ${path}: cannot read it (${(err as Error).message})`, {
      cause: err,
      detail: { path: "--config" },
    });
  }
  let doc: unknown;
  try {
    doc = parse(text, { maxAliasCount: 100 });
  } catch (err) {
    throw new MeshError("invalid_argument", `config file ${path}: not valid YAML: ${(err as Error).message}`, {
      cause: err,
      detail: { path: "--config" },
    });
  }
  if (doc === null || doc === undefined) return {};
  if (typeof doc !== "object" || Array.isArray(doc)) {
    throw new MeshError("invalid_argument", `config file ${path}: must be a mapping of flag names to values`, {
      detail: { path: "--config" },
    });
  }
  return doc as Record<string, unknown>;
}
