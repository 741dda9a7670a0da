/**
 * One plaintext user-space hop: haproxy relaying TCP (one thread), no TLS. It is not a mesh
 * design; it shows what the machine charges for any single proxy process in the path — the
 * wake-ups, copies and scheduling every proxy pays — so the mesh's and stunnel's figures can be
 * read against that floor.
 *
 *   haproxy-tcp        on loopback in this namespace.
 *   netns-haproxy-tcp  on the netns testbed, in node-1 on the sleep workload's gateway address,
 *                      forwarding across the LAN to productpage.
 */
import type { Endpoint } from "../lib/net.ts";
import type { NetnsTestbed } from "../lib/testbed.ts";
import { netnsUnavailable } from "../lib/testbed.ts";
import { startHaproxy } from "../tools/haproxy.ts";
import type { PathSetup, TrafficPath } from "./path.ts";

/** The accepted and the outgoing socket of each connection. */
const FDS_PER_CONNECTION = 2;

export const haproxyTcp: TrafficPath = {
  name: "haproxy-tcp",
  description: "one haproxy (mode tcp, 1 thread) relaying plaintext on loopback: the cost of one user-space hop",
  tools: ["haproxy"],
  async start(ctx, target): Promise<PathSetup> {
    const accept = await ctx.testbed.client.freePort();
    const daemon = await startHaproxy(ctx.scope, { name: "haproxy", dir: ctx.dir, accept, connect: target });
    return { address: accept, cpuGroups: [daemon.pid], proxies: [{ side: "client", pgid: daemon.pid, pid: () => daemon.pid, fdsPerConnection: FDS_PER_CONNECTION }] };
  },
};

export const netnsHaproxyTcp: TrafficPath = {
  name: "netns-haproxy-tcp",
  description: "one haproxy (mode tcp, 1 thread) in node-1 relaying plaintext from sleep across the LAN to productpage: the cost of one user-space hop",
  tools: ["haproxy", "ip"],
  testbed: "netns",
  unavailable: netnsUnavailable,
  async start(ctx, target): Promise<PathSetup> {
    const bed = ctx.testbed as NetnsTestbed;
    const node1 = bed.place("node-1");
    const accept: Endpoint = { host: bed.topology.node("node-1").gateway, port: (await node1.freePort()).port };
    const daemon = await startHaproxy(ctx.scope, { name: "haproxy", dir: ctx.dir, accept, connect: target, place: node1 });
    // The leader is `ip netns exec`, which execs haproxy: same pid.
    return { address: accept, cpuGroups: [daemon.pid], proxies: [{ side: "client", pgid: daemon.pid, pid: () => daemon.pid, fdsPerConnection: FDS_PER_CONNECTION }] };
  },
};
