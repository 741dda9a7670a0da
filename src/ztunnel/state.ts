/**
 * What a ztunnel knows: the shared read model (src/state) plus what only a node needs — which
 * workloads are its own and their compiled L4 policies. Built (pure) from the xDS view whenever
 * it changes, then only read. Proxies never see the xDS client, only the current ZtunnelState.
 *
 * Invariants: policies are compiled once per build (and reused across builds while their view is
 * unchanged); a policy a workload names but that has not arrived yet denies everything.
 */
import { compilePolicy, type CompiledPolicy } from "../policy/l4-authorization.ts";
import { MeshState, type MeshStateInput } from "../state/mesh-state.ts";
import { resourceName, type AuthorizationView, type WorkloadView } from "../state/view.ts";

export interface ZtunnelStateInput extends MeshStateInput {
  readonly node: string;
}

export class ZtunnelState extends MeshState {
  readonly node: string;
  /** Workloads bound to this node. */
  readonly local: readonly WorkloadView[];
  readonly #policies: ReadonlyMap<string, { view: AuthorizationView; compiled: CompiledPolicy }>;

  private constructor(input: ZtunnelStateInput, previous?: ZtunnelState) {
    super(input);
    this.node = input.node;
    this.local = input.workloads.filter((w) => w.node === input.node);
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
