/**
 * L7 proxies over plain TCP, the baselines of the waypoint: one HTTP/1.1 proxy process in node-1,
 * listening on the sleep workload's gateway address, parsing every request and carrying it across
 * the LAN to productpage over kept-alive upstream connections. No TLS, no identity: what a mature
 * C proxy charges for HTTP per request, to read the waypoint's figures against.
 *
 *   netns-haproxy-http  haproxy, mode http, one thread.
 *   netns-nginx-http    nginx, proxy_pass with an upstream keepalive pool, one worker.
 */
import type { Endpoint } from "../lib/net.ts";
import type { NetnsTestbed } from "../lib/testbed.ts";
import { netnsUnavailable } from "../lib/testbed.ts";
import { startHaproxy } from "../tools/haproxy.ts";
import { startNginxDaemon } from "../tools/nginx.ts";
import type { PathSetup, TrafficPath } from "./path.ts";

/** The accepted and the outgoing socket of each connection. */
const FDS_PER_CONNECTION = 2;

async function acceptOnNode1(bed: NetnsTestbed): Promise<Endpoint> {
  return { host: bed.topology.node("node-1").gateway, port: (await bed.place("node-1").freePort()).port };
}

const setup = (address: Endpoint, pgid: number): PathSetup => ({
  address,
  cpuGroups: [pgid],
  proxies: [{ side: "client", pgid, pid: () => pgid, fdsPerConnection: FDS_PER_CONNECTION }],
});

export const netnsHaproxyHttp: TrafficPath = {
  name: "netns-haproxy-http",
  description: "haproxy (mode http, 1 thread) in node-1 proxying HTTP/1.1 from sleep across the LAN to productpage, plain TCP",
  tools: ["haproxy", "ip"],
  testbed: "netns",
  optIn: true,
  unavailable: netnsUnavailable,
  async start(ctx, target) {
    const bed = ctx.testbed as NetnsTestbed;
    const accept = await acceptOnNode1(bed);
    const daemon = await startHaproxy(ctx.scope, { name: "haproxy", dir: ctx.dir, accept, connect: target, place: bed.place("node-1"), mode: "http" });
    return setup(accept, daemon.pid);
  },
};

export const netnsNginxHttp: TrafficPath = {
  name: "netns-nginx-http",
  description: "nginx (proxy_pass, upstream keepalive, 1 worker) in node-1 proxying HTTP/1.1 from sleep across the LAN to productpage, plain TCP",
  tools: ["nginx", "ip"],
  testbed: "netns",
  optIn: true,
  unavailable: netnsUnavailable,
  async start(ctx, target) {
    const bed = ctx.testbed as NetnsTestbed;
    const node1 = bed.place("node-1");
    const { endpoint, daemon } = await startNginxDaemon(ctx.scope, ctx.dir, { bodyBytes: 0, workers: 1, place: node1, proxyTo: target });
    return setup(endpoint, daemon.pid);
  },
};
