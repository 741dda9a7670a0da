/**
 * What `mesh waypoint apply|list|status` decide, apart from talking to the API: the Gateway a
 * waypoint is (class istio-waypoint, the HBONE listener on 15008, `istio.io/waypoint-for`), a
 * Namespace enrolled onto it (its other labels kept, its resourceVersion carried so a concurrent
 * change is a conflict rather than lost), and a waypoint's status from its Gateway, its replicas
 * (WorkloadEntries labelled with its name), the connected waypoint-role xDS streams on their
 * nodes and the translation warnings that name it. Pure functions, table-tested.
 */
import { USE_WAYPOINT_LABEL } from "../controlplane/resources/kinds/namespace.ts";
import type { Resource, StoredResource } from "../controlplane/resources/resource.ts";
import { DEFAULT_HBONE_PORT, GATEWAY_NAME_LABEL, WAYPOINT_CLASS, WAYPOINT_FOR_LABEL, type WaypointFor } from "../controlplane/translate/waypoints.ts";
import { formatColumns } from "./columns.ts";

export const WAYPOINT_FOR_VALUES: readonly WaypointFor[] = ["service", "workload", "all", "none"];
export const DEFAULT_WAYPOINT_NAME = "waypoint";

export function waypointGateway(namespace: string, name: string, waypointFor: WaypointFor): Resource {
  return {
    apiVersion: "gateway.networking.k8s.io/v1",
    kind: "Gateway",
    metadata: { name, namespace, labels: { [WAYPOINT_FOR_LABEL]: waypointFor }, annotations: {} },
    spec: { gatewayClassName: WAYPOINT_CLASS, listeners: [{ name: "mesh", port: DEFAULT_HBONE_PORT, protocol: "HBONE" }] },
  };
}

/** The Namespace labelled onto the waypoint: `existing` with the label set (its resourceVersion kept), or a new one. */
export function enrolledNamespace(namespace: string, waypoint: string, existing: StoredResource | undefined): Resource {
  if (!existing) return { apiVersion: "v1", kind: "Namespace", metadata: { name: namespace, namespace: "", labels: { [USE_WAYPOINT_LABEL]: waypoint }, annotations: {} }, spec: {} };
  const { name, labels, annotations, resourceVersion } = existing.metadata;
  return {
    apiVersion: existing.apiVersion,
    kind: "Namespace",
    metadata: { name, namespace: "", labels: { ...labels, [USE_WAYPOINT_LABEL]: waypoint }, annotations, ...(resourceVersion ? { resourceVersion } : {}) },
    spec: existing.spec ?? {},
  };
}

export function isWaypointGateway(r: StoredResource): boolean {
  return (r.spec as { gatewayClassName?: string } | undefined)?.gatewayClassName === WAYPOINT_CLASS;
}

export function waypointForOf(gateway: Resource): string {
  return gateway.metadata.labels[WAYPOINT_FOR_LABEL] ?? "service";
}

/** A connected xDS stream as GET /api/v1/xds/proxies lists it. */
export interface ProxyListing {
  readonly node: string;
  readonly role: string;
  /** NS/NAME when the stream was authenticated with that waypoint's token. */
  readonly waypoint?: string;
  readonly connectedAt: string;
}

export type ReplicaConnection = "waypoint-token" | "node-credentials" | "none";

export interface ReplicaStatus {
  readonly name: string;
  readonly address: string;
  readonly node: string;
  readonly serviceAccount: string;
  /**
   * How a waypoint-role stream on the replica's node speaks for this waypoint: with its own token
   * (certainly this one), with the node's credentials (some waypoint on that node: a node-credentialed
   * stream does not say which Gateway it serves), or not at all.
   */
  readonly connected: ReplicaConnection;
}

export interface WaypointStatus {
  readonly namespace: string;
  readonly name: string;
  readonly waypointFor: string;
  readonly replicas: readonly ReplicaStatus[];
  /** The Gateway exists and at least one replica is connected. */
  readonly programmed: boolean;
  readonly warnings: readonly string[];
}

