/**
 * What a waypoint knows: the shared read model (src/state) plus its own Gateway's config — the
 * destinations it fronts (listeners) indexed by address and port, and its replicas. Built (pure)
 * from the xDS view whenever it changes, then only read.
 *
 * Invariants: a listener is found only by an address it lists and a port it lists (the CONNECT
 * authority a ztunnel sent); anything else is not this waypoint's to serve.
 */
import { formatEndpoint, type Endpoint } from "../net/endpoint.ts";
import { MeshState, type MeshStateInput } from "../state/mesh-state.ts";
import { resourceName, type ListenerPort, type WaypointConfigView, type WaypointListener, type WorkloadView } from "../state/view.ts";

/** The label a waypoint replica (WorkloadEntry) carries with its Gateway's name. */
export const GATEWAY_NAME_LABEL = "gateway.networking.k8s.io/gateway-name";

export interface GatewayRef {
  readonly namespace: string;
  readonly name: string;
}

export interface WaypointStateInput extends MeshStateInput {
  readonly gateway: GatewayRef;
  /** The waypoint configs xDS delivered (those with a replica on this node). */
  readonly configs: readonly WaypointConfigView[];
}

export interface ListenerMatch {
  readonly listener: WaypointListener;
  readonly port: ListenerPort;
}

export class WaypointState extends MeshState {
  readonly gateway: GatewayRef;
  /** This waypoint's config; undefined until the control plane sends it. */
  readonly config: WaypointConfigView | undefined;
  readonly #listeners = new Map<string, ListenerMatch>();

  constructor(input: WaypointStateInput) {
    super(input);
    this.gateway = input.gateway;
    this.config = input.configs.find((c) => c.namespace === input.gateway.namespace && c.name === input.gateway.name);
    for (const listener of this.config?.listeners ?? []) {
      for (const address of listener.addresses) {
        for (const port of listener.ports) this.#listeners.set(formatEndpoint({ address, port: port.port }), { listener, port });
      }
    }
  }

  /** The destination a CONNECT authority names, if this waypoint fronts it. */
  listenerAt(target: Endpoint): ListenerMatch | undefined {
    return this.#listeners.get(formatEndpoint(target));
  }

  /** The replicas of this waypoint (WorkloadEntries labelled with the Gateway's name). */
  replicas(): WorkloadView[] {
    return this.workloads.filter((w) => w.namespace === this.gateway.namespace && w.labels[GATEWAY_NAME_LABEL] === this.gateway.name);
  }

  get key(): string {
    return resourceName(this.gateway.namespace, this.gateway.name);
  }
}
