/**
 * The inbound half of a ztunnel: HBONE tunnels arriving on 15008, plaintext connections captured
 * on 15006, and the in-process fast path for traffic between workloads of this node. Each one is
 * admitted (admission.ts: authority, PeerAuthentication, L4 policy) before a byte reaches the
 * workload, a tunnel's `forwarded` source believed only as far as the peer's identity vouches for
 * it (src/policy/tunnel-source.ts); admitted connections stay in the connection table with the facts policy
 * decided on, so a policy change re-checks them and closes the ones it no longer allows.
 */
import type net from "node:net";
import type { Duplex } from "node:stream";
import type { MeshError } from "../errors/mesh-error.ts";
import { connectTcp } from "../net/connect.ts";
import { formatEndpoint, type Endpoint } from "../net/endpoint.ts";
import type { InboundTunnel } from "../hbone/server.ts";
import { splice } from "../net/splice.ts";
import type { Logger } from "../telemetry/log.ts";
import type { WorkloadView } from "../state/view.ts";
import { admitHbone, admitPlaintext, recheck, type Admission, type AdmittedConnection } from "./admission.ts";
import type { ConnectionInfo, ConnectionTable } from "../telemetry/connections.ts";
import { identityOf } from "../state/mesh-state.ts";
import { tunnelSource } from "../policy/tunnel-source.ts";
import type { ZtunnelState } from "./state.ts";

export interface InboundOptions {
  readonly state: () => ZtunnelState;
  readonly connections: ConnectionTable<AdmittedConnection>;
  readonly log: Logger;
  readonly connectTimeoutMs: number;
}

export class Inbound {
  readonly #o: InboundOptions;

  constructor(options: InboundOptions) {
    this.#o = options;
  }

  #info(admission: Admission, src: Endpoint, target: Endpoint, peerIdentity: string | undefined, mtls: boolean): ConnectionInfo {
    const state = this.#o.state();
    const srcWorkload = state.workloadAt(src.address);
    const service = admission.workload ? state.serviceServedOn(admission.workload, target.port) : undefined;
    return {
      direction: "inbound",
      src: { addr: src, ...(srcWorkload ? { workload: srcWorkload } : {}), ...(peerIdentity ? { identity: peerIdentity } : {}) },
      dst: { addr: target, ...(admission.workload ? { workload: admission.workload, identity: identityOf(admission.workload) } : {}) },
      dstAddr: target,
      ...(mtls ? { hboneAddr: target } : {}),
      ...(service ? { service } : {}),
      mtls,
    };
  }

  /** An HBONE CONNECT stream (the listener already verified the peer's certificate). */
  onTunnel = (t: InboundTunnel): void => {
    const state = this.#o.state();
    // `forwarded` is the peer's claim: policy and logs see it only where the peer's identity vouches for it.
    const trust = tunnelSource(state, { peerIdentity: t.peerIdentity, peer: t.peer, ...(t.request.forwardedFor ? { forwardedFor: t.request.forwardedFor } : {}) });
    if (trust.trusted === "peer" && trust.mismatch) {
      this.#o.log.warn("forwarded source not believed", { "src.addr": formatEndpoint(t.peer), "src.identity": t.peerIdentity, "dst.hbone_addr": formatEndpoint(t.request.target), reason: trust.mismatch });
    }
    const source = trust.source;
    const target = t.request.target;
    const admission = admitHbone(state, { peerIdentity: t.peerIdentity, source, target, arrivedAt: t.local.address });
    const info = this.#info(admission, source, target, t.peerIdentity, true);
    if (!admission.allowed) {
      this.#o.connections.refused(info, admission.error.message);
      t.refuse(admission.error);
      return;
    }
    const gone = new AbortController();
    let connecting = true;
    t.onClose(() => {
      if (connecting) gone.abort();
    });
    connectTcp(target, this.#o.connectTimeoutMs, gone.signal).then(
      (upstream) => {
        connecting = false;
        const stream = t.accept();
        this.#carry(info, stream, upstream, admission);
      },
      (err: MeshError) => {
        this.#o.connections.refused(info, err.message);
        t.refuse(err);
      },
    );
  };

  /** A plaintext connection captured on its way to a workload of this node (15006). */
  plaintext(socket: Duplex, source: Endpoint, target: Endpoint): void {
    (socket as Duplex & { setNoDelay?: (on: boolean) => void }).setNoDelay?.(true);
    const admission = admitPlaintext(this.#o.state(), source, target);
    const info = this.#info(admission, source, target, undefined, false);
    if (!admission.allowed) {
      this.#o.connections.refused(info, admission.error.message);
      resetSocket(socket);
      return;
    }
    connectTcp(target, this.#o.connectTimeoutMs).then(
      (upstream) => this.#carry(info, socket, upstream, admission),
      (err: MeshError) => {
        this.#o.connections.refused(info, err.message);
        resetSocket(socket);
      },
    );
  }

  /**
   * The fast path between two workloads of this node: the same admission as a tunnel from the
   * source's identity, then a plain connection to the destination. Resolves with the upstream
   * socket once connected; the caller carries the bytes and the inbound record closes with it.
   */
  async local(source: WorkloadView, sourceAddr: Endpoint, target: Endpoint): Promise<{ upstream: net.Socket; finish: (error?: string) => void }> {
    const peerIdentity = identityOf(source);
    const admission = admitHbone(this.#o.state(), { peerIdentity, source: sourceAddr, target });
    const info = this.#info(admission, sourceAddr, target, peerIdentity, true);
    if (!admission.allowed) {
      this.#o.connections.refused(info, admission.error.message);
      throw admission.error;
    }
    let upstream: net.Socket;
    try {
      upstream = await connectTcp(target, this.#o.connectTimeoutMs);
    } catch (err) {
      this.#o.connections.refused(info, (err as Error).message);
      throw err;
    }
    const done = this.#o.connections.open(info, [upstream], { workload: admission.workload, facts: admission.facts });
    return { upstream, finish: (error) => done(upstream, error) };
  }

  #carry(info: ConnectionInfo, downstream: Duplex, upstream: net.Socket, admission: Admission & { allowed: true }): void {
    const done = this.#o.connections.open(info, [downstream, upstream], { workload: admission.workload, facts: admission.facts });
    splice(downstream, upstream, (r) => done(upstream, r.error?.message));
  }

  /** Policy changed: close every open inbound connection it no longer allows. */
  recheckAll(): void {
    const state = this.#o.state();
    for (const c of this.#o.connections.list()) {
      if (!c.policy) continue;
      const decision = recheck(state, c.policy.workload, c.policy.facts);
      if (decision.allowed) continue;
      const why = `closed after a policy change: ${decision.reason}${decision.policy ? ` ${decision.policy}` : ""}`;
      this.#o.log.info("connection closed by policy", { "src.addr": formatEndpoint(c.info.src.addr), "dst.addr": formatEndpoint(c.info.dstAddr), reason: why });
      for (const s of c.streams) s.destroy(new Error(why));
    }
  }
}

/** Refuse a captured TCP connection the way ztunnel does: a reset, so clients see it at once. */
export function resetSocket(socket: Duplex): void {
  const s = socket as Duplex & { resetAndDestroy?: () => void };
  if (typeof s.resetAndDestroy === "function") s.resetAndDestroy();
  else socket.destroy();
}
