/** The stored resources a translation reads, grouped by kind and typed. */
import type { AuthorizationPolicySpec } from "../resources/kinds/authorization-policy.ts";
import type { FilterPluginSpec } from "../resources/kinds/filter-plugin.ts";
import type { HTTPFaultSpec } from "../resources/kinds/http-fault.ts";
import type { RequestAuthenticationSpec } from "../resources/kinds/request-authentication.ts";
import type { WasmPluginSpec } from "../resources/kinds/wasm-plugin.ts";
import type { NamespaceSpec } from "../resources/kinds/namespace.ts";
import type { PeerAuthenticationSpec } from "../resources/kinds/peer-authentication.ts";
import type { ServiceSpec } from "../resources/kinds/service.ts";
import type { WorkloadEntrySpec } from "../resources/kinds/workload-entry.ts";
import type { Resource } from "../resources/resource.ts";

/** The Gateway fields translation reads; the full schema lives with the Gateway kind. */
export interface GatewayFields {
  readonly gatewayClassName: string;
  readonly listeners?: ReadonlyArray<{ name: string; port: number; protocol: string; allowedRoutes?: { namespaces?: { from?: string; selector?: { matchLabels?: Record<string, string> } } } }>;
  readonly addresses?: ReadonlyArray<{ type?: string; value: string }>;
}

export interface ResourceSnapshot {
  readonly namespaces: readonly Resource<NamespaceSpec>[];
  readonly services: readonly Resource<ServiceSpec>[];
  readonly workloadEntries: readonly Resource<WorkloadEntrySpec>[];
  readonly authorizationPolicies: readonly Resource<AuthorizationPolicySpec>[];
  readonly peerAuthentications: readonly Resource<PeerAuthenticationSpec>[];
  readonly gateways: readonly Resource<GatewayFields>[];
  readonly httpRoutes: readonly Resource<RouteFields>[];
  readonly grpcRoutes: readonly Resource<RouteFields>[];
  readonly requestAuthentications: readonly Resource<RequestAuthenticationSpec>[];
  readonly wasmPlugins: readonly Resource<WasmPluginSpec>[];
  readonly filterPlugins: readonly Resource<FilterPluginSpec>[];
  readonly httpFaults: readonly Resource<HTTPFaultSpec>[];
}

/** The route fields the waypoint translation reads; the full schemas live with the route kinds. */
export interface RouteFields {
  readonly parentRefs?: ReadonlyArray<{ group?: string | undefined; kind?: string | undefined; namespace?: string | undefined; name: string; port?: number | undefined }>;
  readonly hostnames?: readonly string[];
  readonly rules?: readonly unknown[];
}

/** The kind each snapshot field holds: the one list of the kinds translation reads. */
const SNAPSHOT_FIELDS: Readonly<Record<keyof ResourceSnapshot, string>> = {
  namespaces: "Namespace",
  services: "Service",
  workloadEntries: "WorkloadEntry",
  authorizationPolicies: "AuthorizationPolicy",
  peerAuthentications: "PeerAuthentication",
  gateways: "Gateway",
  httpRoutes: "HTTPRoute",
  grpcRoutes: "GRPCRoute",
  requestAuthentications: "RequestAuthentication",
  wasmPlugins: "WasmPlugin",
  filterPlugins: "FilterPlugin",
  httpFaults: "HTTPFault",
};

/** Every kind a translation reads: a change to any of them may change what proxies receive. */
export const SNAPSHOT_KINDS: readonly string[] = Object.values(SNAPSHOT_FIELDS);

export function snapshotOf(resources: readonly Resource[]): ResourceSnapshot {
  const byKind = new Map<string, Resource[]>(SNAPSHOT_KINDS.map((k) => [k, []]));
  for (const r of resources) byKind.get(r.kind)?.push(r);
  return Object.fromEntries(Object.entries(SNAPSHOT_FIELDS).map(([field, kind]) => [field, byKind.get(kind)])) as unknown as ResourceSnapshot;
}

export interface TranslateOptions {
  readonly trustDomain: string;
  /** The namespace whose selector-less policies apply mesh-wide (Istio: istio-system). */
  readonly rootNamespace: string;
  /** Service hostnames are <name>.<namespace>.svc.<clusterDomain>. */
  readonly clusterDomain: string;
}

export const DEFAULT_TRANSLATE_OPTIONS: TranslateOptions = { trustDomain: "cluster.local", rootNamespace: "istio-system", clusterDomain: "cluster.local" };

/** A finding for the operator: which resource, and what translation did about it. */
export interface TranslationWarning {
  readonly resource: string;
  readonly message: string;
}

export function selectorMatches(selector: Readonly<Record<string, string>> | undefined, labels: Readonly<Record<string, string>>): boolean {
  if (!selector) return false;
  return Object.entries(selector).every(([k, v]) => labels[k] === v);
}
