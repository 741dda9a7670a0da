/**
 * Opaque TCP through a waypoint: a tunnel to a destination port the Gateway fronts as TCP is
 * carried on to an endpoint of the destination (HBONE as the waypoint's identity, or plain TCP
 * outside the mesh), bytes spliced natively. The first endpoint that connects wins; the tunnel is
 * answered 200 only then, so a client sees 503 when none can be reached.
 */
import type { Duplex } from "node:stream";
import { MeshError } from "../errors/mesh-error.ts";
import type { ClientCredentials, HbonePool } from "../hbone/client.ts";
import { newTraceparent } from "../hbone/headers.ts";
import type { InboundTunnel } from "../hbone/server.ts";
import { connectTcp } from "../net/connect.ts";
import { formatEndpoint } from "../net/endpoint.ts";
import { splice } from "../net/splice.ts";
import type { Logger } from "../telemetry/log.ts";
import type { TunnelFacts } from "./http-proxy.ts";
import type { WaypointState } from "./state.ts";
import { planUpstream, type UpstreamHop } from "./upstream-plan.ts";

export interface TcpProxyOptions {
  readonly state: () => WaypointState;
  readonly pool: HbonePool;
  readonly credentials: () => Promise<ClientCredentials>;
  readonly log: Logger;
  readonly hbonePort: number;
  readonly connectTimeoutMs: number;
}

export class TcpProxy {
  readonly #o: TcpProxyOptions;
  readonly #open = new Set<Duplex>();
  #next = 0;

  constructor(options: TcpProxyOptions) {
    this.#o = options;
  }

  carry(t: InboundTunnel, facts: TunnelFacts): void {
    const state = this.#o.state();
    const { listener, port } = facts.match;
    const workload = listener.kind === "workload" ? listener.addresses.map((a) => state.workloadAt(a)).find((w) => w !== undefined) : undefined;
    const planned =
      listener.kind === "service"
        ? planUpstream(state, { kind: "service", key: listener.key, port: port.port }, { hbonePort: this.#o.hbonePort, start: this.#next++ })
        : workload
          ? planUpstream(state, { kind: "workload", workload, port: port.targetPort || port.port }, { hbonePort: this.#o.hbonePort, start: 0 })
          : new MeshError("unavailable", `workload at ${listener.addresses.join(", ")} is not known`);
    if (planned instanceof MeshError) {
      t.refuse(planned);
      return;
    }
    const started = Date.now();
    this.#connect(planned, 0, facts).then(
      ({ upstream, hop }) => {
        const downstream = t.accept();
        this.#open.add(downstream);
        splice(downstream, upstream, (r) => {
          this.#open.delete(downstream);
          this.#o.log.info("connection complete", {
            "src.addr": formatEndpoint(facts.client),
            "src.identity": facts.peerIdentity,
            "dst.addr": formatEndpoint(hop.target),
            "dst.workload": hop.workload.name,
            "dst.namespace": hop.workload.namespace,
            ...(listener.kind === "service" ? { "dst.service": listener.hostname } : {}),
            direction: "waypoint",
            duration: `${Date.now() - started}ms`,
            ...(r.error ? { error: r.error.message } : {}),
          });
        });
      },
      (err: MeshError) => t.refuse(err),
    );
  }

  async #connect(hops: readonly UpstreamHop[], i: number, facts: TunnelFacts): Promise<{ upstream: Duplex; hop: UpstreamHop }> {
    const hop = hops[i] as UpstreamHop;
    try {
      const upstream = hop.hbone
        ? await this.#o.pool.open(await this.#o.credentials(), {
            hbone: hop.hbone.address,
            expectedIdentity: hop.hbone.identity,
            connect: { target: hop.target, source: facts.client, baggage: {}, traceparent: newTraceparent() },
          })
        : await connectTcp(hop.target, this.#o.connectTimeoutMs);
      return { upstream, hop };
    } catch (err) {
      if (i + 1 < hops.length) return this.#connect(hops, i + 1, facts);
      throw MeshError.from(err, "unavailable");
    }
  }

  closeAll(): void {
    for (const s of this.#open) s.destroy();
    this.#open.clear();
  }
}
