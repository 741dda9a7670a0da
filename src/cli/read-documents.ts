/** What `-f` names, as one text of YAML documents: a file, every .yaml/.yml/.json file in a directory (sorted), or standard input. */
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { MeshError } from "../errors/mesh-error.ts";

export function readDocuments(source: string, readStdin: () => string): { text: string; files: string[] } {
  if (source === "-") return { text: readStdin(), files: ["-"] };
  let stat;
  try {
    stat = statSync(source);
  } catch {
    throw new MeshError("invalid_argument", `-f ${source}: no such file or directory`, { detail: { path: "--filename" } });
  }
  const files = stat.isDirectory()
    ? readdirSync(source)
        .filter((f) => /\.(ya?ml|json)$/.test(f))
        .sort()
        .map((f) => join(source, f))
    : [source];
  if (files.length === 0) throw new MeshError("invalid_argument", `-f ${source}: no .yaml, .yml or .json files in it`);
  // "---" between files keeps each file's documents separate even without a trailing newline.
  return { text: files.map((f) => readFileSync(f, "utf8")).join("\n---\n"), files };
}
