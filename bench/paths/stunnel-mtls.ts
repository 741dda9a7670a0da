/**
 * A stunnel4 pair with mutual TLS 1.3 between them: load tool → client-side stunnel (plaintext,
 * loopback) → server-side stunnel (mTLS) → target (plaintext). The classic sidecar-style
 * baseline the mesh's own encrypted paths are compared with.
 */
import { freePort } from "../lib/net.ts";
import { startStunnel } from "../tools/stunnel.ts";
import type { TrafficPath } from "./path.ts";

export const stunnelMtls: TrafficPath = {
  name: "stunnel-mtls",
  description: "two stunnel4 processes, plaintext in and out, mutual TLS 1.3 (ECDSA P-256) between them",
  tools: ["stunnel", "openssl"],
  async start(ctx, target) {
    const certs = await ctx.certs();
    const tlsPort = await freePort(target.host);
    const plainPort = await freePort(target.host);
    const server = await startStunnel(ctx.scope, { name: "stunnel-server", dir: ctx.dir, role: "server", accept: tlsPort, connect: target, certs });
    const client = await startStunnel(ctx.scope, { name: "stunnel-client", dir: ctx.dir, role: "client", accept: plainPort, connect: tlsPort, certs });
    return { address: plainPort, cpuGroups: [server.pid, client.pid] };
  },
};
