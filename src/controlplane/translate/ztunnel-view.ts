/**
 * Stored resources → what ztunnels need: every workload and service (a ztunnel resolves any
 * destination) and the L4 authorizations. Computed once per config change for the whole mesh;
 * `viewForNode` narrows it per ztunnel. Pure and deterministic (sorted output), so equal input
 * gives byte-equal resources and unchanged resources are never pushed again.
 */
import { DATAPLANE_MODE_LABEL } from "../resources/kinds/namespace.ts";
import type { Resource } from "../resources/resource.ts";
import type { ServiceSpec } from "../resources/kinds/service.ts";
import type { WorkloadEntrySpec } from "../resources/kinds/workload-entry.ts";
import { canonicalIp } from "../../net/ip.ts";
import { resourceName, type AuthorizationView, type PortMapping, type ServiceView, type WorkloadView, type ZtunnelView } from "../../state/view.ts";
import { translateAuthorizationPolicy, type TranslatedPolicy } from "./authorization.ts";
import { prepareMtls } from "./peer-authentication.ts";
import { SelectorIndex } from "./selector-index.ts";
import type { ResourceSnapshot, TranslateOptions, TranslationWarning } from "./snapshot.ts";
import { GATEWAY_NAME_LABEL, hbonePortOf, indexWaypoints, resolveWaypoint } from "./waypoints.ts";

export interface MeshTranslation extends ZtunnelView {
  readonly warnings: readonly TranslationWarning[];
}

const byName = <T extends { namespace: string; name: string }>(a: T, b: T) =>
  a.namespace === b.namespace ? (a.name < b.name ? -1 : a.name > b.name ? 1 : 0) : a.namespace < b.namespace ? -1 : 1;

export function serviceHostname(name: string, namespace: string, options: TranslateOptions): string {
  return `${name}.${namespace}.svc.${options.clusterDomain}`;
}

function workloadLabels(w: Resource<WorkloadEntrySpec>): Record<string, string> {
  return { ...w.metadata.labels, ...(w.spec.labels ?? {}) };
}

/** The port mappings a service exposes on a workload, resolving named target ports through the workload's ports. */
function portsOn(service: Resource<ServiceSpec>, workload: Resource<WorkloadEntrySpec>): PortMapping[] {
  const named = workload.spec.ports ?? {};
  const out: PortMapping[] = [];
  for (const p of service.spec.ports) {
    if (p.protocol && p.protocol !== "TCP") continue;
    let target: number | undefined;
    if (typeof p.targetPort === "number") target = p.targetPort;
    else if (typeof p.targetPort === "string") target = named[p.targetPort];
    else target = (p.name ? named[p.name] : undefined) ?? p.port;
    if (target !== undefined) out.push({ servicePort: p.port, targetPort: target });
  }
  return out;
}

/**
 * Everything but the workloads, translated and indexed once; `workload` then translates one
 * WorkloadEntry against it. The push hub keeps a context between builds so a change to a few
 * workloads re-translates only those (translateMesh is prepare + every workload).
 */
export interface MeshContext {
  readonly services: readonly ServiceView[];
  readonly authorizations: readonly AuthorizationView[];
  /** Findings about services, policies and waypoints (workloads report their own). */
  readonly warnings: readonly TranslationWarning[];
  workload(w: Resource<WorkloadEntrySpec>): { readonly view: WorkloadView; readonly warnings: readonly TranslationWarning[] };
}

export function translateMesh(snapshot: ResourceSnapshot, options: TranslateOptions): MeshTranslation {
  const ctx = prepareMeshTranslation(snapshot, options);
  const warnings = [...ctx.warnings];
  const workloads = snapshot.workloadEntries.map((w) => {
    const t = ctx.workload(w);
    warnings.push(...t.warnings);
    return t.view;
  });
  return { workloads: workloads.sort(byName), services: ctx.services, authorizations: ctx.authorizations, warnings };
}

