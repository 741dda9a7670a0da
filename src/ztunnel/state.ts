/**
 * What a ztunnel knows, indexed for the data path: built (pure) from the xDS view whenever it
 * changes, then only read. Proxies never see the xDS client, only the current ZtunnelState.
 *
 * Invariants: every index is derived from the same view; policies are compiled once per build
 * (and reused across builds while their view is unchanged); lookups by address take canonical
 * address text.
 */
import { formatSpiffeId } from "../identity/spiffe.ts";
import { compilePolicy, type CompiledPolicy } from "../policy/l4-authorization.ts";
import { resourceName, type AuthorizationView, type ServiceView, type TrustBundleView, type WorkloadView, type ZtunnelView } from "../xds/view.ts";

export interface ZtunnelStateInput extends ZtunnelView {
  readonly node: string;
  readonly trustBundle?: TrustBundleView;
}

const EMPTY: readonly WorkloadView[] = [];

/** A workload's SPIFFE id, formatted once per workload object (views are immutable and shared). */
const identities = new WeakMap<WorkloadView, string>();
export function identityOf(w: WorkloadView): string {
  let id = identities.get(w);
  if (id === undefined) identities.set(w, (id = formatSpiffeId({ trustDomain: w.trustDomain, namespace: w.namespace, serviceAccount: w.serviceAccount })));
  return id;
}

export class ZtunnelState {
  readonly node: string;
  readonly workloads: readonly WorkloadView[];
  readonly services: readonly ServiceView[];
  readonly authorizations: readonly AuthorizationView[];
  readonly trustBundle: TrustBundleView | undefined;
  /** Workloads bound to this node. */
  readonly local: readonly WorkloadView[];
  readonly #byAddress = new Map<string, WorkloadView>();
  readonly #byVip = new Map<string, ServiceView>();
  readonly #byName = new Map<string, ServiceView>();
  readonly #byHostname = new Map<string, ServiceView>();
  readonly #endpoints = new Map<string, WorkloadView[]>();
  readonly #policies: ReadonlyMap<string, { view: AuthorizationView; compiled: CompiledPolicy }>;

  private constructor(input: ZtunnelStateInput, previous?: ZtunnelState) {
    this.node = input.node;
    this.workloads = input.workloads;
    this.services = input.services;
    this.authorizations = input.authorizations;
    this.trustBundle = input.trustBundle;
    this.local = input.workloads.filter((w) => w.node === input.node);
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
    const policies = new Map<string, { view: AuthorizationView; compiled: CompiledPolicy }>();
    for (const a of input.authorizations) {
      const name = resourceName(a.namespace, a.name);
      const old = previous ? previous.#policies.get(name) : undefined;
      policies.set(name, old && old.view === a ? old : { view: a, compiled: compilePolicy(a) });
    }
    this.#policies = policies;
  }

  static build(input: ZtunnelStateInput, previous?: ZtunnelState): ZtunnelState {
    return new ZtunnelState(input, previous);
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

  isLocal(w: WorkloadView): boolean {
    return w.node === this.node;
  }

  /**
   * The compiled L4 policies that apply to a workload. A policy the workload names but that has
   * not arrived yet denies everything: failing closed, because a missing ALLOW policy would
   * otherwise read as "no policies" and let anyone in.
   */
  policiesFor(w: WorkloadView): CompiledPolicy[] {
    const out: CompiledPolicy[] = [];
    for (const name of w.authorizationPolicies) out.push(this.#policies.get(name)?.compiled ?? pendingPolicy(name));
    return out;
  }
}

function pendingPolicy(name: string): CompiledPolicy {
  return { name, action: "deny", matches: () => true };
}
