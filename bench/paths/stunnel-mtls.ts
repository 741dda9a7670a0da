/**
 * A stunnel4 pair with mutual TLS 1.3 between them: load tool → client-side stunnel (plaintext)
 * → server-side stunnel (mTLS) → target (plaintext). The classic sidecar-style baseline the mesh's
 * own encrypted paths are compared with.
 *
 *   stunnel-mtls        both stunnels on loopback in this namespace.
 *   netns-stunnel-mtls  on the netns testbed, where the ztunnels would be: the client side in
 *                       node-1 (listening on the sleep workload's gateway address), the server
 *                       side in node-2 (on its LAN address), so the TLS crosses the LAN bridge.
 */
import type { Endpoint } from "../lib/net.ts";
import type { NetnsTestbed } from "../lib/testbed.ts";
import { startStunnel } from "../tools/stunnel.ts";
import type { PathSetup, ProxyProcess, TrafficPath } from "./path.ts";
import { netnsUnavailable } from "../lib/testbed.ts";

/** stunnel (pthread model): the accepted and the outgoing socket of each connection. */
const FDS_PER_CONNECTION = 2;

const proxy = (side: ProxyProcess["side"], pid: number): ProxyProcess => ({ side, pgid: pid, pid: () => pid, fdsPerConnection: FDS_PER_CONNECTION });

export const stunnelMtls: TrafficPath = {
  name: "stunnel-mtls",
  description: "two stunnel4 processes, plaintext in and out, mutual TLS 1.3 (ECDSA P-256) between them",
  tools: ["stunnel", "openssl"],
  async start(ctx, target) {
    const certs = await ctx.certs();
    const place = ctx.testbed.client;
    const tlsPort = await place.freePort();
    const plainPort = await place.freePort();
    const server = await startStunnel(ctx.scope, { name: "stunnel-server", dir: ctx.dir, role: "server", accept: tlsPort, connect: target, certs });
    const client = await startStunnel(ctx.scope, { name: "stunnel-client", dir: ctx.dir, role: "client", accept: plainPort, connect: tlsPort, certs });
    return { address: plainPort, cpuGroups: [server.pid, client.pid], proxies: [proxy("client", client.pid), proxy("server", server.pid)] };
  },
};

export const netnsStunnelMtls: TrafficPath = {
  name: "netns-stunnel-mtls",
  description: "the stunnel4 pair on the netns testbed: client side in node-1, server side in node-2, mutual TLS 1.3 across the LAN",
  tools: ["stunnel", "openssl", "ip"],
  testbed: "netns",
  unavailable: netnsUnavailable,
  async start(ctx, target): Promise<PathSetup> {
    const bed = ctx.testbed as NetnsTestbed;
    const certs = await ctx.certs();
    const node1 = bed.place("node-1");
    const node2 = bed.place("node-2");
    const gateway = bed.topology.node("node-1").gateway;
    const tls: Endpoint = { host: node2.address, port: (await node2.freePort()).port };
    const plain: Endpoint = { host: gateway, port: (await node1.freePort()).port };
    const server = await startStunnel(ctx.scope, { name: "stunnel-server", dir: ctx.dir, role: "server", accept: tls, connect: target, certs, place: node2 });
    const client = await startStunnel(ctx.scope, { name: "stunnel-client", dir: ctx.dir, role: "client", accept: plain, connect: tls, certs, place: node1 });
    return { address: plain, cpuGroups: [server.pid, client.pid], proxies: [proxy("client", client.pid), proxy("server", server.pid)] };
  },
};
