/**
 * Stored resources → each waypoint's config (pure): the destinations it fronts (listeners, with a
 * protocol per port), and its filter chain in order — `jwt` (RequestAuthentication), `authz`
 * (AuthorizationPolicy), WasmPlugins and FilterPlugins by phase and priority, and one `router`
 * (every HTTPRoute/GRPCRoute attached to a fronted Service, in Gateway API precedence order, and
 * the HTTPFaults they name: ./faults.ts).
 *
 * Attachment follows Istio ambient: a policy or plugin attaches with targetRefs — kind Gateway
 * (the whole waypoint) or kind Service (that service's traffic through its waypoint); routes
 * attach to Services (GAMMA parentRefs). A target that no waypoint fronts is reported, never
 * silently enforced elsewhere. Chain order: phase AUTHN (jwt, then plugins), AUTHZ (authz, then
 * plugins), STATS (plugins; WasmPlugin UNSPECIFIED_PHASE last), ROUTE (router, then plugins);
 * within a phase, higher priority first, then namespace/name.
 */
import type { Resource } from "../resources/resource.ts";
import { resourceName, type FilterConfigView, type FilterPhase, type ListenerProtocol, type ServiceView, type WaypointConfigView, type WaypointListener, type WorkloadView } from "../../state/view.ts";
import { faultsFor } from "./faults.ts";
import type { ResourceSnapshot, RouteFields, TranslateOptions, TranslationWarning } from "./snapshot.ts";
import { hbonePortOf, WAYPOINT_CLASS, waypointFor } from "./waypoints.ts";

interface TargetRef {
  readonly group?: string | undefined;
  readonly kind: string;
  readonly name: string;
}

/** The stored resources the waypoint translation reads, plus the mesh translation's views. */
export type WaypointInputs = Pick<ResourceSnapshot, "gateways" | "httpRoutes" | "grpcRoutes" | "authorizationPolicies" | "requestAuthentications" | "wasmPlugins" | "filterPlugins" | "httpFaults"> & {
  /** The services as stored (ports' names and appProtocol decide listener protocols). */
  readonly serviceResources: ResourceSnapshot["services"];
  /** The translated services and workloads (their `waypoint` says which waypoint fronts them). */
  readonly services: readonly ServiceView[];
  readonly workloads: readonly WorkloadView[];
};

const PHASES: readonly FilterPhase[] = ["authn", "authz", "stats", "route"];
const BUILT_IN: Readonly<Record<string, FilterPhase>> = { jwt: "authn", authz: "authz", router: "route" };

/** Istio's protocol selection: appProtocol, else the port name's prefix; otherwise sniffed. */
export function portProtocol(port: { name?: string | undefined; appProtocol?: string | undefined }): ListenerProtocol {
  const app = port.appProtocol?.toLowerCase();
  if (app) {
    if (app === "http" || app === "http1") return "http";
    if (app === "http2" || app === "kubernetes.io/h2c") return "http2";
    if (app === "grpc" || app === "grpc-web") return "grpc";
    if (app === "tcp" || app === "tls" || app === "https" || app === "mongo" || app === "mysql" || app === "redis") return "tcp";
  }
  const prefix = (port.name ?? "").toLowerCase().split("-")[0];
  if (prefix === "http") return "http";
  if (prefix === "http2") return "http2";
  if (prefix === "grpc" || prefix === "grpc-web") return "grpc";
  if (prefix === "tcp" || prefix === "tls" || prefix === "https" || prefix === "mongo" || prefix === "mysql" || prefix === "redis") return "tcp";
  return "auto";
}

const describe = (r: Resource) => `${r.kind} ${r.metadata.namespace}/${r.metadata.name}`;
const refsOf = (spec: { targetRef?: TargetRef | undefined; targetRefs?: readonly TargetRef[] | undefined }): readonly TargetRef[] => [...(spec.targetRef ? [spec.targetRef] : []), ...(spec.targetRefs ?? [])];

/** The waypoint configs of a snapshot, given the mesh translation of its services and workloads. */
export function waypointsOf(snapshot: ResourceSnapshot, mesh: { services: readonly ServiceView[]; workloads: readonly WorkloadView[] }, options: TranslateOptions, warn: (w: TranslationWarning) => void): WaypointConfigView[] {
  return translateWaypoints({ ...snapshot, serviceResources: snapshot.services, services: mesh.services, workloads: mesh.workloads }, options, warn);
}