interface WorkloadEntryFields {
  readonly address?: string;
  readonly node?: string;
  readonly serviceAccount?: string;
  readonly labels?: Readonly<Record<string, string>>;
}

/** WorkloadEntries of `namespace` that are replicas of the Gateway `name` (the label on the entry or in spec.labels). */
export function replicasOf(namespace: string, name: string, entries: readonly StoredResource[]): StoredResource[] {
  return entries.filter((e) => {
    if (e.metadata.namespace !== namespace) return false;
    const spec = e.spec as WorkloadEntryFields;
    return (spec.labels?.[GATEWAY_NAME_LABEL] ?? e.metadata.labels[GATEWAY_NAME_LABEL]) === name;
  });
}

function connection(ref: string, node: string, proxies: readonly ProxyListing[]): ReplicaConnection {
  const here = proxies.filter((p) => p.role === "waypoint" && p.node === node);
  if (here.some((p) => p.waypoint === ref)) return "waypoint-token";
  if (here.some((p) => p.waypoint === undefined)) return "node-credentials";
  return "none";
}

/** Translation warnings about this waypoint: on the Gateway itself, or naming it. */
export function warningsFor(namespace: string, name: string, warnings: readonly { resource: string; message: string }[]): string[] {
  const ref = `${namespace}/${name}`;
  // Names are DNS labels (no regex metacharacters); a longer name with this one as prefix is another waypoint.
  const naming = new RegExp(`(^|\\s)(waypoint|Gateway) ${ref}(?![-a-z0-9])`);
  const names = (text: string) => naming.test(text);
  return warnings.filter((w) => w.resource === `Gateway ${ref}` || names(w.message)).map((w) => `${w.resource}: ${w.message}`);
}

export function waypointStatus(input: {
  readonly gateway: StoredResource;
  readonly workloadEntries: readonly StoredResource[];
  readonly proxies: readonly ProxyListing[];
  readonly warnings: readonly { resource: string; message: string }[];
}): WaypointStatus {
  const { namespace, name } = input.gateway.metadata;
  const ref = `${namespace}/${name}`;
  const replicas = replicasOf(namespace, name, input.workloadEntries).map((e): ReplicaStatus => {
    const spec = e.spec as WorkloadEntryFields;
    const node = spec.node ?? "";
    return { name: e.metadata.name, address: spec.address ?? "", node, serviceAccount: spec.serviceAccount ?? "default", connected: node === "" ? "none" : connection(ref, node, input.proxies) };
  });
  return {
    namespace,
    name,
    waypointFor: waypointForOf(input.gateway),
    replicas,
    programmed: replicas.some((r) => r.connected !== "none"),
    warnings: warningsFor(namespace, name, input.warnings),
  };
}

const CONNECTION_WORDS: Record<ReplicaConnection, string> = { "waypoint-token": "yes (waypoint token)", "node-credentials": "yes (node credentials)", none: "no" };

export function renderStatus(s: WaypointStatus): string {
  const lines = [`Waypoint ${s.namespace}/${s.name} (for ${s.waypointFor}): ${s.programmed ? "programmed" : "not programmed"}`];
  if (s.replicas.length === 0) lines.push(`No replicas: add a WorkloadEntry in ${s.namespace} labelled ${GATEWAY_NAME_LABEL}: ${s.name}.`);
  else lines.push(formatColumns([["REPLICA", "ADDRESS", "NODE", "SERVICE-ACCOUNT", "CONNECTED"], ...s.replicas.map((r) => [r.name, r.address, r.node, r.serviceAccount, CONNECTION_WORDS[r.connected]])]));
  if (s.warnings.length > 0) lines.push("Warnings:", ...s.warnings.map((w) => `  ${w}`));
  return lines.join("\n");
}

export function renderList(gateways: readonly StoredResource[], entries: readonly StoredResource[]): string {
  if (gateways.length === 0) return "No waypoints found.";
  return formatColumns([
    ["NAMESPACE", "NAME", "FOR", "REPLICAS"],
    ...gateways.map((g) => [g.metadata.namespace, g.metadata.name, waypointForOf(g), String(replicasOf(g.metadata.namespace, g.metadata.name, entries).length)]),
  ]);
}
