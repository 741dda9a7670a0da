/**
 * The domain shape of every config resource: Kubernetes-style envelope (apiVersion, kind,
 * metadata, spec). Server-managed metadata (uid, resourceVersion, generation, creationTimestamp)
 * is set by the store; resourceVersion is the store revision of the last write, as a decimal string.
 */

export interface ResourceMetadata {
  readonly name: string;
  /** "" for cluster-scoped kinds (Namespace). */
  readonly namespace: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly annotations: Readonly<Record<string, string>>;
  readonly uid?: string;
  readonly resourceVersion?: string;
  readonly generation?: number;
  readonly creationTimestamp?: string;
}

export interface Resource<Spec = unknown> {
  readonly apiVersion: string;
  readonly kind: string;
  readonly metadata: ResourceMetadata;
  readonly spec: Spec;
}

/** A resource as stored: server-managed metadata present. */
export interface StoredResource<Spec = unknown> extends Resource<Spec> {
  readonly metadata: ResourceMetadata & {
    readonly uid: string;
    readonly resourceVersion: string;
    readonly generation: number;
    readonly creationTimestamp: string;
  };
}

export interface ResourceKey {
  readonly kind: string;
  readonly namespace: string;
  readonly name: string;
}

export function keyOf(r: { kind: string; metadata: { namespace: string; name: string } }): ResourceKey {
  return { kind: r.kind, namespace: r.metadata.namespace, name: r.metadata.name };
}

/** `Kind ns/name` or `Kind name` for cluster-scoped kinds, as messages name a resource. */
export function describeKey(key: ResourceKey): string {
  return key.namespace === "" ? `${key.kind} ${key.name}` : `${key.kind} ${key.namespace}/${key.name}`;
}

/** A stable string form for maps and store keys. */
export function keyString(key: ResourceKey): string {
  return `${key.kind}/${key.namespace}/${key.name}`;
}

/** Order by kind, then namespace, then name: the order lists are returned in. */
export function compareResources(a: Resource, b: Resource): number {
  const x = [a.kind, a.metadata.namespace, a.metadata.name];
  const y = [b.kind, b.metadata.namespace, b.metadata.name];
  for (let i = 0; i < 3; i++) if (x[i] !== y[i]) return (x[i] as string) < (y[i] as string) ? -1 : 1;
  return 0;
}
