/**
 * The proxies' read model: what xDS said about the mesh, indexed for the data path. Both proxies
 * read it (the ztunnel through ZtunnelState, which adds what only a node needs); neither sees
 * the xDS client. Built (pure) from a view whenever it changes, then only read.
 *
 * Invariants: every index is derived from the same view; lookups by address take canonical
 * address text; views are immutable and shared, so per-view facts are memoized by identity.
 */
import { formatSpiffeId } from "../identity/spiffe.ts";
import { resourceName, type AuthorizationView, type ServiceView, type TrustBundleView, type WorkloadView, type ZtunnelView } from "./view.ts";

export interface MeshStateInput extends ZtunnelView {
  readonly trustBundle?: TrustBundleView;
}

const EMPTY: readonly WorkloadView[] = [];

/** A workload's SPIFFE id, formatted once per workload object. */
const identities = new WeakMap<WorkloadView, string>();
export function identityOf(w: WorkloadView): string {
  let id = identities.get(w);
  if (id === undefined) identities.set(w, (id = formatSpiffeId({ trustDomain: w.trustDomain, namespace: w.namespace, serviceAccount: w.serviceAccount })));
  return id;
}

export class MeshState {
  readonly workloads: readonly WorkloadView[];
  readonly services: readonly ServiceView[];
  readonly authorizations: readonly AuthorizationView[];
  readonly trustBundle: TrustBundleView | undefined;
  readonly #byAddress = new Map<string, WorkloadView>();
  readonly #byVip = new Map<string, ServiceView>();
  readonly #byName = new Map<string, ServiceView>();
  readonly #byHostname = new Map<string, ServiceView>();
  readonly #endpoints = new Map<string, WorkloadView[]>();

  constructor(input: MeshStateInput) {
    this.workloads = input.workloads;
    this.services = input.services;
    this.authorizations = input.authorizations;
    this.trustBundle = input.trustBundle;
    for (const w of input.workloads) {
      for (const a of w.addresses) this.#byAddress.set(a, w);
      for (const key of Object.keys(w.services)) {
        const list = this.#endpoints.get(key);
        if (list) list.push(w);
        else this.#endpoints.set(key, [w]);
      }
    }
    for (const s of input.services) {
      for (const v of s.vips) this.#byVip.set(v, s);
      this.#byName.set(resourceName(s.namespace, s.name), s);
      this.#byHostname.set(resourceName(s.namespace, s.hostname), s);
    }
  }

  workloadAt(address: string): WorkloadView | undefined {
    return this.#byAddress.get(address);
  }

  serviceAt(vip: string): ServiceView | undefined {
    return this.#byVip.get(vip);
  }

  /** A service by namespace and name (waypoints are found this way). */
  serviceNamed(namespace: string, name: string): ServiceView | undefined {
    return this.#byName.get(resourceName(namespace, name));
  }

  /** A service by "<namespace>/<hostname>", the key workloads and waypoint listeners use. */
  serviceByKey(key: string): ServiceView | undefined {
    return this.#byHostname.get(key);
  }

  /** The workloads backing a service. */
  endpointsOf(service: ServiceView): readonly WorkloadView[] {
    return this.#endpoints.get(resourceName(service.namespace, service.hostname)) ?? EMPTY;
  }

  /** The service a workload serves on a (target) port, for telemetry of inbound connections. */
  serviceServedOn(w: WorkloadView, port: number): ServiceView | undefined {
    for (const [key, mappings] of Object.entries(w.services)) {
      if (mappings.some((m) => (m.targetPort || m.servicePort) === port)) return this.#byHostname.get(key);
    }
    return undefined;
  }
}
