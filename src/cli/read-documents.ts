/**
 * What `-f` names, as one text of YAML documents: a file, every .yaml/.yml/.json file in a
 * directory (sorted), or standard input. Bounded by the same DocumentBudget the API parses with:
 * sizes are checked before a file is read, and each file is at least one document, so input the
 * API would refuse is refused here with the same message, without reading or sending it.
 */
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { MeshError } from "../errors/mesh-error.ts";
import { DocumentBudget } from "../controlplane/resources/document-budget.ts";

/** Between files: keeps each file's documents separate even without a trailing newline. */
const SEPARATOR = "\n---\n";

export function readDocuments(source: string, readStdin: () => string): { text: string; files: string[] } {
  const budget = new DocumentBudget(`-f ${source}`);
  if (source === "-") {
    const text = readStdin();
    budget.addBytes(text.length);
    return { text, files: ["-"] };
  }
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
  for (const [i, f] of files.entries()) {
    budget.addDocuments(1);
    budget.addBytes(statSync(f).size + (i > 0 ? SEPARATOR.length : 0));
  }
  return { text: files.map((f) => readFileSync(f, "utf8")).join(SEPARATOR), files };
}
