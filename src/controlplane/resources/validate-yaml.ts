/** Validate the first document of a YAML text, and list what was wrong, as "path: message" lines (for tests and tools). */
import { parseDocuments } from "./parse.ts";
import { validateDocument, type Validated } from "./validate.ts";

export function validateYaml(yaml: string): Validated {
  const [doc] = parseDocuments(yaml);
  return validateDocument(doc);
}

/** The issues of a document that must be refused; throws if it was accepted. */
export function issuesOfYaml(yaml: string): string[] {
  const r = validateYaml(yaml);
  if (r.ok) throw new Error("expected the document to be refused");
  return r.issues.map((i) => `${i.path}: ${i.message}`);
}
