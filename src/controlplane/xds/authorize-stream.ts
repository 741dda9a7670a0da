/**
 * May this principal open an xDS stream as this node and role? Decided on the stream's first
 * request (the node and role it names), before any config is sent:
 * - a node principal (certificate or token) only as its own node, either role;
 * - a waypoint principal only as role waypoint, only for a node where its Gateway has a replica,
 *   and it is served that Gateway's config alone (ads.ts scopes the resources).
 */
import { MeshError } from "../../errors/mesh-error.ts";
import { formatGatewayRef, type GatewayRef } from "../../identity/gateway-ref.ts";
import type { ProxyPrincipal } from "./principal.ts";

/** Does this Gateway have a replica (a WorkloadEntry labelled with its name) on this node? */
export type ReplicaPlacement = (gateway: GatewayRef, node: string) => boolean;

export function authorizeStream(principal: ProxyPrincipal, node: string, role: "ztunnel" | "waypoint", hasReplica: ReplicaPlacement): void {
  if (principal.waypoint) {
    const gateway = formatGatewayRef(principal.waypoint);
    if (role !== "waypoint") throw new MeshError("permission_denied", `the token of waypoint ${gateway} cannot open a ${role} stream`);
    if (!hasReplica(principal.waypoint, node)) throw new MeshError("permission_denied", `waypoint ${gateway} has no replica on node ${node}`);
    return;
  }
  if (node !== principal.node) throw new MeshError("permission_denied", `the ${principal.via === "token" ? "token" : "node certificate"} is for node ${principal.node}, not ${node}`);
}
