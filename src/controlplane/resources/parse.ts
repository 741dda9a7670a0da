/**
 * Documents from text: YAML (which includes JSON), several per file separated by `---`, and
 * Kubernetes `List` objects unwrapped. This is a trust boundary (the API takes documents from
 * anyone with a token), so input is bounded: total size, number of documents, nesting depth and
 * YAML alias expansion are all limited (document-budget.ts), and every failure is a
 * MeshError("invalid_argument").
 */
import { Composer, isMap, Lexer, LineCounter, Parser, visit, type Document, type YAMLError } from "yaml";
import { MeshError } from "../../errors/mesh-error.ts";
import { DocumentBudget, LIMITS } from "./document-budget.ts";

export { LIMITS } from "./document-budget.ts";

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

/**
 * The YAML documents of `text`, one at a time as the parser reaches them: lexemes are counted
 * against the budget as they are read, so an oversized or pathological text stops where it
 * crosses a limit instead of being parsed whole first.
 */
function* streamDocuments(text: string, budget: DocumentBudget, lines: LineCounter): Generator<Document.Parsed> {
  const parser = new Parser(lines.addNewLine);
  lines.addNewLine(0); // Parser.parse() would record the first line's start; next() does not
  // yaml's own uniqueKeys check compares every pair of keys (quadratic: 40k keys took 30 s);
  // duplicates are found below in one pass per mapping instead.
  const composer = new Composer({ uniqueKeys: false });
  function* tokens() {
    for (const lexeme of new Lexer().lex(text)) {
      budget.addToken();
      yield* parser.next(lexeme);
    }
    yield* parser.end();
  }
  yield* composer.compose(tokens());
}

function describeYamlError(e: YAMLError, lines: LineCounter): string {
  const at = lines.linePos(e.pos[0]);
  return `${e.message} at line ${at.line}, column ${at.col}`;
}

export function parseDocuments(text: string, source = "input"): unknown[] {
  const budget = new DocumentBudget(source);
  budget.addBytes(text.length);
  const lines = new LineCounter();
  const out: unknown[] = [];
  let i = 0;
  try {
    for (const doc of streamDocuments(text, budget, lines)) {
      i++;
      // Every document counts, empty or not; the name says which one (the first when there is only one).
      const where = `${source} (document ${i})`;
      if (doc.errors.length > 0) throw bad(where, `not valid YAML: ${describeYamlError(doc.errors[0] as YAMLError, lines)}`);
      const duplicate = firstDuplicateKey(doc);
      if (duplicate !== undefined) throw bad(where, `not valid YAML: map keys must be unique ("${duplicate.slice(0, 100)}" repeats)`);
      let value: unknown;
      try {
        value = doc.toJS({ maxAliasCount: LIMITS.maxAliases });
      } catch (err) {
        throw bad(where, (err as Error).message);
      }
      if (value === null || value === undefined) {
        budget.addDocuments(1); // empty document between separators: nothing to apply, but it counts
        continue;
      }
      if (depthExceeds(value, LIMITS.maxDepth)) throw bad(where, `nested deeper than ${LIMITS.maxDepth} levels`);
      const items = isList(value) ? (value as { items: unknown[] }).items : [value];
      budget.addDocuments(Math.max(1, items.length));
      for (const item of items) out.push(item);
    }
  } catch (err) {
    if (err instanceof MeshError) throw err;
    throw bad(source, `not valid YAML: ${(err as Error).message}`);
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
