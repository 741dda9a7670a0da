/**
 * Which waypoint, if any, fronts a service or a workload, by Istio ambient's labels:
 * `istio.io/use-waypoint` (and `istio.io/use-waypoint-namespace` for a waypoint in another
 * namespace) on the workload or service, else on its namespace; the value "none" opts out. The
 * Gateway's `istio.io/waypoint-for` (service — the default —, workload, all, none) says which
 * traffic it takes. A waypoint in another namespace must admit the caller's namespace through
 * its listeners' allowedRoutes. A binding to a waypoint that does not exist is kept for services, as
 * the default waypoint-for would (traffic then fails rather than skipping the waypoint's L7
 * policy), and reported. Pure.
 */
import { USE_WAYPOINT_LABEL, USE_WAYPOINT_NAMESPACE_LABEL } from "../resources/kinds/namespace.ts";
import type { Resource } from "../resources/resource.ts";
import type { WaypointRef } from "../../state/view.ts";
import { selectorMatches, type GatewayFields, type TranslationWarning } from "./snapshot.ts";

export const WAYPOINT_FOR_LABEL = "istio.io/waypoint-for";
export const GATEWAY_NAME_LABEL = "gateway.networking.k8s.io/gateway-name";
export const WAYPOINT_CLASS = "istio-waypoint";
export const DEFAULT_HBONE_PORT = 15008;

export type WaypointFor = "service" | "workload" | "all" | "none";

export interface WaypointIndex {
  readonly gateways: ReadonlyMap<string, Resource<GatewayFields>>;
  readonly namespaceLabels: ReadonlyMap<string, Readonly<Record<string, string>>>;
}

export function indexWaypoints(gateways: readonly Resource<GatewayFields>[], namespaces: readonly Resource[]): WaypointIndex {
  return {
    gateways: new Map(gateways.filter((g) => g.spec.gatewayClassName === WAYPOINT_CLASS).map((g) => [`${g.metadata.namespace}/${g.metadata.name}`, g])),
    namespaceLabels: new Map(namespaces.map((n) => [n.metadata.name, n.metadata.labels])),
  };
}

export function waypointFor(gateway: Resource<GatewayFields>): WaypointFor {
  const v = gateway.metadata.labels[WAYPOINT_FOR_LABEL];
  return v === "workload" || v === "all" || v === "none" ? v : "service";
}

export function hbonePortOf(gateway: Resource<GatewayFields>): number {
  return gateway.spec.listeners?.find((l) => l.protocol === "HBONE")?.port ?? DEFAULT_HBONE_PORT;
}

function admits(gateway: Resource<GatewayFields>, namespace: string, labels: Readonly<Record<string, string>>): boolean {
  if (gateway.metadata.namespace === namespace) return true;
  return (gateway.spec.listeners ?? []).some((l) => {
    const from = l.allowedRoutes?.namespaces?.from ?? "Same";
    if (from === "All") return true;
    if (from === "Selector") return selectorMatches(l.allowedRoutes?.namespaces?.selector?.matchLabels ?? {}, labels);
    return false;
  });
}

/**
 * The waypoint for `subject` (a service or workload in `namespace` with `labels`), taking
 * `kind` traffic; undefined when none applies.
 */
export function resolveWaypoint(
  subject: { ref: string; namespace: string; labels: Readonly<Record<string, string>> },
  kind: "service" | "workload",
  index: WaypointIndex,
  warn: (w: TranslationWarning) => void,
): WaypointRef | undefined {
  const nsLabels = index.namespaceLabels.get(subject.namespace) ?? {};
  const own = subject.labels[USE_WAYPOINT_LABEL];
  const labels = own !== undefined ? subject.labels : nsLabels;
  const name = labels[USE_WAYPOINT_LABEL];
  if (name === undefined || name === "none") return undefined;
  const namespace = labels[USE_WAYPOINT_NAMESPACE_LABEL] ?? subject.namespace;
  const gateway = index.gateways.get(`${namespace}/${name}`);
  if (!gateway) {
    // Unknown gateway: assume the default waypoint-for (service).
    if (kind !== "service") return undefined;
    warn({ resource: subject.ref, message: `uses waypoint ${namespace}/${name}, which does not exist: its traffic fails until a Gateway of class ${WAYPOINT_CLASS} by that name exists` });
    return { namespace, name, hbonePort: DEFAULT_HBONE_PORT };
  }
  const takes = waypointFor(gateway);
  if (takes === "none" || (takes !== "all" && takes !== kind)) return undefined;
  if (!admits(gateway, subject.namespace, nsLabels)) {
    warn({ resource: subject.ref, message: `waypoint ${namespace}/${name} does not admit namespace ${subject.namespace} (listeners' allowedRoutes); not used` });
    return undefined;
  }
  return { namespace, name, hbonePort: hbonePortOf(gateway) };
}
