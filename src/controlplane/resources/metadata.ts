/** Validation of metadata: names, namespaces, labels, annotations; server-managed fields pass through. */
import { z } from "zod";
import { isDnsLabel, isDnsSubdomain, labels, labelKey } from "./common.ts";

const MAX_ANNOTATIONS_BYTES = 256 * 1024;

export const metadataSchema = z.strictObject({
  name: z.string().min(1, "name is required"),
  namespace: z.string().optional(),
  labels: labels.optional(),
  annotations: z
    .record(labelKey, z.string())
    .refine((a) => JSON.stringify(a).length <= MAX_ANNOTATIONS_BYTES, "annotations must total at most 256 KiB")
    .optional(),
  uid: z.string().optional(),
  resourceVersion: z.string().regex(/^\d+$/, "resourceVersion is a decimal revision from this store").optional(),
  generation: z.number().int().optional(),
  creationTimestamp: z.string().optional(),
});

export function nameProblem(name: string, kind: string): string | null {
  if (kind === "Namespace" || kind === "Service") {
    return isDnsLabel(name) ? null : "must be a DNS label: at most 63 lower-case letters, digits and '-', starting and ending alphanumeric";
  }
  return isDnsSubdomain(name) ? null : "must be a DNS subdomain: at most 253 lower-case letters, digits, '-' and '.'";
}

export function namespaceProblem(namespace: string): string | null {
  return isDnsLabel(namespace) ? null : "must be a DNS label: at most 63 lower-case letters, digits and '-'";
}
