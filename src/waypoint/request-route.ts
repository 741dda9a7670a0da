/**
 * Where a request goes and who its parties are, for both engines (HTTP/1.1 and HTTP/2): the
 * router's backend or, with no route, the destination the tunnel was admitted for
 * (upstream-target.ts; never a Host or :authority header), its hops from the upstream plan, and
 * the parties the telemetry record names.
 * Pure: the engines carry the decision out.
 */
import { MeshError } from "../errors/mesh-error.ts";
import type { UpstreamSelection } from "../plugin-api/index.ts";
import { identityOf } from "../state/mesh-state.ts";
import type { TunnelFacts } from "./http-proxy.ts";
import type { RequestRecord } from "./request-telemetry.ts";
import type { ListenerMatch, WaypointState } from "./state.ts";
import { planUpstream, type UpstreamHop } from "./upstream-plan.ts";
import { upstreamTargetOf } from "./upstream-target.ts";

/** Hops to try in order for the router's choice (null: no route), or why there is none. */
export function hopsFor(state: WaypointState, match: ListenerMatch, selection: UpstreamSelection | null, options: { readonly hbonePort: number; readonly start: number }): UpstreamHop[] | MeshError {
  const target = upstreamTargetOf(state, match, selection);
  return target instanceof MeshError ? target : planUpstream(state, target, options);
}

/** The source and destination a request's telemetry record names (the hop once one was tried). */
export function partiesOf(state: WaypointState, facts: TunnelFacts, hop: UpstreamHop | undefined): Pick<RequestRecord, "source" | "destination"> {
  const sourceWorkload = state.workloadAt(facts.client.address);
  const listener = facts.match.listener;
  const service = listener.kind === "service" ? state.serviceByKey(listener.key) : undefined;
  return {
    source: { principal: facts.peerIdentity, ...(sourceWorkload ? { workload: sourceWorkload.name, namespace: sourceWorkload.namespace } : {}) },
    destination: {
      ...(hop ? { principal: identityOf(hop.workload), workload: hop.workload.name, namespace: hop.workload.namespace } : {}),
      ...(service ? { service: service.hostname, serviceName: service.name, serviceNamespace: service.namespace } : {}),
    },
  };
}
