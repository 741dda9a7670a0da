/**
 * Validation of one document into a Resource: envelope, metadata, the kind's spec schema and its
 * semantic checks. Pure: returns every issue found (not just the first), each with a field path,
 * so an operator fixes a document in one round. Server-managed metadata is passed through for the
 * store to check (resourceVersion) or overwrite (the rest).
 */
import { fromZodIssues, type FieldIssue } from "./issues.ts";
import { metadataSchema, namespaceProblem, nameProblem } from "./metadata.ts";
import { KINDS, kindDefinition } from "./registry.ts";
import type { Resource, ResourceMetadata } from "./resource.ts";

export type Validated =
  | { readonly ok: true; readonly resource: Resource; readonly warnings: readonly FieldIssue[] }
  | { readonly ok: false; readonly ref: string; readonly issues: readonly FieldIssue[] };

const ENVELOPE_FIELDS = new Set(["apiVersion", "kind", "metadata", "spec", "status"]);

/**
 * Issues reported per document. A 4 MiB document of bad entries would otherwise produce a million
 * issues (over 100 MB of messages) in the response; the first ones are what an operator fixes.
 */
export const MAX_ISSUES = 100;

function capped(issues: FieldIssue[]): FieldIssue[] {
  if (issues.length <= MAX_ISSUES) return issues;
  return [...issues.slice(0, MAX_ISSUES), { path: "", message: `and ${issues.length - MAX_ISSUES} more issues` }];
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** How a document is named in messages, from whatever it has even if invalid. */
export function documentRef(doc: unknown): string {
  if (!isObject(doc)) return "document";
  const kind = typeof doc.kind === "string" ? doc.kind : "document";
  const meta = isObject(doc.metadata) ? doc.metadata : {};
  const name = typeof meta.name === "string" ? meta.name : "(no name)";
  return typeof meta.namespace === "string" ? `${kind} ${meta.namespace}/${name}` : `${kind} ${name}`;
}

export function validateDocument(doc: unknown): Validated {
  const ref = documentRef(doc);
  const fail = (issues: FieldIssue[]): Validated => ({ ok: false, ref, issues: capped(issues) });
  if (!isObject(doc)) return fail([{ path: "", message: "a resource must be a mapping (apiVersion, kind, metadata, spec)" }]);

  const issues: FieldIssue[] = [];
  const warnings: FieldIssue[] = [];
  for (const key of Object.keys(doc)) if (!ENVELOPE_FIELDS.has(key)) issues.push({ path: key, message: "unknown field" });
  if (doc.status !== undefined) warnings.push({ path: "status", message: "status is managed by the server; ignored" });
  if (typeof doc.kind !== "string") return fail([...issues, { path: "kind", message: "required (a string)" }]);
  const def = kindDefinition(doc.kind);
  if (!def) {
    return fail([...issues, { path: "kind", message: `unknown kind "${doc.kind}"; known kinds: ${KINDS.map((k) => k.kind).join(", ")}` }]);
  }
  if (typeof doc.apiVersion !== "string" || !def.apiVersions.includes(doc.apiVersion)) {
    issues.push({ path: "apiVersion", message: `${def.kind} takes apiVersion ${def.apiVersions.join(" or ")}` });
  }

  const meta = metadataSchema.safeParse(doc.metadata ?? {});
  if (!meta.success) return fail([...issues, ...fromZodIssues("metadata", meta.error.issues)]);
  const m = meta.data;
  const name = nameProblem(m.name, def.kind);
  if (name) issues.push({ path: "metadata.name", message: name });
  let namespace = m.namespace ?? "";
  if (def.namespaced) {
    if (namespace === "") namespace = "default";
    const ns = namespaceProblem(namespace);
    if (ns) issues.push({ path: "metadata.namespace", message: ns });
  } else if (namespace !== "") {
    issues.push({ path: "metadata.namespace", message: `${def.kind} is cluster-scoped and has no namespace` });
  }
  const metadata: ResourceMetadata = {
    name: m.name,
    namespace,
    labels: m.labels ?? {},
    annotations: m.annotations ?? {},
    ...(m.uid !== undefined ? { uid: m.uid } : {}),
    ...(m.resourceVersion !== undefined ? { resourceVersion: m.resourceVersion } : {}),
  };

  const rawSpec = doc.spec === undefined && def.specOptional ? {} : doc.spec;
  if (rawSpec === undefined) return fail([...issues, { path: "spec", message: "required" }]);
  const spec = def.spec.safeParse(rawSpec);
  if (!spec.success) return fail([...issues, ...fromZodIssues("spec", spec.error.issues)]);
  // Loops, not push(...): spreading a huge issue list into arguments overflows the stack.
  for (const issue of def.check?.(spec.data, metadata) ?? []) issues.push(issue);
  if (issues.length > 0) return fail(issues);
  for (const warning of def.warn?.(spec.data, metadata) ?? []) warnings.push(warning);
  return { ok: true, resource: { apiVersion: def.apiVersions[0] as string, kind: def.kind, metadata, spec: spec.data }, warnings };
}

export function formatIssues(ref: string, issues: readonly FieldIssue[]): string {
  return issues.map((i) => `${ref}: ${i.path === "" ? "" : `${i.path}: `}${i.message}`).join("\n");
}
