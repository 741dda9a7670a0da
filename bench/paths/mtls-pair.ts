/**
 * A pair of conventional proxies with mutual TLS 1.3 between them: load tool → client-side proxy
 * (plaintext) → server-side proxy (mTLS) → target (plaintext). The sidecar-style baselines the
 * mesh's own encrypted paths are compared with, each made by one of two daemons:
 *
 *   stunnel4  one thread per connection;
 *   haproxy   one event-loop thread (mode tcp), the best-known C proxy.
 *
 * Each gives two paths:
 *   <daemon>-mtls        both proxies on loopback in this namespace;
 *   netns-<daemon>-mtls  on the netns testbed, where the ztunnels would be: the client side in
 *                        node-1 (listening on the sleep workload's gateway address), the server
 *                        side in node-2 (on its LAN address), so the TLS crosses the LAN bridge.
 */
import type { CertSet } from "../lib/certs.ts";
import type { Endpoint } from "../lib/net.ts";
import type { Place } from "../lib/place.ts";
import type { Daemon } from "../lib/process.ts";
import type { Scope } from "../lib/scope.ts";
import type { NetnsTestbed } from "../lib/testbed.ts";
import { netnsUnavailable } from "../lib/testbed.ts";
import { startHaproxy } from "../tools/haproxy.ts";
import { startStunnel, type StunnelOptions } from "../tools/stunnel.ts";
import type { PathSetup, ProxyProcess, TrafficPath } from "./path.ts";

/** One side of a pair: what stunnel's wrapper takes (client: plaintext in, TLS out; server: TLS in, plaintext out). */
type SideOptions = StunnelOptions;

interface PairDaemon {
  readonly name: string;
  /** What one side is, for the path descriptions. */
  readonly what: string;
  readonly tools: readonly string[];
  start(scope: Scope, o: SideOptions): Promise<Daemon>;
}

/** Both daemons hold the accepted and the outgoing socket of each connection. */
const FDS_PER_CONNECTION = 2;

const STUNNEL: PairDaemon = { name: "stunnel", what: "stunnel4 processes", tools: ["stunnel"], start: startStunnel };

const HAPROXY: PairDaemon = {
  name: "haproxy",
  what: "haproxy processes (mode tcp, 1 thread)",
  tools: ["haproxy"],
  start: (scope, o) => startHaproxy(scope, { name: o.name, dir: o.dir, accept: o.accept, connect: o.connect, place: o.place, tls: { role: o.role, certs: o.certs } }),
};

const proxy = (side: ProxyProcess["side"], pid: number): ProxyProcess => ({ side, pgid: pid, pid: () => pid, fdsPerConnection: FDS_PER_CONNECTION });

function pairPaths(d: PairDaemon): readonly [TrafficPath, TrafficPath] {
  const start = async (scope: Scope, dir: string, certs: CertSet, tls: Endpoint, plain: Endpoint, target: Endpoint, places: { client?: Place; server?: Place }): Promise<PathSetup> => {
    const server = await d.start(scope, { name: `${d.name}-server`, dir, role: "server", accept: tls, connect: target, certs, place: places.server });
    const client = await d.start(scope, { name: `${d.name}-client`, dir, role: "client", accept: plain, connect: tls, certs, place: places.client });
    return { address: plain, cpuGroups: [server.pid, client.pid], proxies: [proxy("client", client.pid), proxy("server", server.pid)] };
  };
  const loopback: TrafficPath = {
    name: `${d.name}-mtls`,
    description: `two ${d.what}, plaintext in and out, mutual TLS 1.3 (ECDSA P-256) between them`,
    tools: [...d.tools, "openssl"],
    async start(ctx, target) {
      const certs = await ctx.certs();
      const place = ctx.testbed.client;
      const tls = await place.freePort();
      const plain = await place.freePort();
      return start(ctx.scope, ctx.dir, certs, tls, plain, target, {});
    },
  };
  const netns: TrafficPath = {
    name: `netns-${d.name}-mtls`,
    description: `the ${d.name} pair on the netns testbed: client side in node-1, server side in node-2, mutual TLS 1.3 across the LAN`,
    tools: [...d.tools, "openssl", "ip"],
    testbed: "netns",
    unavailable: netnsUnavailable,
    async start(ctx, target): Promise<PathSetup> {
      const bed = ctx.testbed as NetnsTestbed;
      const certs = await ctx.certs();
      const node1 = bed.place("node-1");
      const node2 = bed.place("node-2");
      const tls: Endpoint = { host: node2.address, port: (await node2.freePort()).port };
      const plain: Endpoint = { host: bed.topology.node("node-1").gateway, port: (await node1.freePort()).port };
      return start(ctx.scope, ctx.dir, certs, tls, plain, target, { client: node1, server: node2 });
    },
  };
  return [loopback, netns];
}

export const [stunnelMtls, netnsStunnelMtls] = pairPaths(STUNNEL);
export const [haproxyMtls, netnsHaproxyMtls] = pairPaths(HAPROXY);
