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

/** A policy attachment (Gateway API PolicyTargetReference), as Istio's targetRef/targetRefs. */
export const targetRef = z.strictObject({
  group: z.string().optional(),
  kind: z.enum(["Gateway", "Service", "ServiceEntry", "GatewayClass"]),
  name: z.string().min(1),
  namespace: z.string().optional(),
});

export const nonEmptyString = z.string().min(1);

/** Every entry must be a valid IP or CIDR. */
export function cidrIssues(path: string, values: readonly string[] | undefined): FieldIssue[] {
  return (values ?? []).flatMap((v, i) =>
    parseCidr(v) ? [] : [{ path: `${path}[${i}]`, message: `"${v}" is not an IP address or CIDR block` }],
  );
}

/** selector and targetRef(s) pick the workloads a policy applies to; Istio allows only one of them. */
export function selectorVersusTargets(spec: { selector?: unknown; targetRef?: unknown; targetRefs?: readonly unknown[] }): FieldIssue[] {
  const used = [spec.selector && "selector", spec.targetRef && "targetRef", spec.targetRefs?.length && "targetRefs"].filter(Boolean);
  return used.length > 1 ? [{ path: "spec", message: `only one of selector, targetRef, targetRefs may be set (got ${used.join(", ")})` }] : [];
}
