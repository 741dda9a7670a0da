/**
 * Documents from text: YAML (which includes JSON), several per file separated by `---`, and
 * Kubernetes `List` objects unwrapped. This is a trust boundary (the API takes documents from
 * anyone with a token), so input is bounded: total size, number of documents, nesting depth and
 * YAML alias expansion are all limited, and every failure is a MeshError("invalid_argument").
 */
import { isMap, parseAllDocuments, visit } from "yaml";
import { MeshError } from "../../errors/mesh-error.ts";

export const LIMITS = {
  maxBytes: 4 * 1024 * 1024,
  maxDocuments: 1000,
  maxDepth: 64,
  maxAliases: 100,
} as const;

function depthExceeds(value: unknown, max: number): boolean {
  const stack: Array<[unknown, number]> = [[value, 0]];
  while (stack.length > 0) {
    const [v, d] = stack.pop() as [unknown, number];
    if (typeof v !== "object" || v === null) continue;
    if (d >= max) return true;
    for (const child of Object.values(v)) stack.push([child, d + 1]);
  }
  return false;
}

function bad(source: string, message: string): MeshError {
  return new MeshError("invalid_argument", `${source}: ${message}`);
}

export function parseDocuments(text: string, source = "input"): unknown[] {
  if (text.length > LIMITS.maxBytes) throw bad(source, `larger than ${LIMITS.maxBytes} bytes`);
  let docs;
  try {
    // yaml's own uniqueKeys check compares every pair of keys (quadratic: 40k keys took 30 s);
    // duplicates are found below in one pass per mapping instead.
    docs = parseAllDocuments(text, { uniqueKeys: false, prettyErrors: true });
  } catch (err) {
    throw bad(source, `not valid YAML: ${(err as Error).message}`);
  }
  if (!Array.isArray(docs)) docs = [docs];
  const out: unknown[] = [];
  for (const [i, doc] of docs.entries()) {
    const where = docs.length > 1 ? `${source} (document ${i + 1})` : source;
    if (doc.errors.length > 0) throw bad(where, `not valid YAML: ${doc.errors[0]?.message ?? "parse error"}`);
    const duplicate = firstDuplicateKey(doc);
    if (duplicate !== undefined) throw bad(where, `not valid YAML: map keys must be unique ("${duplicate.slice(0, 100)}" repeats)`);
    let value: unknown;
    try {
      value = doc.toJS({ maxAliasCount: LIMITS.maxAliases });
    } catch (err) {
      throw bad(where, (err as Error).message);
    }
    if (value === null || value === undefined) continue; // empty document between separators
    if (depthExceeds(value, LIMITS.maxDepth)) throw bad(where, `nested deeper than ${LIMITS.maxDepth} levels`);
    const items = isList(value) ? (value as { items: unknown[] }).items : [value];
    if (out.length + items.length > LIMITS.maxDocuments) throw bad(source, `more than ${LIMITS.maxDocuments} documents`);
    for (const item of items) out.push(item);
  }
  return out;
}

/** The first key that repeats within one mapping, in one pass per mapping. */
function firstDuplicateKey(doc: Parameters<typeof visit>[0]): string | undefined {
  let found: string | undefined;
  visit(doc, {
    Map(_key, map) {
      if (!isMap(map)) return;
      const seen = new Set<string>();
      for (const pair of map.items) {
        const k = String((pair.key as { value?: unknown } | null)?.value ?? pair.key);
        if (seen.has(k)) {
          found = k;
          return visit.BREAK;
        }
        seen.add(k);
      }
    },
  });
  return found;
}

function isList(v: unknown): boolean {
  return typeof v === "object" && v !== null && (v as { kind?: unknown }).kind === "List" && Array.isArray((v as { items?: unknown }).items);
}
