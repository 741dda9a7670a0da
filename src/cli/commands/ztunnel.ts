/** `mesh ztunnel`: the per-node L4 proxy. */
import type { Command } from "../command.ts";
import { notBuiltYet } from "../not-built.ts";

export const ztunnelCommand: Command = {
  name: "ztunnel",
  summary: "run the per-node L4 proxy: capture, HBONE tunnels with workload mTLS, L4 policy",
  options: [
    { name: "node", type: "string", arg: "NAME", required: true, description: "the node this ztunnel serves (workloads bound to it are proxied)" },
    { name: "control-plane", type: "address", arg: "HOST:PORT", required: true, description: "control plane xDS address, HOST:PORT" },
    { name: "token-file", type: "string", arg: "FILE", required: true, description: "node token (mesh token create --node NAME)" },
    { name: "capture", type: "enum", values: ["iptables", "socks5"], default: "socks5", description: "how workload traffic reaches the ztunnel" },
    { name: "data-dir", type: "string", arg: "DIR", default: "./ztunnel-data", description: "where the last good xDS config is persisted" },
  ],
  run: notBuiltYet("mesh ztunnel", "the ztunnel issue"),
};
