/**
 * Decide what an apply or a delete-by-documents will do, before any write: parse every document,
 * validate every one, and refuse the whole request if any is invalid (all-or-nothing), reporting
 * every issue of every document. Pure.
 */
import { MeshError } from "../../errors/mesh-error.ts";
import { describeKey, keyOf, keyString, type Resource, type ResourceKey } from "../resources/resource.ts";
import type { FieldIssue } from "../resources/issues.ts";
import { formatIssues, validateDocument } from "../resources/validate.ts";
import type { WriteOp } from "../store/store.ts";
import { parseRequestDocuments } from "./documents.ts";

export interface DocumentIssues {
  readonly ref: string;
  readonly issues: readonly FieldIssue[];
}

export interface ApplyPlan {
  readonly ops: readonly WriteOp[];
  readonly warnings: readonly DocumentIssues[];
}

function refuse(all: readonly DocumentIssues[]): MeshError {
  const message = all.map((d) => formatIssues(d.ref, d.issues)).join("\n");
  return new MeshError("invalid_argument", `nothing was applied:\n${message}`, { detail: { documents: all } });
}

function validateAll(text: string, source: string): { resources: Resource[]; warnings: DocumentIssues[] } {
  const docs = parseRequestDocuments(text, source);
  if (docs.length === 0) throw new MeshError("invalid_argument", `${source}: no documents`);
  const invalid: DocumentIssues[] = [];
  const warnings: DocumentIssues[] = [];
  const resources: Resource[] = [];
  const seen = new Map<string, number>();
  docs.forEach((doc, i) => {
    const v = validateDocument(doc);
    if (!v.ok) return void invalid.push({ ref: `${v.ref} (document ${i + 1})`, issues: v.issues });
    const ks = keyString(keyOf(v.resource));
    if (seen.has(ks)) {
      return void invalid.push({ ref: `${describeKey(keyOf(v.resource))} (document ${i + 1})`, issues: [{ path: "metadata.name", message: `also in document ${(seen.get(ks) as number) + 1}` }] });
    }
    seen.set(ks, i);
    if (v.warnings.length > 0) warnings.push({ ref: describeKey(keyOf(v.resource)), issues: v.warnings });
    resources.push(v.resource);
  });
  if (invalid.length > 0) throw refuse(invalid);
  return { resources, warnings };
}

export function planApply(text: string, source: string): ApplyPlan {
  const { resources, warnings } = validateAll(text, source);
  return {
    ops: resources.map((resource) => ({
      type: "put" as const,
      resource,
      ...(resource.metadata.resourceVersion !== undefined ? { expectedVersion: resource.metadata.resourceVersion } : {}),
    })),
    warnings,
  };
}

/** The keys a set of documents names, for `mesh delete -f`; documents must still be valid resources. */
export function planDeleteDocuments(text: string, source: string): ResourceKey[] {
  return validateAll(text, source).resources.map(keyOf);
}
