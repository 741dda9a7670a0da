/**
 * What a ztunnel knows about the mesh, as domain types: the control plane's translation produces
 * it, xDS carries it (wire.ts converts at the boundary), the ztunnel reads it. Addresses are text
 * (canonical IPv4 dotted quads or RFC 5952 IPv6).
 */

export type MtlsMode = "permissive" | "strict" | "disable";

export interface PortMapping {
  readonly servicePort: number;
  /** 0: same as servicePort. */
  readonly targetPort: number;
}

export interface WaypointRef {
  readonly namespace: string;
  readonly name: string;
  readonly hbonePort: number;
}

export interface WorkloadView {
  readonly uid: string;
  readonly name: string;
  readonly namespace: string;
  readonly addresses: readonly string[];
  readonly node: string;
  readonly serviceAccount: string;
  readonly trustDomain: string;
  readonly labels: Readonly<Record<string, string>>;
  /** "<namespace>/<hostname>" → port mappings. */
  readonly services: Readonly<Record<string, readonly PortMapping[]>>;
  readonly waypoint?: WaypointRef;
  readonly authorizationPolicies: readonly string[];
  readonly mtlsMode: MtlsMode;
  readonly portMtlsModes: Readonly<Record<number, MtlsMode>>;
  readonly captured: boolean;
  readonly network: string;
  /** The node's interface its traffic enters through (host side of its veth); absent when unknown. */
  readonly hostInterface?: string;
}

export interface ServiceView {
  readonly name: string;
  readonly namespace: string;
  readonly hostname: string;
  readonly vips: readonly string[];
  readonly ports: readonly PortMapping[];
  readonly waypoint?: WaypointRef;
}

export interface SourceMatch {
  readonly principals: readonly string[];
  readonly notPrincipals: readonly string[];
  readonly namespaces: readonly string[];
  readonly notNamespaces: readonly string[];
  readonly ipBlocks: readonly string[];
  readonly notIpBlocks: readonly string[];
}

export interface DestinationMatch {
  readonly ports: readonly number[];
  readonly notPorts: readonly number[];
}

export interface Condition {
  readonly key: string;
  readonly values: readonly string[];
  readonly notValues: readonly string[];
}

export interface AuthorizationRule {
  readonly from: readonly SourceMatch[];
  readonly to: readonly DestinationMatch[];
  readonly when: readonly Condition[];
}

export interface AuthorizationView {
  readonly name: string;
  readonly namespace: string;
  readonly scope: "global" | "namespace" | "workload";
  readonly action: "allow" | "deny";
  readonly rules: readonly AuthorizationRule[];
}

export interface TrustBundleView {
  readonly trustDomain: string;
  /** PEM roots in force. */
  readonly roots: readonly string[];
  /** Changes when the CA signs with another root: proxies then re-issue their certificates. */
  readonly generation: number;
}

export interface ZtunnelView {
  readonly workloads: readonly WorkloadView[];
  readonly services: readonly ServiceView[];
  readonly authorizations: readonly AuthorizationView[];
}

export const resourceName = (namespace: string, name: string) => `${namespace}/${name}`;

/** How a waypoint treats a port of a destination it fronts. */
export type ListenerProtocol = "http" | "http2" | "grpc" | "tcp" | "auto";

export interface ListenerPort {
  readonly port: number;
  /** 0: same as port. */
  readonly targetPort: number;
  readonly protocol: ListenerProtocol;
}

/** A destination a waypoint fronts: a service (by "<namespace>/<hostname>") or a workload. */
export interface WaypointListener {
  readonly kind: "service" | "workload";
  /** "<namespace>/<hostname>" for a service, "<namespace>/<name>" for a workload. */
  readonly key: string;
  readonly hostname: string;
  readonly addresses: readonly string[];
  readonly ports: readonly ListenerPort[];
}

/** Where in the chain a filter runs; the built-in filter of a phase runs before its plugins. */
export type FilterPhase = "authn" | "authz" | "stats" | "route";

/**
 * One filter of a waypoint's chain, from one resource: the built-ins `jwt` (RequestAuthentication),
 * `authz` (AuthorizationPolicy), `router` (HTTPRoute/GRPCRoute), `wasm` (WasmPlugin), or `module`
 * (a FilterPlugin). `config` is the plugin's own JSON, checked by its parseConfig at the waypoint.
 */
export interface FilterConfigView {
  readonly plugin: "jwt" | "authz" | "router" | "wasm" | "module";
  /** "<Kind> <namespace>/<name>" of the resource it came from. */
  readonly source: string;
  readonly phase: FilterPhase;
  readonly priority: number;
  /** Listener keys it applies to; empty: every listener of the waypoint. */
  readonly targets: readonly string[];
  readonly config: Readonly<Record<string, unknown>>;
}

/** What a waypoint (a Gateway of class istio-waypoint) needs besides workloads and services. */
export interface WaypointConfigView {
  readonly namespace: string;
  readonly name: string;
  readonly hbonePort: number;
  readonly waypointFor: "service" | "workload" | "all" | "none";
  readonly listeners: readonly WaypointListener[];
  /** The filter chain in order. */
  readonly filters: readonly FilterConfigView[];
}
