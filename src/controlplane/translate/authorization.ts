/**
 * AuthorizationPolicy → what a ztunnel enforces at L4, with Istio ambient's rules for fields a
 * ztunnel cannot see: an ALLOW rule that needs any L7 field matches nothing at L4 (it is dropped,
 * so it can never allow too much); a DENY rule loses its L7 parts (so it denies at least as much
 * as written). Each such change is reported as a warning. Policies attached to a waypoint
 * (targetRef/targetRefs) and AUDIT/CUSTOM actions are not ztunnel policies. Pure.
 */
import { describeKey } from "../resources/resource.ts";
import type { AuthorizationPolicySpec, AuthzRule } from "../resources/kinds/authorization-policy.ts";
import type { Resource } from "../resources/resource.ts";
import type { AuthorizationRule, AuthorizationView, Condition, DestinationMatch, SourceMatch } from "../../state/view.ts";
import type { TranslateOptions, TranslationWarning } from "./snapshot.ts";

const L4_WHEN_KEYS = new Set(["source.ip", "source.namespace", "source.principal", "destination.ip", "destination.port"]);
const L7_SOURCE_FIELDS = ["requestPrincipals", "notRequestPrincipals", "remoteIpBlocks", "notRemoteIpBlocks"] as const;
const L7_OPERATION_FIELDS = ["hosts", "notHosts", "methods", "notMethods", "paths", "notPaths"] as const;

/** The L7 fields a rule uses, for the warning. */
export function l7FieldsOf(rule: AuthzRule): string[] {
  const used = new Set<string>();
  for (const f of rule.from ?? []) for (const k of L7_SOURCE_FIELDS) if (f.source?.[k]?.length) used.add(k);
  for (const t of rule.to ?? []) for (const k of L7_OPERATION_FIELDS) if (t.operation?.[k]?.length) used.add(k);
  for (const c of rule.when ?? []) if (!L4_WHEN_KEYS.has(c.key)) used.add(`when ${c.key}`);
  return [...used];
}

const list = (v: readonly string[] | undefined) => [...(v ?? [])];
const ports = (v: readonly string[] | undefined) => (v ?? []).map(Number);

/** serviceAccounts are "namespace/name"; as principals they become "<trust domain>/ns/<ns>/sa/<name>". */
function serviceAccountPrincipals(accounts: readonly string[] | undefined, trustDomain: string): string[] {
  return (accounts ?? []).map((a) => {
    const [ns, sa] = a.includes("/") ? a.split("/", 2) : ["*", a];
    return `${trustDomain}/ns/${ns}/sa/${sa}`;
  });
}

function l4Rule(rule: AuthzRule, trustDomain: string): AuthorizationRule {
  const from: SourceMatch[] = (rule.from ?? []).map(({ source: s }) => ({
    principals: [...list(s?.principals), ...serviceAccountPrincipals(s?.serviceAccounts, trustDomain)],
    notPrincipals: [...list(s?.notPrincipals), ...serviceAccountPrincipals(s?.notServiceAccounts, trustDomain)],
    namespaces: list(s?.namespaces),
    notNamespaces: list(s?.notNamespaces),
    ipBlocks: list(s?.ipBlocks),
    notIpBlocks: list(s?.notIpBlocks),
  }));
  const to: DestinationMatch[] = (rule.to ?? []).map(({ operation: o }) => ({ ports: ports(o?.ports), notPorts: ports(o?.notPorts) }));
  const when: Condition[] = (rule.when ?? [])
    .filter((c) => L4_WHEN_KEYS.has(c.key))
    .map((c) => ({ key: c.key, values: list(c.values), notValues: list(c.notValues) }));
  return { from, to, when };
}

export interface TranslatedPolicy {
  readonly view: AuthorizationView;
  /** The workload selector (matchLabels) when scope is "workload". */
  readonly selector?: Readonly<Record<string, string>>;
}

export function translateAuthorizationPolicy(
  policy: Resource<AuthorizationPolicySpec>,
  options: TranslateOptions,
  warn: (w: TranslationWarning) => void,
): TranslatedPolicy | null {
  const ref = describeKey({ kind: policy.kind, namespace: policy.metadata.namespace, name: policy.metadata.name });
  const spec = policy.spec;
  if (spec.targetRef || spec.targetRefs?.length) return null; // enforced by the waypoint it is attached to
  const action = spec.action ?? "ALLOW";
  if (action === "AUDIT" || action === "CUSTOM") {
    warn({ resource: ref, message: `action ${action} is not enforced by ztunnels; attach the policy to a waypoint (targetRefs) to enforce it` });
    return null;
  }
  const rules: AuthorizationRule[] = [];
  (spec.rules ?? []).forEach((rule, i) => {
    const l7 = l7FieldsOf(rule);
    if (l7.length > 0 && action === "ALLOW") {
      warn({ resource: ref, message: `rule ${i} uses L7 fields (${l7.join(", ")}) a ztunnel cannot check: as an ALLOW rule it matches nothing at L4; attach the policy to a waypoint to enforce it` });
      return;
    }
    if (l7.length > 0) {
      warn({ resource: ref, message: `rule ${i} uses L7 fields (${l7.join(", ")}) a ztunnel cannot check: they are ignored, so this DENY rule applies to more traffic than written` });
    }
    rules.push(l4Rule(rule, options.trustDomain));
  });
  const selector = spec.selector?.matchLabels;
  const hasSelector = selector !== undefined && Object.keys(selector).length > 0;
  const scope = hasSelector ? "workload" : policy.metadata.namespace === options.rootNamespace ? "global" : "namespace";
  return {
    view: { name: policy.metadata.name, namespace: policy.metadata.namespace, scope, action: action === "DENY" ? "deny" : "allow", rules },
    ...(hasSelector ? { selector } : {}),
  };
}
