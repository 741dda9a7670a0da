/**
 * The identities of the ca-sign scenario, shared by the scenario (which applies them as
 * WorkloadEntries) and its load process (which asks for their certificates). Workload i has its
 * own service account sa-<i> in namespace ca-bench-<i mod namespaces> and is bound to node
 * node-<i mod nodes>; its address is in 10.32.0.0/11 — only data in the config, never dialed.
 */

export interface CaShape {
  readonly workloads: number;
  readonly nodes: number;
  readonly namespaces: number;
  readonly trustDomain: string;
}

export const NAMESPACE_PREFIX = "ca-bench-";

export function nodeOf(shape: CaShape, i: number): string {
  return `node-${i % shape.nodes}`;
}

export function namespaceOf(shape: CaShape, i: number): string {
  return `${NAMESPACE_PREFIX}${i % shape.namespaces}`;
}

export function serviceAccountOf(i: number): string {
  return `sa-${i}`;
}

export function spiffeIdOf(shape: CaShape, i: number): string {
  return `spiffe://${shape.trustDomain}/ns/${namespaceOf(shape, i)}/sa/${serviceAccountOf(i)}`;
}

function address(i: number): string {
  const n = (32 << 16) + i; // 10.32.0.0 upwards
  return `10.${(n >> 16) & 255}.${(n >> 8) & 255}.${n & 255}`;
}

export type Doc = Record<string, unknown>;

/** Namespaces first, then one WorkloadEntry per workload. */
export function* caDocs(shape: CaShape): Generator<Doc> {
  if (shape.workloads > 1 << 21) throw new Error("at most 2,097,152 workloads (addresses are 10.32.0.0/11)");
  for (let n = 0; n < Math.min(shape.namespaces, shape.workloads); n++) {
    yield { apiVersion: "v1", kind: "Namespace", metadata: { name: `${NAMESPACE_PREFIX}${n}`, labels: { "istio.io/dataplane-mode": "ambient" } } };
  }
  for (let i = 0; i < shape.workloads; i++) {
    yield {
      apiVersion: "networking.istio.io/v1",
      kind: "WorkloadEntry",
      metadata: { name: `wl-${i}`, namespace: namespaceOf(shape, i) },
      spec: { address: address(i), labels: { app: `app-${i}` }, serviceAccount: serviceAccountOf(i), node: nodeOf(shape, i) },
    };
  }
}

/** The p-th percentile (nearest rank) of values; NaN when empty. */
export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))] as number;
}
