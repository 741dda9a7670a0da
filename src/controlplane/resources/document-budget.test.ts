import { describe, expect, test } from "bun:test";
import { MeshError } from "../../errors/mesh-error.ts";
import { DocumentBudget } from "./document-budget.ts";

const SMALL = { maxBytes: 10, maxDocuments: 3, maxTokens: 5 };

/** Run the steps against a fresh budget: "ok", or the refusal's message. */
function run(steps: ReadonlyArray<(b: DocumentBudget) => void>): string {
  const b = new DocumentBudget("body", SMALL);
  try {
    for (const s of steps) s(b);
    return "ok";
  } catch (err) {
    const e = MeshError.from(err);
    return `${e.code}: ${e.message}`;
  }
}

describe("DocumentBudget", () => {
  const bytes = (n: number) => (b: DocumentBudget) => b.addBytes(n);
  const docs = (n: number) => (b: DocumentBudget) => b.addDocuments(n);
  const token = (b: DocumentBudget) => b.addToken();
  test.each([
    ["bytes up to the limit", [bytes(4), bytes(6)], "ok"],
    ["bytes past the limit, added up", [bytes(4), bytes(7)], "invalid_argument: body: larger than 10 bytes"],
    ["documents up to the limit", [docs(1), docs(2)], "ok"],
    ["one document too many", [docs(1), docs(1), docs(1), docs(1)], "invalid_argument: body: more than 3 documents (empty ones count too)"],
    ["a List larger than the limit at once", [docs(4)], "invalid_argument: body: more than 3 documents (empty ones count too)"],
    ["tokens up to the limit", [token, token, token, token, token], "ok"],
    ["one token too many", [token, token, token, token, token, token], "invalid_argument: body: more than 5 YAML tokens (about 30,000 lines); send large configs as JSON or in several requests"],
  ] as Array<[string, Array<(b: DocumentBudget) => void>, string]>)("%s", (_name, steps, want) => {
    expect(run(steps)).toBe(want);
  });
});
