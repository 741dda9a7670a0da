/**
 * Which source address an inbound HBONE tunnel is judged and logged by (pure). The peer's
 * `forwarded: for=` header is only a claim: any holder of a workload certificate can write any
 * address there, so the claim is believed only as far as the peer's verified identity vouches
 * for it:
 * - the claimed address belongs to a workload whose SPIFFE id is the peer's (a ztunnel tunnels
 *   with the certificate of the workload it speaks for, so that workload's addresses are its own);
 * - or the peer is a waypoint (it tunnels for its clients with its own identity), meaning its
 *   identity is that of a replica of a waypoint the xDS view names (a WaypointRef on a workload
 *   or service; the control plane writes those only for Gateways of class istio-waypoint).
 * Otherwise the connection's own peer address is the source, and the decision says why the claim
 * was not believed so the inbound proxy can log the mismatch.
 */
import { formatEndpoint, type Endpoint } from "../net/endpoint.ts";
import { identityOf, type MeshState } from "../state/mesh-state.ts";

export interface TunnelSourceInput {
  /** spiffe://… of the peer, verified by TLS. */
  readonly peerIdentity: string;
  /** The peer's socket address. */
  readonly peer: Endpoint;
  /** What `forwarded: for=` claims, when the header was sent. */
  readonly forwardedFor?: Endpoint;
}

export type TunnelSource =
  | { readonly source: Endpoint; readonly trusted: "forwarded"; readonly because: "workload identity" | "waypoint" }
  | { readonly source: Endpoint; readonly trusted: "peer"; readonly mismatch?: string };

/** Identities of waypoint replicas, computed once per state (states are immutable and replaced whole). */
const waypointIdentities = new WeakMap<MeshState, ReadonlySet<string>>();

function waypointsOf(state: MeshState): ReadonlySet<string> {
  let ids = waypointIdentities.get(state);
  if (ids) return ids;
  const refs = new Map<string, { namespace: string; name: string }>();
  for (const holder of [...state.workloads, ...state.services]) {
    if (holder.waypoint) refs.set(`${holder.waypoint.namespace}/${holder.waypoint.name}`, holder.waypoint);
  }
  const found = new Set<string>();
  for (const ref of refs.values()) {
    const service = state.serviceNamed(ref.namespace, ref.name);
    if (service) for (const replica of state.endpointsOf(service)) found.add(identityOf(replica));
  }
  ids = found;
  waypointIdentities.set(state, ids);
  return ids;
}

export function tunnelSource(state: MeshState, input: TunnelSourceInput): TunnelSource {
  const claim = input.forwardedFor;
  if (!claim) return { source: input.peer, trusted: "peer" };
  const claimed = state.workloadAt(claim.address);
  if (claimed && identityOf(claimed) === input.peerIdentity) return { source: claim, trusted: "forwarded", because: "workload identity" };
  if (waypointsOf(state).has(input.peerIdentity)) return { source: claim, trusted: "forwarded", because: "waypoint" };
  const owner = claimed ? `workload ${claimed.namespace}/${claimed.name} (${identityOf(claimed)})` : "no workload";
  return {
    source: input.peer,
    trusted: "peer",
    mismatch: `forwarded for=${formatEndpoint(claim)} belongs to ${owner}, not to the peer ${input.peerIdentity}, which is no waypoint`,
  };
}
