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
