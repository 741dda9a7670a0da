/**
 * AuthorizationPolicy (security.istio.io/v1), every action and field. Checks beyond the schema
 * follow Istio's own validation: CUSTOM needs a provider and only CUSTOM may have one; a source or
 * operation must set something; ports are numbers; IP fields are IPs or CIDRs; wildcards only at
 * the start or end of a value; `when` keys are ones Istio knows and have values.
 */
import { z } from "zod";
import { cidrIssues, entryIssues, matchLabelsSelector, selectorVersusTargets, targetRef } from "../common.ts";
import { defineKind } from "../kind.ts";
import type { FieldIssue } from "../issues.ts";

const strings = z.array(z.string().min(1, "must not be empty")).optional();

export const authzSource = z.strictObject({
  principals: strings,
  notPrincipals: strings,
  requestPrincipals: strings,
  notRequestPrincipals: strings,
  namespaces: strings,
  notNamespaces: strings,
  serviceAccounts: strings,
  notServiceAccounts: strings,
  ipBlocks: strings,
  notIpBlocks: strings,
  remoteIpBlocks: strings,
  notRemoteIpBlocks: strings,
});

export const authzOperation = z.strictObject({
  hosts: strings,
  notHosts: strings,
  ports: strings,
  notPorts: strings,
  methods: strings,
  notMethods: strings,
  paths: strings,
  notPaths: strings,
});

export const authzCondition = z.strictObject({
  key: z.string().min(1),
  values: strings,
  notValues: strings,
});

export const authzRule = z.strictObject({
  from: z.array(z.strictObject({ source: authzSource.optional() })).optional(),
  to: z.array(z.strictObject({ operation: authzOperation.optional() })).optional(),
  when: z.array(authzCondition).optional(),
});

export const authorizationPolicySpec = z.strictObject({
  selector: matchLabelsSelector.optional(),
  targetRef: targetRef.optional(),
  targetRefs: z.array(targetRef).optional(),
  action: z.enum(["ALLOW", "DENY", "AUDIT", "CUSTOM"]).optional(),
  provider: z.strictObject({ name: z.string().min(1) }).optional(),
  rules: z.array(authzRule).optional(),
});
export type AuthorizationPolicySpec = z.infer<typeof authorizationPolicySpec>;
export type AuthzRule = z.infer<typeof authzRule>;
export type AuthzSource = z.infer<typeof authzSource>;
export type AuthzOperation = z.infer<typeof authzOperation>;

/** `when` keys Istio accepts; `[…]` keys take any name inside the brackets. */
const WHEN_KEYS = new Set([
  "source.ip",
  "remote.ip",
  "source.namespace",
  "source.principal",
  "source.serviceAccount",
  "request.auth.principal",
  "request.auth.audiences",
  "request.auth.presenter",
  "destination.ip",
  "destination.port",
  "connection.sni",
]);
const WHEN_KEY_PREFIXES = [/^request\.headers\[[^\]]+\]$/, /^request\.auth\.claims\[[^\]]+\](\[[^\]]+\])*$/, /^experimental\.envoy\.filters\.[\w.]+\[[^\]]+\]$/];

export function isKnownWhenKey(key: string): boolean {
  return WHEN_KEYS.has(key) || WHEN_KEY_PREFIXES.some((re) => re.test(key));
}

function wildcardIssues(path: string, values: readonly string[] | undefined): FieldIssue[] {
  return entryIssues(path, values, (v) => (v !== "*" && v.slice(1, -1).includes("*") ? `"${v}": "*" is allowed only at the start or end` : null));
}

function portIssues(path: string, values: readonly string[] | undefined): FieldIssue[] {
  return entryIssues(path, values, (v) => (/^\d{1,5}$/.test(v) && Number(v) >= 1 && Number(v) <= 65535 ? null : `"${v}" is not a port number`));
}

function hasAny(o: object | undefined): boolean {
  return o !== undefined && Object.values(o).some((v) => Array.isArray(v) && v.length > 0);
}

function ruleIssues(rule: AuthzRule, at: string): FieldIssue[] {
  // The per-entry helpers return at most MAX_ENTRY_ISSUES each, so spreading them stays small.
  const issues: FieldIssue[] = [];
  (rule.from ?? []).forEach((f, j) => {
    const p = `${at}.from[${j}].source`;
    const s = f.source;
    if (!hasAny(s)) return void issues.push({ path: p, message: "must set at least one field" });
    for (const field of ["ipBlocks", "notIpBlocks", "remoteIpBlocks", "notRemoteIpBlocks"] as const) issues.push(...cidrIssues(`${p}.${field}`, s?.[field]));
    for (const field of ["principals", "notPrincipals", "requestPrincipals", "notRequestPrincipals", "namespaces", "notNamespaces"] as const) {
      issues.push(...wildcardIssues(`${p}.${field}`, s?.[field]));
    }
  });
  (rule.to ?? []).forEach((t, j) => {
    const p = `${at}.to[${j}].operation`;
    const o = t.operation;
    if (!hasAny(o)) return void issues.push({ path: p, message: "must set at least one field" });
    issues.push(...portIssues(`${p}.ports`, o?.ports), ...portIssues(`${p}.notPorts`, o?.notPorts));
    for (const field of ["hosts", "notHosts", "paths", "notPaths"] as const) issues.push(...wildcardIssues(`${p}.${field}`, o?.[field]));
  });
  (rule.when ?? []).forEach((c, j) => {
    const p = `${at}.when[${j}]`;
    if (!isKnownWhenKey(c.key)) issues.push({ path: `${p}.key`, message: `unknown key "${c.key}"` });
    if (!c.values?.length && !c.notValues?.length) issues.push({ path: p, message: "needs values or notValues" });
    if (c.key === "destination.port") issues.push(...portIssues(`${p}.values`, c.values), ...portIssues(`${p}.notValues`, c.notValues));
    if (["source.ip", "remote.ip", "destination.ip"].includes(c.key)) {
      issues.push(...cidrIssues(`${p}.values`, c.values), ...cidrIssues(`${p}.notValues`, c.notValues));
    }
  });
  return issues;
}

export const authorizationPolicyKind = defineKind<AuthorizationPolicySpec>({
  kind: "AuthorizationPolicy",
  plural: "authorizationpolicies",
  shortNames: ["ap"],
  apiVersions: ["security.istio.io/v1", "security.istio.io/v1beta1"],
  namespaced: true,
  spec: authorizationPolicySpec,
  check: (spec) => {
    const issues: FieldIssue[] = [...selectorVersusTargets(spec)];
    if (spec.action === "CUSTOM" && !spec.provider) issues.push({ path: "spec.provider", message: "required when action is CUSTOM" });
    if (spec.action !== "CUSTOM" && spec.provider) issues.push({ path: "spec.provider", message: "only allowed when action is CUSTOM" });
    (spec.rules ?? []).forEach((rule, i) => issues.push(...ruleIssues(rule, `spec.rules[${i}]`)));
    return issues;
  },
});