export function translateWaypoints(inputs: WaypointInputs, options: TranslateOptions, warn: (w: TranslationWarning) => void): WaypointConfigView[] {
  const gateways = inputs.gateways.filter((g) => g.spec.gatewayClassName === WAYPOINT_CLASS);
  const gatewayKeys = new Set(gateways.map((g) => resourceName(g.metadata.namespace, g.metadata.name)));
  const serviceSpecs = new Map(inputs.serviceResources.map((s) => [resourceName(s.metadata.namespace, s.metadata.name), s.spec]));
  const servicesByName = new Map(inputs.services.map((s) => [resourceName(s.namespace, s.name), s]));

  // Listeners per waypoint: the services and workloads bound to it.
  const listeners = new Map<string, WaypointListener[]>(gateways.map((g) => [resourceName(g.metadata.namespace, g.metadata.name), []]));
  for (const s of inputs.services) {
    if (!s.waypoint) continue;
    const list = listeners.get(resourceName(s.waypoint.namespace, s.waypoint.name));
    if (!list) continue;
    const spec = serviceSpecs.get(resourceName(s.namespace, s.name));
    const ports = s.ports.map((p) => {
      const declared = spec?.ports.find((sp) => sp.port === p.servicePort);
      return { port: p.servicePort, targetPort: p.targetPort, protocol: declared ? portProtocol(declared) : ("auto" as const) };
    });
    list.push({ kind: "service", key: resourceName(s.namespace, s.hostname), hostname: s.hostname, addresses: s.vips, ports });
  }
  for (const w of inputs.workloads) {
    if (!w.waypoint) continue;
    listeners.get(resourceName(w.waypoint.namespace, w.waypoint.name))?.push({ kind: "workload", key: resourceName(w.namespace, w.name), hostname: "", addresses: w.addresses, ports: [] });
  }

  // Where a targetRef-attached resource applies: waypoint key → listener keys ([] = all).
  const attach = (r: Resource, refs: readonly TargetRef[]): Map<string, string[]> => {
    const out = new Map<string, string[]>();
    const ns = r.metadata.namespace;
    for (const ref of refs) {
      if (ref.kind === "Gateway") {
        const key = resourceName(ns, ref.name);
        if (gatewayKeys.has(key)) out.set(key, []);
        else warn({ resource: describe(r), message: `targets Gateway ${key}, which is not a waypoint (class ${WAYPOINT_CLASS}): not enforced` });
      } else if (ref.kind === "Service") {
        const s = servicesByName.get(resourceName(ns, ref.name));
        const waypoint = s?.waypoint ? resourceName(s.waypoint.namespace, s.waypoint.name) : undefined;
        if (!s) warn({ resource: describe(r), message: `targets Service ${ns}/${ref.name}, which does not exist: not enforced` });
        else if (!waypoint || !gatewayKeys.has(waypoint)) warn({ resource: describe(r), message: `targets Service ${ns}/${ref.name}, which no waypoint fronts (label it istio.io/use-waypoint): not enforced` });
        else {
          const targets = out.get(waypoint);
          if (targets === undefined) out.set(waypoint, [resourceName(s.namespace, s.hostname)]);
          else if (targets.length > 0) targets.push(resourceName(s.namespace, s.hostname));
        }
      } else warn({ resource: describe(r), message: `targetRef kind ${ref.kind} is not served by waypoints: not enforced` });
    }
    return out;
  };

  const filters = new Map<string, FilterConfigView[]>(gateways.map((g) => [resourceName(g.metadata.namespace, g.metadata.name), []]));
  const add = (r: Resource, refs: readonly TargetRef[], make: (targets: string[]) => FilterConfigView) => {
    for (const [waypoint, targets] of attach(r, refs)) filters.get(waypoint)?.push(make(targets));
  };

  for (const p of inputs.requestAuthentications) {
    const refs = refsOf(p.spec);
    if (refs.length === 0) continue; // selector-based: not a waypoint policy
    add(p, refs, (targets) => ({ plugin: "jwt", source: describe(p), phase: "authn", priority: 0, targets, config: { jwtRules: p.spec.jwtRules ?? [] } }));
  }
  for (const p of inputs.authorizationPolicies) {
    const refs = refsOf(p.spec);
    if (refs.length === 0) continue; // enforced by ztunnels
    add(p, refs, (targets) => ({ plugin: "authz", source: describe(p), phase: "authz", priority: 0, targets, config: { action: p.spec.action ?? "ALLOW", rules: p.spec.rules ?? [], ...(p.spec.provider ? { provider: p.spec.provider } : {}), trustDomain: options.trustDomain } }));
  }
  for (const p of inputs.wasmPlugins) {
    const refs = refsOf(p.spec);
    if (refs.length === 0) {
      warn({ resource: describe(p), message: "selects workloads (selector), which waypoints do not serve: attach it with targetRefs (Gateway or Service)" });
      continue;
    }
    const phase: FilterPhase = p.spec.phase === "AUTHN" ? "authn" : p.spec.phase === "AUTHZ" ? "authz" : "stats";
    // UNSPECIFIED_PHASE goes last among the STATS plugins, "right before the router".
    const priority = p.spec.phase === "UNSPECIFIED_PHASE" || p.spec.phase === undefined ? -(2 ** 31) - 1 : (p.spec.priority ?? 0);
    add(p, refs, (targets) => ({ plugin: "wasm", source: describe(p), phase, priority, targets, config: { ...p.spec, targetRef: undefined, targetRefs: undefined, selector: undefined } }));
  }
  for (const p of inputs.filterPlugins) {
    add(p, p.spec.targetRefs, (targets) => ({
      plugin: "module",
      source: describe(p),
      phase: p.spec.phase.toLowerCase() as FilterPhase,
      priority: p.spec.priority,
      targets,
      config: { module: p.spec.module, sha256: p.spec.sha256, config: p.spec.config, failurePolicy: p.spec.failurePolicy, ...(p.spec.timeout ? { timeout: p.spec.timeout } : {}) },
    }));
  }

  // Routes attach to Services (GAMMA); the router gets every route of its waypoint, oldest first.
  const routes = new Map<string, Array<{ r: Resource<RouteFields>; kind: string; parents: string[] }>>();
  for (const r of [...inputs.httpRoutes, ...inputs.grpcRoutes]) {
    const parents = new Map<string, string[]>();
    for (const ref of r.spec.parentRefs ?? []) {
      const kind = ref.kind ?? "Gateway";
      const ns = ref.namespace ?? r.metadata.namespace;
      if (kind !== "Service") {
        if (!gatewayKeys.has(resourceName(ns, ref.name))) continue; // a Gateway route for an ingress, not ours
        warn({ resource: describe(r), message: `parentRef Gateway ${ns}/${ref.name} is a waypoint: attach routes to the Services it fronts (kind Service)` });
        continue;
      }
      const s = servicesByName.get(resourceName(ns, ref.name));
      const waypoint = s?.waypoint ? resourceName(s.waypoint.namespace, s.waypoint.name) : undefined;
      if (!s || !waypoint || !gatewayKeys.has(waypoint)) {
        warn({ resource: describe(r), message: `parentRef Service ${ns}/${ref.name} ${s ? "has no waypoint" : "does not exist"}: the route is not served` });
        continue;
      }
      parents.set(waypoint, [...(parents.get(waypoint) ?? []), `${resourceName(s.namespace, s.hostname)}${ref.port ? `:${ref.port}` : ""}`]);
    }
    for (const [waypoint, ps] of parents) routes.set(waypoint, [...(routes.get(waypoint) ?? []), { r, kind: r.kind, parents: ps }]);
  }
  for (const [waypoint, list] of routes) {
    list.sort((a, b) => (a.r.metadata.creationTimestamp ?? "").localeCompare(b.r.metadata.creationTimestamp ?? "") || resourceName(a.r.metadata.namespace, a.r.metadata.name).localeCompare(resourceName(b.r.metadata.namespace, b.r.metadata.name)));
    const faults = faultsFor(list.map((x) => x.r), inputs.httpFaults, warn);
    filters.get(waypoint)?.push({
      plugin: "router",
      source: list.map((x) => describe(x.r)).join(", "),
      phase: "route",
      priority: 0,
      targets: [],
      config: {
        routes: list.map((x) => ({ kind: x.kind, namespace: x.r.metadata.namespace, name: x.r.metadata.name, parents: x.parents, hostnames: x.r.spec.hostnames ?? [], rules: x.r.spec.rules ?? [] })),
        ...(Object.keys(faults).length > 0 ? { faults } : {}),
      },
    });
  }

  return gateways.map((g) => {
    const key = resourceName(g.metadata.namespace, g.metadata.name);
    return {
      namespace: g.metadata.namespace,
      name: g.metadata.name,
      hbonePort: hbonePortOf(g),
      waypointFor: waypointFor(g),
      listeners: (listeners.get(key) ?? []).sort((a, b) => a.key.localeCompare(b.key)),
      filters: orderChain(filters.get(key) ?? []),
    };
  });
}

/** Phase order; in a phase the built-in first, then higher priority, then by source. */
export function orderChain(filters: readonly FilterConfigView[]): FilterConfigView[] {
  const rank = (f: FilterConfigView) => (BUILT_IN[f.plugin] === f.phase ? 0 : 1);
  return [...filters].sort((a, b) => PHASES.indexOf(a.phase) - PHASES.indexOf(b.phase) || rank(a) - rank(b) || b.priority - a.priority || a.source.localeCompare(b.source));
}
