/**
 * Where an outbound connection goes (pure; the outbound proxy carries it out). Given the source
 * address and the original destination:
 * - the source must be a workload on this node (a ztunnel speaks only for its own workloads);
 * - a service VIP resolves to the service's endpoints (port mapped to each endpoint's target port),
 *   a workload address to that workload; anything else, or a destination outside the mesh
 *   (not captured), goes direct — passthrough, from the node's address, so never to the node
 *   itself or the control plane (passthrough-guard.ts);
 * - a destination bound to a waypoint is reached through the waypoint's replicas, with the original
 *   destination as the CONNECT authority;
 * - otherwise each endpoint is a hop: HBONE to <endpoint>:15008 with the endpoint's identity, or
 *   the in-process fast path when the endpoint is on this node.
 * Hops come in preference order, rotated by `start` (round-robin); the caller tries the next one
 * when a hop cannot be reached (failover).
 */
import { MeshError } from "../errors/mesh-error.ts";
import type { Endpoint } from "../net/endpoint.ts";
import type { ServiceView, WaypointRef, WorkloadView } from "../state/view.ts";
import { identityOf } from "../state/mesh-state.ts";
import { passthroughRefusal, type PassthroughGuard } from "./passthrough-guard.ts";
import type { ZtunnelState } from "./state.ts";

export interface Hop {
  /** In-process: the destination is on this node (inbound policy still applies). */
  readonly local: boolean;
  /** The HBONE listener (unused for local hops). */
  readonly hbone: Endpoint;
  /** The identity the HBONE server must prove. */
  readonly expectedIdentity: string;
  /** The CONNECT authority. */
  readonly target: Endpoint;
  /** The workload at the end of this hop: the destination, or a waypoint replica. */
  readonly peer: WorkloadView;
}

export type OutboundRoute =
  | { readonly kind: "tunnel"; readonly source: WorkloadView; readonly service?: ServiceView; readonly waypoint?: WaypointRef; readonly hops: readonly Hop[] }
  | { readonly kind: "direct"; readonly source: WorkloadView; readonly target: Endpoint; readonly reason: string }
  | { readonly kind: "refuse"; readonly source?: WorkloadView; readonly error: MeshError };

export interface RouteOptions {
  /** HBONE port of ztunnels (workload destinations). */
  readonly hbonePort: number;
  /** Round-robin position. */
  readonly start: number;
  /** Where passthrough may not go (the node itself, the control plane). */
  readonly guard: PassthroughGuard;
}

const refuse = (error: MeshError, source?: WorkloadView): OutboundRoute => ({ kind: "refuse", error, ...(source ? { source } : {}) });

/** Passthrough, unless the destination is one workload traffic may not reach from the node's address. */
function direct(source: WorkloadView, target: Endpoint, reason: string, guard: PassthroughGuard): OutboundRoute {
  const refusal = passthroughRefusal(guard, target);
  return refusal ? refuse(refusal, source) : { kind: "direct", source, target, reason };
}

function rotate<T>(items: readonly T[], start: number): T[] {
  if (items.length < 2) return [...items];
  const k = start % items.length;
  return [...items.slice(k), ...items.slice(0, k)];
}


function waypointHops(state: ZtunnelState, waypoint: WaypointRef, target: Endpoint, start: number): Hop[] | MeshError {
  const service = state.serviceNamed(waypoint.namespace, waypoint.name);
  const replicas = service ? state.endpointsOf(service) : [];
  if (replicas.length === 0) return new MeshError("unavailable", `waypoint ${waypoint.namespace}/${waypoint.name} has no replicas`);
  return rotate(replicas, start).flatMap((r) => {
    const address = r.addresses[0];
    return address ? [{ local: false, hbone: { address, port: waypoint.hbonePort }, expectedIdentity: identityOf(r), target, peer: r }] : [];
  });
}

function workloadHop(state: ZtunnelState, w: WorkloadView, address: string, port: number, hbonePort: number): Hop {
  return { local: state.isLocal(w), hbone: { address, port: hbonePort }, expectedIdentity: identityOf(w), target: { address, port }, peer: w };
}

export function planOutbound(state: ZtunnelState, sourceAddress: string, destination: Endpoint, options: RouteOptions): OutboundRoute {
  const source = state.workloadAt(sourceAddress);
  if (!source || !state.isLocal(source)) {
    return refuse(new MeshError("permission_denied", `source ${sourceAddress} is not a workload on node ${state.node}`));
  }
  if (!source.captured) return direct(source, destination, `source ${source.namespace}/${source.name} is not in the mesh`, options.guard);

  const service = state.serviceAt(destination.address);
  if (service) {
    const mapping = service.ports.find((p) => p.servicePort === destination.port);
    if (!mapping) return refuse(new MeshError("unavailable", `service ${service.namespace}/${service.name} has no port ${destination.port}`), source);
    if (service.waypoint) {
      const hops = waypointHops(state, service.waypoint, destination, options.start);
      return hops instanceof MeshError ? refuse(hops, source) : { kind: "tunnel", source, service, waypoint: service.waypoint, hops };
    }
    const key = `${service.namespace}/${service.hostname}`;
    const endpoints = state.endpointsOf(service);
    if (endpoints.length === 0) return refuse(new MeshError("unavailable", `service ${service.namespace}/${service.name} has no endpoints`), source);
    const picked = rotate(endpoints, options.start);
    const first = picked[0] as WorkloadView;
    const portOn = (w: WorkloadView) => {
      const m = w.services[key]?.find((p) => p.servicePort === destination.port);
      return m && m.targetPort !== 0 ? m.targetPort : destination.port;
    };
    if (!first.captured) {
      // Endpoints outside the mesh are reached as they are, without a tunnel.
      const address = first.addresses[0] as string;
      return direct(source, { address, port: portOn(first) }, `endpoint ${first.namespace}/${first.name} is not in the mesh`, options.guard);
    }
    const hops = picked.filter((w) => w.captured && w.addresses.length > 0).map((w) => workloadHop(state, w, w.addresses[0] as string, portOn(w), options.hbonePort));
    return { kind: "tunnel", source, service, hops };
  }

  const workload = state.workloadAt(destination.address);
  if (!workload) return direct(source, destination, "destination is not in the mesh", options.guard);
  if (workload.waypoint) {
    const hops = waypointHops(state, workload.waypoint, destination, options.start);
    return hops instanceof MeshError ? refuse(hops, source) : { kind: "tunnel", source, waypoint: workload.waypoint, hops };
  }
  if (!workload.captured) return direct(source, destination, `workload ${workload.namespace}/${workload.name} is not in the mesh`, options.guard);
  return { kind: "tunnel", source, hops: [workloadHop(state, workload, destination.address, destination.port, options.hbonePort)] };
}
