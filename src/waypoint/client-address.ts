/**
 * Which client address a waypoint believes for a tunnel (pure). The ztunnel that opened it states
 * the original client in `forwarded: for=`, but a peer can write anything there: the claim stands
 * only when the address is a workload whose identity is the peer certificate's — the ztunnel
 * presents the source workload's certificate — else the tunnel's own peer address is used and
 * the mismatch is reported.
 */
import type { Endpoint } from "../net/endpoint.ts";
import { identityOf, type MeshState } from "../state/mesh-state.ts";

export type ClientAddress = { readonly client: Endpoint; readonly trusted: true } | { readonly client: Endpoint; readonly trusted: false; readonly why: string };

export function clientAddress(state: MeshState, tunnel: { readonly peerIdentity: string; readonly peer: Endpoint; readonly forwardedFor?: Endpoint }): ClientAddress {
  const claimed = tunnel.forwardedFor;
  if (!claimed) return { client: tunnel.peer, trusted: true };
  const w = state.workloadAt(claimed.address);
  if (w && identityOf(w) === tunnel.peerIdentity) return { client: claimed, trusted: true };
  return { client: tunnel.peer, trusted: false, why: w ? `forwarded address ${claimed.address} is ${identityOf(w)}, not the peer ${tunnel.peerIdentity}` : `forwarded address ${claimed.address} is not a workload` };
}
