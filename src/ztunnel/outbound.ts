/**
 * The outbound half of a ztunnel: a connection from one of this node's workloads (captured on
 * 15001 or asked for through SOCKS5) is routed (route.ts) and carried — through an HBONE tunnel
 * presenting the source workload's certificate, through the in-process fast path to a workload of
 * this node, or directly when the destination is outside the mesh (never to the node itself or the
 * control plane: passthrough-guard.ts). Hops are tried in order until
 * one answers (failover among endpoints and waypoint replicas); a policy or identity refusal is
 * final and is not retried elsewhere.
 */
import type net from "node:net";
import type { Duplex } from "node:stream";
import { MeshError } from "../errors/mesh-error.ts";
import type { HbonePool } from "../hbone/client.ts";
import { newTraceparent } from "../hbone/headers.ts";
import type { Endpoint } from "../net/endpoint.ts";
import { connectTcp } from "../net/connect.ts";
import { baggageOf } from "../state/baggage.ts";
import { splice } from "../net/splice.ts";
import type { Logger } from "../telemetry/log.ts";
import type { WorkloadView } from "../state/view.ts";
import type { ConnectionInfo, ConnectionTable } from "../telemetry/connections.ts";
import type { WorkloadCredentials } from "../identity/workload-credentials.ts";
import type { AdmittedConnection } from "./admission.ts";
import type { Inbound } from "./inbound.ts";
import type { PassthroughGuard } from "./passthrough-guard.ts";
import { planOutbound, type Hop, type OutboundRoute } from "./route.ts";
import { identityOf } from "../state/mesh-state.ts";
import type { ZtunnelState } from "./state.ts";

export interface OutboundOptions {
  readonly state: () => ZtunnelState;
  readonly identities: WorkloadCredentials;
  readonly pool: HbonePool;
  readonly inbound: Inbound;
  readonly connections: ConnectionTable<AdmittedConnection>;
  readonly log: Logger;
  readonly hbonePort: number;
  readonly connectTimeoutMs: number;
  /** Where passthrough may not go, now (the node's addresses change). */
  readonly passthroughGuard: () => PassthroughGuard;
  /** Hops tried per connection before giving up. */
  readonly maxAttempts?: number;
}

/** How the front end (capture or SOCKS5) learns the outcome. */
export interface OutboundHooks {
  /** The path is up; bytes may flow. Returns bytes the client already sent, to forward first. */
  established(): Uint8Array | undefined;
  refused(error: MeshError): void;
}

const FINAL: ReadonlySet<string> = new Set(["permission_denied", "unauthenticated", "invalid_argument"]);

export class Outbound {
  readonly #o: OutboundOptions;
  #roundRobin = 0;

  constructor(options: OutboundOptions) {
    this.#o = options;
  }

  handle(client: Duplex, source: Endpoint, destination: Endpoint, hooks: OutboundHooks): void {
    // Nagle off on the workload's side too: small writes are forwarded as they come.
    (client as Duplex & { setNoDelay?: (on: boolean) => void }).setNoDelay?.(true);
    const route = planOutbound(this.#o.state(), source.address, destination, { hbonePort: this.#o.hbonePort, start: this.#roundRobin++, guard: this.#o.passthroughGuard() });
    void this.#carry(route, client, source, destination, hooks);
  }

  async #carry(route: OutboundRoute, client: Duplex, source: Endpoint, destination: Endpoint, hooks: OutboundHooks): Promise<void> {
    const { connections } = this.#o;
    const srcPeer = { addr: source, ...(route.source ? { workload: route.source, identity: identityOf(route.source) } : {}) };
    if (route.kind === "refuse") {
      connections.refused({ direction: "outbound", src: srcPeer, dst: { addr: destination }, dstAddr: destination, mtls: false }, route.error.message);
      hooks.refused(route.error);
      return;
    }
    if (route.kind === "direct") {
      const info: ConnectionInfo = { direction: "outbound", src: srcPeer, dst: { addr: route.target }, dstAddr: route.target, mtls: false };
      let upstream: net.Socket;
      try {
        upstream = await connectTcp(route.target, this.#o.connectTimeoutMs);
      } catch (err) {
        connections.refused(info, (err as Error).message);
        hooks.refused(MeshError.from(err, "unavailable"));
        return;
      }
      this.#splice(info, client, upstream, hooks);
      return;
    }

    let lastError: MeshError | undefined; // built only on failure: an Error's stack is costly per connection
    const attempts = route.hops.slice(0, this.#o.maxAttempts ?? 3);
    for (const hop of attempts) {
      const info: ConnectionInfo = {
        direction: "outbound",
        src: srcPeer,
        dst: { addr: hop.target, workload: hop.peer, identity: hop.expectedIdentity },
        dstAddr: hop.local ? hop.target : hop.hbone,
        hboneAddr: hop.target,
        ...(route.service ? { service: route.service } : {}),
        mtls: !hop.local,
      };
      try {
        if (hop.local) {
          const { upstream, finish } = await this.#o.inbound.local(route.source, source, hop.target);
          this.#splice(info, client, upstream, hooks, finish);
        } else {
          const stream = await this.#tunnel(route.source, source, hop);
          this.#splice(info, client, stream, hooks);
        }
        return;
      } catch (err) {
        lastError = MeshError.from(err, "unavailable");
        if (FINAL.has(lastError.code)) {
          connections.refused(info, lastError.message);
          hooks.refused(lastError);
          return;
        }
        this.#o.log.debug("hop failed, trying the next one", { hop: hop.expectedIdentity, error: lastError.message });
        if (hop === attempts.at(-1)) connections.refused(info, lastError.message);
      }
    }
    hooks.refused(lastError ?? new MeshError("unavailable", "no hop to try"));
  }

  async #tunnel(source: WorkloadView, sourceAddr: Endpoint, hop: Hop): Promise<Duplex> {
    const credentials = await this.#o.identities.clientCredentials(source);
    return this.#o.pool.open(credentials, {
      hbone: hop.hbone,
      expectedIdentity: hop.expectedIdentity,
      connect: { target: hop.target, source: sourceAddr, baggage: baggageOf(source), traceparent: newTraceparent() },
    });
  }

  /**
   * Bytes are measured on the client socket (bytesRead went toward the destination, bytesWritten
   * came back), counted from the moment the path is up so a SOCKS5 handshake is not included.
   */
  #splice(info: ConnectionInfo, client: Duplex, upstream: Duplex, hooks: OutboundHooks, alsoFinish?: (error?: string) => void): void {
    const done = this.#o.connections.open(info, [client, upstream]);
    const counters = client as unknown as { bytesRead?: number; bytesWritten?: number };
    const early = hooks.established();
    const readBase = (counters.bytesRead ?? 0) - (early?.length ?? 0);
    const writtenBase = counters.bytesWritten ?? 0;
    if (early && early.length > 0) upstream.write(early);
    splice(client, upstream, (r) => {
      done({ bytesRead: (counters.bytesRead ?? 0) - readBase, bytesWritten: (counters.bytesWritten ?? 0) - writtenBase }, r.error?.message);
      alsoFinish?.(r.error?.message);
    });
  }
}
