/**
 * Where a request to a destination goes (pure; the upstream carries it out): the endpoints of a
 * service on a port, or one workload, each as a hop — HBONE to the endpoint's ztunnel (its
 * address on the mesh's HBONE port) proving the endpoint's identity, or plain TCP to an endpoint
 * outside the mesh. Hops come in round-robin order from `start`; the caller tries the next one
 * when a hop cannot be reached.
 */
import { MeshError } from "../errors/mesh-error.ts";
import type { Endpoint } from "../net/endpoint.ts";
import { identityOf, type MeshState } from "../state/mesh-state.ts";
import type { WorkloadView } from "../state/view.ts";

export interface UpstreamHop {
  /** The workload at the end of the hop. */
  readonly workload: WorkloadView;
  /** The workload's own address and (target) port: the CONNECT authority, or where plain TCP goes. */
  readonly target: Endpoint;
  /** HBONE listener and the identity it must prove; absent: the endpoint is outside the mesh. */
  readonly hbone?: { readonly address: Endpoint; readonly identity: string };
}

/** A destination the waypoint sends to: a service ("<namespace>/<hostname>") or a workload, on a port. */
export type UpstreamTarget = { readonly kind: "service"; readonly key: string; readonly port: number } | { readonly kind: "workload"; readonly workload: WorkloadView; readonly port: number };

function rotate<T>(items: readonly T[], start: number): T[] {
  if (items.length < 2) return [...items];
  const k = start % items.length;
  return [...items.slice(k), ...items.slice(0, k)];
}

function hop(w: WorkloadView, port: number, hbonePort: number): UpstreamHop | undefined {
  const address = w.addresses[0];
  if (address === undefined) return undefined;
  const target = { address, port };
  return w.captured ? { workload: w, target, hbone: { address: { address, port: hbonePort }, identity: identityOf(w) } } : { workload: w, target };
}

export function planUpstream(state: MeshState, target: UpstreamTarget, options: { readonly hbonePort: number; readonly start: number }): UpstreamHop[] | MeshError {
  if (target.kind === "workload") {
    const h = hop(target.workload, target.port, options.hbonePort);
    return h ? [h] : new MeshError("unavailable", `workload ${target.workload.namespace}/${target.workload.name} has no address`);
  }
  const service = state.serviceByKey(target.key);
  if (!service) return new MeshError("unavailable", `service ${target.key} is not known`);
  const mapping = service.ports.find((p) => p.servicePort === target.port);
  if (!mapping) return new MeshError("unavailable", `service ${target.key} has no port ${target.port}`);
  const hops: UpstreamHop[] = [];
  for (const w of rotate(state.endpointsOf(service), options.start)) {
    const own = w.services[target.key]?.find((p) => p.servicePort === target.port);
    const port = own && own.targetPort !== 0 ? own.targetPort : mapping.targetPort || target.port;
    const h = hop(w, port, options.hbonePort);
    if (h) hops.push(h);
  }
  return hops.length > 0 ? hops : new MeshError("unavailable", `no healthy upstream: service ${target.key} has no endpoints`);
}