export function prepareMeshTranslation(snapshot: ResourceSnapshot, options: TranslateOptions): MeshContext {
  const warnings: TranslationWarning[] = [];
  const warn = (w: TranslationWarning) => warnings.push(w);
  const waypoints = indexWaypoints(snapshot.gateways, snapshot.namespaces);
  const nsLabels = (ns: string) => waypoints.namespaceLabels.get(ns) ?? {};

  const services: ServiceView[] = snapshot.services.map((s) => ({
    name: s.metadata.name,
    namespace: s.metadata.namespace,
    hostname: serviceHostname(s.metadata.name, s.metadata.namespace, options),
    vips: canonicalIps([s.spec.clusterIP, ...(s.spec.clusterIPs ?? [])]),
    ports: s.spec.ports.filter((p) => !p.protocol || p.protocol === "TCP").map((p) => ({ servicePort: p.port, targetPort: typeof p.targetPort === "number" ? p.targetPort : 0 })),
    ...optional("waypoint", resolveWaypoint({ ref: `Service ${s.metadata.namespace}/${s.metadata.name}`, namespace: s.metadata.namespace, labels: s.metadata.labels }, "service", waypoints, warn)),
  }));
  // Each waypoint is reachable as a service whose endpoints are its replicas.
  for (const g of waypoints.gateways.values()) {
    const hbone = hbonePortOf(g);
    services.push({
      name: g.metadata.name,
      namespace: g.metadata.namespace,
      hostname: serviceHostname(g.metadata.name, g.metadata.namespace, options),
      vips: canonicalIps((g.spec.addresses ?? []).map((a) => a.value)),
      ports: [{ servicePort: hbone, targetPort: hbone }],
    });
  }

  const policies: TranslatedPolicy[] = snapshot.authorizationPolicies.flatMap((p) => translateAuthorizationPolicy(p, options, warn) ?? []);
  const authorizations: AuthorizationView[] = policies.map((p) => p.view).sort(byName);

  // Indexes so each workload finds its services and policies by its labels, not by a scan.
  const servicesBySelector = new SelectorIndex<Resource<ServiceSpec>>();
  for (const s of snapshot.services) if (s.spec.selector && Object.keys(s.spec.selector).length > 0) servicesBySelector.add(s.metadata.namespace, s.spec.selector, s);
  const policiesBySelector = new SelectorIndex<string>();
  const globalPolicies: string[] = [];
  const namespacePolicies = new Map<string, string[]>();
  for (const p of policies) {
    const name = resourceName(p.view.namespace, p.view.name);
    if (p.view.scope === "global") globalPolicies.push(name);
    else if (p.view.scope === "namespace") namespacePolicies.set(p.view.namespace, [...(namespacePolicies.get(p.view.namespace) ?? []), name]);
    else if (p.selector) policiesBySelector.add(p.view.namespace, p.selector, name);
  }
  const mtlsFor = prepareMtls(snapshot.peerAuthentications, options);

  const workload = (w: Resource<WorkloadEntrySpec>) => {
    const own: TranslationWarning[] = [];
    const ns = w.metadata.namespace;
    const labels = workloadLabels(w);
    const ref = `WorkloadEntry ${ns}/${w.metadata.name}`;
    const backs: Record<string, PortMapping[]> = {};
    for (const s of servicesBySelector.matches(ns, labels)) backs[`${ns}/${serviceHostname(s.metadata.name, ns, options)}`] = portsOn(s, w);
    const gatewayName = labels[GATEWAY_NAME_LABEL];
    const gateway = gatewayName ? waypoints.gateways.get(`${ns}/${gatewayName}`) : undefined;
    if (gateway) {
      const hbone = hbonePortOf(gateway);
      backs[`${ns}/${serviceHostname(gateway.metadata.name, ns, options)}`] = [{ servicePort: hbone, targetPort: hbone }];
    }
    const applicable = [...globalPolicies, ...(namespacePolicies.get(ns) ?? []), ...policiesBySelector.matches(ns, labels)];
    const mtls = mtlsFor({ namespace: ns, labels });
    const mode = labels[DATAPLANE_MODE_LABEL] ?? nsLabels(ns)[DATAPLANE_MODE_LABEL];
    const view: WorkloadView = {
      uid: w.metadata.uid ?? resourceName(ns, w.metadata.name),
      name: w.metadata.name,
      namespace: ns,
      addresses: [canonicalIp(w.spec.address) ?? w.spec.address],
      node: w.spec.node,
      serviceAccount: w.spec.serviceAccount ?? "default",
      trustDomain: options.trustDomain,
      labels,
      services: backs,
      ...optional("waypoint", gateway ? undefined : resolveWaypoint({ ref, namespace: ns, labels }, "workload", waypoints, (x) => own.push(x))),
      authorizationPolicies: applicable.sort(),
      mtlsMode: mtls.mode,
      portMtlsModes: mtls.ports,
      // A waypoint replica speaks HBONE itself: its node's ztunnel must not capture it (as Istio excludes waypoint pods).
      captured: mode === "ambient" && !gateway,
      network: w.spec.network ?? "",
      ...optional("hostInterface", w.spec.hostInterface),
    };
    return { view, warnings: own };
  };

  return { services: services.sort(byName), authorizations, warnings, workload };
}

/** The authorization names each node's workloads use, computed once per translation. */
export function policiesByNode(mesh: MeshTranslation): Map<string, Set<string>> {
  const out = new Map<string, Set<string>>();
  for (const w of mesh.workloads) {
    let set = out.get(w.node);
    if (!set) out.set(w.node, (set = new Set()));
    for (const p of w.authorizationPolicies) set.add(p);
  }
  return out;
}

/** What one ztunnel receives: every workload and service, and the authorizations its own workloads use. */
export function viewForNode(mesh: MeshTranslation, node: string, byNode = policiesByNode(mesh)): ZtunnelView {
  const needed = byNode.get(node) ?? new Set<string>();
  return {
    workloads: mesh.workloads,
    services: mesh.services,
    authorizations: mesh.authorizations.filter((a) => needed.has(resourceName(a.namespace, a.name))),
  };
}

/** Valid addresses in canonical form, without duplicates; anything else ("None", names) is skipped. */
function canonicalIps(values: ReadonlyArray<string | undefined>): string[] {
  const out = new Set<string>();
  for (const v of values) {
    const ip = v === undefined ? null : canonicalIp(v);
    if (ip) out.add(ip);
  }
  return [...out];
}

function optional<K extends string, V>(key: K, value: V | undefined): { [P in K]?: V } {
  return (value === undefined ? {} : { [key]: value }) as { [P in K]?: V };
}
