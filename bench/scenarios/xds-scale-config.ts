/**
 * The synthetic mesh of the xds-scale scenario, as plain resource documents (JSON objects the
 * REST API accepts): namespaces, Services that each select `workloadsPerService` WorkloadEntries
 * (label app=app-<s>), the WorkloadEntries spread round-robin over `nodes` nodes, and one
 * AuthorizationPolicy per service selecting the same workloads. Workload addresses are in
 * 10.0.0.0/8 and service VIPs in 10.96.0.0/12: they are only data in the config, never dialed.
 *
 * With the defaults (10,000 workloads, 1,000 services and policies, 100 nodes) every node gets
 * every workload and service plus the 100 policies of its own workloads.
 */

export interface MeshShape {
  readonly workloads: number;
  readonly services: number;
  readonly policies: number;
  readonly nodes: number;
  readonly namespaces: number;
}

export type Doc = Record<string, unknown>;

export const NAMESPACE_PREFIX = "scale-";
/** A label no selector uses: changing it changes one workload's resource and nothing else. */
export const CHANGE_LABEL = "bench.mesh.dev/change";

export function validateShape(s: MeshShape): void {
  for (const [k, v] of Object.entries(s)) if (!Number.isInteger(v) || v < (k === "policies" ? 0 : 1)) throw new Error(`${k} must be a whole number ≥ ${k === "policies" ? 0 : 1}, got ${v}`);
  if (s.workloads > 1 << 20) throw new Error("at most 1,048,576 workloads (addresses are 10.<16..31>.x.y)");
  if (s.services > 1 << 20) throw new Error("at most 1,048,576 services (VIPs are in 10.96.0.0/12)");
  if (s.policies > s.services) throw new Error("policies select a service's workloads: at most one per service");
}

export function namespaceOf(shape: MeshShape, service: number): string {
  return `${NAMESPACE_PREFIX}${service % shape.namespaces}`;
}

/** The service whose selector picks workload i: workloads are dealt out evenly, in blocks. */
export function serviceOfWorkload(shape: MeshShape, i: number): number {
  return Math.floor((i * shape.services) / shape.workloads);
}

export function nodeName(n: number): string {
  return `node-${n}`;
}

function workloadAddress(i: number): string {
  const n = (16 << 16) + i; // 10.16.0.0 upwards
  return `10.${(n >> 16) & 255}.${(n >> 8) & 255}.${n & 255}`;
}

function serviceVip(s: number): string {
  const n = (96 << 16) + s; // 10.96.0.0/12
  return `10.${(n >> 16) & 255}.${(n >> 8) & 255}.${n & 255}`;
}

export function namespaceDoc(name: string): Doc {
  return { apiVersion: "v1", kind: "Namespace", metadata: { name, labels: { "istio.io/dataplane-mode": "ambient" } } };
}

export function serviceDoc(shape: MeshShape, s: number): Doc {
  return {
    apiVersion: "v1",
    kind: "Service",
    metadata: { name: `svc-${s}`, namespace: namespaceOf(shape, s) },
    spec: { selector: { app: `app-${s}` }, clusterIP: serviceVip(s), ports: [{ name: "http", port: 80, targetPort: 8080 }] },
  };
}

/** Workload i; `change` sets the change label (a new version of the same workload). */
export function workloadDoc(shape: MeshShape, i: number, change?: number): Doc {
  const s = serviceOfWorkload(shape, i);
  return {
    apiVersion: "networking.istio.io/v1",
    kind: "WorkloadEntry",
    metadata: { name: `wl-${i}`, namespace: namespaceOf(shape, s) },
    spec: {
      address: workloadAddress(i),
      labels: { app: `app-${s}`, version: "v1", ...(change === undefined ? {} : { [CHANGE_LABEL]: String(change) }) },
      serviceAccount: `sa-${s}`,
      node: nodeName(i % shape.nodes),
    },
  };
}

/** Its xDS resource name, "<namespace>/<name>". */
export function workloadResourceName(shape: MeshShape, i: number): string {
  return `${namespaceOf(shape, serviceOfWorkload(shape, i))}/wl-${i}`;
}

export function policyDoc(shape: MeshShape, p: number): Doc {
  const caller = (p + 1) % shape.services;
  return {
    apiVersion: "security.istio.io/v1",
    kind: "AuthorizationPolicy",
    metadata: { name: `allow-svc-${p}`, namespace: namespaceOf(shape, p) },
    spec: {
      selector: { matchLabels: { app: `app-${p}` } },
      action: "ALLOW",
      rules: [{ from: [{ source: { principals: [`cluster.local/ns/${namespaceOf(shape, caller)}/sa/sa-${caller}`] } }], to: [{ operation: { ports: ["8080"] } }] }],
    },
  };
}

/** Every document, namespaces first (a namespaced resource may need its namespace to exist). */
export function* meshDocs(shape: MeshShape): Generator<Doc> {
  for (let n = 0; n < Math.min(shape.namespaces, shape.services); n++) yield namespaceDoc(`${NAMESPACE_PREFIX}${n}`);
  for (let s = 0; s < shape.services; s++) yield serviceDoc(shape, s);
  for (let i = 0; i < shape.workloads; i++) yield workloadDoc(shape, i);
  for (let p = 0; p < shape.policies; p++) yield policyDoc(shape, p);
}

/** What one node's client should end up with: every workload and service, and the policies of its own workloads. */
export function expectedPerNode(shape: MeshShape, node: number): { workloads: number; services: number; authorizations: number } {
  const policies = new Set<number>();
  for (let i = node; i < shape.workloads; i += shape.nodes) {
    const s = serviceOfWorkload(shape, i);
    if (s < shape.policies) policies.add(s);
  }
  return { workloads: shape.workloads, services: shape.services, authorizations: policies.size };
}
