/**
 * The waypoint's upstream connections, per hop (endpoint and the identity it must prove), over
 * HBONE tunnels opened from the shared pool as the waypoint's own identity — or plain TCP to an
 * endpoint outside the mesh:
 * - HTTP/1.1: one keep-alive node:http Agent per hop, connections reused across requests;
 * - HTTP/2 (h2c inside the tunnel): one session per hop, shared by all its requests; a session
 *   that is closing (GOAWAY, error, close) is forgotten at once and the next request opens another.
 * The tunnels share the pool's mTLS HTTP/2 connections. Hops whose endpoint left the mesh are
 * closed when the workloads change (prune).
 */
import http from "node:http";
import http2 from "node:http2";
import type { Duplex } from "node:stream";
import type { ClientCredentials, HbonePool } from "../hbone/client.ts";
import { newTraceparent } from "../hbone/headers.ts";
import { connectTcp } from "../net/connect.ts";
import { formatEndpoint, type Endpoint } from "../net/endpoint.ts";
import { baggageOf } from "../state/baggage.ts";
import { identityOf, type MeshState } from "../state/mesh-state.ts";
import type { WorkloadView } from "../state/view.ts";
import { asHttpSocket } from "./http-socket.ts";
import { OutlierDetector } from "./outlier.ts";
import type { UpstreamHop } from "./upstream-plan.ts";

export interface UpstreamOptions {
  readonly pool: HbonePool;
  /** The waypoint's own credentials (its replica's identity). */
  readonly credentials: () => Promise<ClientCredentials>;
  /** The waypoint's replica: its address is the tunnels' source, its labels their baggage. */
  readonly self: () => { readonly workload: WorkloadView; readonly address: Endpoint };
  readonly connectTimeoutMs: number;
  /** Idle upstream HTTP connections kept per hop. */
  readonly maxIdlePerHop?: number;
}

/** The error code of a connection that never reached its hop (nothing of a request was sent on it). */
export const UPSTREAM_CONNECT_FAILED = "MESH_UPSTREAM_CONNECT_FAILED";

const hopKey = (hop: UpstreamHop) => (hop.hbone ? `${hop.hbone.identity}|${formatEndpoint(hop.hbone.address)}|${formatEndpoint(hop.target)}` : `tcp|${formatEndpoint(hop.target)}`);

export class Upstream {
  readonly #o: UpstreamOptions;
  readonly #agents = new Map<string, http.Agent>();
  readonly #sessions = new Map<string, Promise<http2.ClientHttp2Session>>();
  /** Endpoints that keep failing, moved to the end of every order (outlier.ts). */
  readonly outliers = new OutlierDetector();
  /** The hop behind each key of the two maps above, for pruning. */
  readonly #hops = new Map<string, UpstreamHop>();

  constructor(options: UpstreamOptions) {
    this.#o = options;
  }

  /** The agent whose connections reach this hop. */
  agentFor(hop: UpstreamHop): http.Agent {
    const key = hopKey(hop);
    let agent = this.#agents.get(key);
    if (!agent) {
      agent = new http.Agent({ keepAlive: true, maxFreeSockets: this.#o.maxIdlePerHop ?? 64 });
      const open = () => this.#open(hop);
      // node:http calls createConnection(options, callback); an async connection reports through the callback.
      (agent as unknown as { createConnection: (o: unknown, cb: (err: Error | null, s?: Duplex) => void) => undefined }).createConnection = (_o, cb) => {
        open().then(
          (s) => cb(null, s),
          (err: Error) => cb(Object.assign(new Error(err.message, { cause: err }), { code: UPSTREAM_CONNECT_FAILED })),
        );
        return undefined;
      };
      this.#agents.set(key, agent);
      this.#hops.set(key, hop);
    }
    return agent;
  }

  /** The HTTP/2 session to this hop (opened on first use). Rejects with UPSTREAM_CONNECT_FAILED when the hop cannot be reached. */
  sessionFor(hop: UpstreamHop): Promise<http2.ClientHttp2Session> {
    const key = hopKey(hop);
    let session = this.#sessions.get(key);
    if (!session) {
      session = this.#open(hop).then(
        (stream) => {
          const s = http2.connect(`http://${formatEndpoint(hop.target)}`, { createConnection: () => stream });
          const forget = () => {
            if (this.#sessions.get(key) === session) this.#sessions.delete(key);
          };
          s.once("goaway", forget);
          s.once("close", forget);
          // A failed session fails its open streams (they report it); it must not crash the proxy.
          s.on("error", forget);
          return s;
        },
        (err: Error) => {
          this.#sessions.delete(key);
          throw Object.assign(new Error(err.message, { cause: err }), { code: UPSTREAM_CONNECT_FAILED });
        },
      );
      this.#sessions.set(key, session);
      this.#hops.set(key, hop);
    }
    return session;
  }

  async #open(hop: UpstreamHop): Promise<Duplex> {
    if (!hop.hbone) return connectTcp(hop.target, this.#o.connectTimeoutMs);
    const self = this.#o.self();
    const stream = await this.#o.pool.open(await this.#o.credentials(), {
      hbone: hop.hbone.address,
      expectedIdentity: hop.hbone.identity,
      connect: { target: hop.target, source: self.address, baggage: baggageOf(self.workload), traceparent: newTraceparent() },
    });
    // A tunnel is half-open by default; an HTTP/1.1 connection is not. Once the endpoint has closed
    // its side (an idle keep-alive connection it timed out), close ours too, so the Agent drops the
    // connection instead of sending the next request into a tunnel the endpoint no longer reads.
    stream.once("end", () => stream.end());
    return asHttpSocket(stream);
  }

  /**
   * Close the agents and sessions of hops whose endpoint is no longer in the mesh (no workload at
   * that address, or one with another identity): called on every workload change, so a waypoint
   * that sees endpoints come and go holds connections only for the ones that exist.
   */
  prune(state: MeshState): void {
    this.outliers.keepOnly(new Set(state.workloads.flatMap((w) => w.addresses)));
    for (const [key, hop] of this.#hops) {
      const w = state.workloadAt(hop.target.address);
      if (w && (!hop.hbone || identityOf(w) === hop.hbone.identity)) continue;
      this.#hops.delete(key);
      this.#agents.get(key)?.destroy();
      this.#agents.delete(key);
      void this.#sessions.get(key)?.then((session) => session.close(), () => {});
      this.#sessions.delete(key);
    }
  }

  /** Hops with an agent or a session now (for the config dump). */
  get hops(): number {
    return this.#hops.size;
  }

  close(): void {
    for (const agent of this.#agents.values()) agent.destroy();
    this.#agents.clear();
    for (const session of this.#sessions.values()) session.then((s) => s.destroy(), () => {});
    this.#sessions.clear();
    this.#hops.clear();
  }
}
