/**
 * The HTTPFaults a waypoint's router needs (pure): every `mesh.dev` `HTTPFault` that a rule or a
 * backendRef of an attached route names with an ExtensionRef filter, looked up in the route's
 * namespace (an ExtensionRef is a local reference) and keyed "<namespace>/<name>", the key the
 * router's `faults` config uses. Faults no route names are left out. A reference to a fault that
 * does not exist is reported: the router then answers that rule with a 500 (unsupported_filter).
 */
import type { HTTPFaultSpec } from "../resources/kinds/http-fault.ts";
import type { Resource } from "../resources/resource.ts";
import { resourceName } from "../../state/view.ts";
import type { RouteFields, TranslationWarning } from "./snapshot.ts";

export const FAULT_GROUP = "mesh.dev";
export const FAULT_KIND = "HTTPFault";

/** The filter fields read here; the route kinds' schemas guarantee the shape. */
interface FilterFields {
  readonly type: string;
  readonly extensionRef?: { readonly group: string; readonly kind: string; readonly name: string };
}
interface RuleFields {
  readonly filters?: readonly FilterFields[];
  readonly backendRefs?: ReadonlyArray<{ readonly filters?: readonly FilterFields[] }>;
}

/** Each HTTPFault reference in a route's rules: the field path of the filter and the fault's name. */
export function faultReferences(rules: readonly unknown[]): Array<{ path: string; name: string }> {
  const out: Array<{ path: string; name: string }> = [];
  const scan = (filters: readonly FilterFields[] | undefined, at: string) =>
    (filters ?? []).forEach((f, i) => {
      if (f.type === "ExtensionRef" && f.extensionRef?.group === FAULT_GROUP && f.extensionRef.kind === FAULT_KIND) out.push({ path: `${at}.filters[${i}]`, name: f.extensionRef.name });
    });
  (rules as readonly RuleFields[]).forEach((rule, i) => {
    scan(rule.filters, `spec.rules[${i}]`);
    (rule.backendRefs ?? []).forEach((b, j) => scan(b.filters, `spec.rules[${i}].backendRefs[${j}]`));
  });
  return out;
}

/** The router's `faults` for these routes: "<ns>/<name>" → the HTTPFault's spec. */
export function faultsFor(
  routes: readonly Resource<RouteFields>[],
  faults: readonly Resource<HTTPFaultSpec>[],
  warn: (w: TranslationWarning) => void,
): Record<string, HTTPFaultSpec> {
  const byName = new Map(faults.map((f) => [resourceName(f.metadata.namespace, f.metadata.name), f.spec]));
  const out: Record<string, HTTPFaultSpec> = {};
  for (const r of routes) {
    for (const ref of faultReferences(r.spec.rules ?? [])) {
      const key = resourceName(r.metadata.namespace, ref.name);
      const spec = byName.get(key);
      if (spec) out[key] = spec;
      else warn({ resource: `${r.kind} ${r.metadata.namespace}/${r.metadata.name}`, message: `${ref.path} refers to ${FAULT_KIND} ${key}, which does not exist: that rule answers 500` });
    }
  }
  return out;
}
