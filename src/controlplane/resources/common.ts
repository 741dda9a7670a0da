/** Schema pieces several kinds share: label selectors, policy target references, ports, names. */
import { z } from "zod";
import { parseCidr } from "../../net/ip.ts";
import type { FieldIssue } from "./issues.ts";

const LABEL_NAME = /^([A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?)$/;
const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

export function isDnsSubdomain(s: string): boolean {
  return s.length <= 253 && DNS_SUBDOMAIN.test(s);
}

export function isDnsLabel(s: string): boolean {
  return s.length <= 63 && DNS_LABEL.test(s);
}

/** Kubernetes label/annotation key: optional DNS-subdomain prefix, "/", name of at most 63. */
export function labelKeyProblem(key: string): string | null {
  const slash = key.lastIndexOf("/");
  const prefix = slash < 0 ? "" : key.slice(0, slash);
  const name = slash < 0 ? key : key.slice(slash + 1);
  if (slash >= 0 && !isDnsSubdomain(prefix)) return `key prefix "${prefix}" is not a DNS subdomain`;
  if (name.length === 0 || name.length > 63 || !LABEL_NAME.test(name)) {
    return `key "${key}" must be at most 63 characters of letters, digits, '-', '_', '.', starting and ending alphanumeric`;
  }
  return null;
}

export const labelKey = z.string().superRefine((k, ctx) => {
  const problem = labelKeyProblem(k);
  if (problem) ctx.addIssue({ code: "custom", message: problem });
});

export const labelValue = z
  .string()
  .max(63)
  .regex(/^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/, "label value must be letters, digits, '-', '_', '.', starting and ending alphanumeric");

export const labels = z.record(labelKey, labelValue);

export const matchLabelsSelector = z.strictObject({ matchLabels: labels.optional() });

export const portNumber = z.number().int().min(1).max(65535);

/**
 * A policy attachment (Gateway API PolicyTargetReference), as Istio's targetRef/targetRefs. The
 * target is always in the policy's own namespace: Istio refuses any namespace here, and allowing
 * one would let a policy in one namespace attach to another namespace's waypoint.
 */
export const targetRef = z.strictObject({
  group: z.string().optional(),
  kind: z.enum(["Gateway", "Service", "ServiceEntry", "GatewayClass"]),
  name: z.string().min(1),
  namespace: z.literal("", { error: "cross-namespace references are not supported: the target is in the policy's namespace" }).optional(),
});

export const nonEmptyString = z.string().min(1);

/** At most this many issues from one per-entry check, so a list of a million bad entries stays cheap to report. */
export const MAX_ENTRY_ISSUES = 100;

/** Issues for the entries of `values` that `problem` finds fault with (capped). */
export function entryIssues(path: string, values: readonly string[] | undefined, problem: (v: string) => string | null): FieldIssue[] {
  const issues: FieldIssue[] = [];
  let more = 0;
  (values ?? []).forEach((v, i) => {
    const why = problem(v);
    if (!why) return;
    if (issues.length < MAX_ENTRY_ISSUES) issues.push({ path: `${path}[${i}]`, message: why });
    else more++;
  });
  if (more > 0) issues.push({ path, message: `and ${more} more entries like these` });
  return issues;
}

/** Every entry must be a valid IP or CIDR. */
export function cidrIssues(path: string, values: readonly string[] | undefined): FieldIssue[] {
  return entryIssues(path, values, (v) => (parseCidr(v) ? null : `"${v}" is not an IP address or CIDR block`));
}

/** selector and targetRef(s) pick the workloads a policy applies to; Istio allows only one of them. */
export function selectorVersusTargets(spec: { selector?: unknown; targetRef?: unknown; targetRefs?: readonly unknown[] }): FieldIssue[] {
  const used = [spec.selector && "selector", spec.targetRef && "targetRef", spec.targetRefs?.length && "targetRefs"].filter(Boolean);
  return used.length > 1 ? [{ path: "spec", message: `only one of selector, targetRef, targetRefs may be set (got ${used.join(", ")})` }] : [];
}

const MAX_DUPLICATES = 100;

/**
 * Entries whose key repeats an earlier one, reported at `<at>[i]<field>` as `duplicate of <at>[j]`
 * (or `message(<at>[j])`); an undefined key is never a duplicate. At most MAX_DUPLICATES are
 * reported, so callers may spread the result whatever the list's length.
 */
export function duplicateIssues<T>(
  items: readonly T[] | undefined,
  at: string,
  key: (t: T) => string | undefined,
  field = "",
  message = (first: string) => `duplicate of ${first}`,
): FieldIssue[] {
  const seen = new Map<string, number>();
  const issues: FieldIssue[] = [];
  (items ?? []).forEach((item, i) => {
    const k = key(item);
    if (k === undefined) return;
    const first = seen.get(k);
    if (first === undefined) seen.set(k, i);
    else if (issues.length < MAX_DUPLICATES) issues.push({ path: `${at}[${i}]${field}`, message: message(`${at}[${first}]`) });
  });
  return issues;
}
