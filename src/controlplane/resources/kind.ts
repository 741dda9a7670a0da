/**
 * What mesh knows about one resource kind: the apiVersions it accepts (the first is the one
 * stored), its scope, the schema of its spec (zod, strict: unknown fields are errors), and
 * semantic checks that a schema cannot express (cross-field rules, CIDRs, ports as strings).
 */
import type { z } from "zod";
import type { FieldIssue } from "./issues.ts";
import type { ResourceMetadata } from "./resource.ts";

export interface KindDefinition<Spec = unknown> {
  readonly kind: string;
  /** Lower-case plural for API paths and `mesh get`: authorizationpolicies. */
  readonly plural: string;
  readonly shortNames?: readonly string[];
  readonly apiVersions: readonly string[];
  readonly namespaced: boolean;
  /** Kinds whose documents may leave out spec (Namespace) get `{}`. */
  readonly specOptional?: boolean;
  readonly spec: z.ZodType<Spec>;
  /** Extra checks on a spec that passed the schema; paths are from the document root (spec.…). */
  readonly check?: (spec: Spec, metadata: ResourceMetadata) => FieldIssue[];
  /** Findings that do not block the write but the operator should see. */
  readonly warn?: (spec: Spec, metadata: ResourceMetadata) => FieldIssue[];
}

export function defineKind<Spec>(def: KindDefinition<Spec>): KindDefinition<Spec> {
  return def;
}
