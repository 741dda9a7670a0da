/** `mesh ztunnel`: the per-node L4 proxy. */
import { parseHostPort, type HostPort } from "../../util/host-port.ts";
import { startZtunnel, type CaptureMode } from "../../ztunnel/ztunnel.ts";
import type { Command } from "../command.ts";
import { controlPlaneConnection, proxyEndpoints } from "../proxy-options.ts";
import { runUntilSignal } from "../wait-for-signal.ts";

/** "IP", "IP:PORT", "IPv6" or "[IPv6]:PORT"; port 53 when absent. */
function parseDnsUpstream(text: string): HostPort {
  if (text.startsWith("[")) return parseHostPort(text);
  const colons = text.split(":").length - 1;
  if (colons === 1) return parseHostPort(text);
  return { host: text, port: 53 };
}

export const ztunnelCommand: Command = {
  name: "ztunnel",
  summary: "run the per-node L4 proxy: capture, HBONE tunnels with workload mTLS, L4 policy",
  options: [
    { name: "node", type: "string", arg: "NAME", required: true, description: "the node this ztunnel serves (workloads bound to it are proxied)" },
    { name: "control-plane", type: "address", arg: "HOST:PORT", required: true, description: "control plane xDS and CA address, HOST:PORT" },
    { name: "control-plane-ca", type: "string", arg: "FILE", description: "PEM roots to verify the control plane's TLS certificate (without it: plaintext h2c, development only)" },
    { name: "token-file", type: "string", arg: "FILE", required: true, description: "node token (mesh token create --node NAME); re-read on every reconnect" },
    { name: "capture", type: "enum", values: ["iptables", "socks5"], default: "socks5", description: "how workload traffic reaches the ztunnel: iptables REDIRECT (Linux, root) or explicit SOCKS5" },
    { name: "data-dir", type: "string", arg: "DIR", default: "./ztunnel-data", description: "where the last good xDS config is persisted" },
    { name: "outbound-address", type: "address", arg: "HOST:PORT", default: "0.0.0.0:15001", description: "outbound capture listener (iptables mode)" },
    { name: "inbound-plaintext-address", type: "address", arg: "HOST:PORT", default: "0.0.0.0:15006", description: "plaintext inbound capture listener (iptables mode)" },
    { name: "hbone-address", type: "address", arg: "HOST:PORT", default: "0.0.0.0:15008", description: "HBONE listener (iptables mode; in socks5 mode each local workload's address gets one on this port)" },
    { name: "socks5-address", type: "address", arg: "HOST:PORT", default: "127.0.0.1:15080", description: "SOCKS5 listener (socks5 mode)" },
    { name: "dns-address", type: "address", arg: "HOST:PORT", default: "127.0.0.1:15053", description: "DNS proxy: mesh hostnames answered with service VIPs, the rest forwarded" },
    { name: "no-dns", type: "bool", description: "do not run the DNS proxy" },
    { name: "admin-address", type: "address", arg: "HOST:PORT", default: "127.0.0.1:15000", description: "admin endpoint: config dump, connections, certificates, log level" },
    { name: "metrics-address", type: "address", arg: "HOST:PORT", default: "0.0.0.0:15020", description: "Prometheus metrics" },
    { name: "readiness-address", type: "address", arg: "HOST:PORT", default: "0.0.0.0:15021", description: "readiness (/healthz/ready)" },
    { name: "hbone-port", type: "int", default: "15008", description: "HBONE port of the other ztunnels" },
    { name: "drain-timeout", type: "duration", default: "5s", description: "on SIGTERM, how long open connections may take to finish" },
    { name: "connect-timeout", type: "duration", default: "5s", description: "deadline to reach an upstream or a peer ztunnel" },
    { name: "dns-upstreams", type: "list", arg: "ADDRS", description: "DNS servers (IP:PORT, comma-separated) for non-mesh names; default: /etc/resolv.conf" },
    { name: "iptables-chain", type: "string", arg: "NAME", description: "nat and raw chain for capture and anti-spoofing rules (default MESH_ZTUNNEL_PREROUTING)" },
    {
      name: "allow-unbound-interfaces",
      type: "bool",
      description: "iptables mode: capture workloads without spec.hostInterface by source address alone (any local workload can then take their identity; see docs/security.md)",
    },
    { name: "passthrough-deny", type: "list", arg: "CIDRS", description: "addresses or CIDR blocks (comma-separated) workload passthrough may never reach, besides this node and the control plane (always refused), e.g. etcd or 169.254.169.254/32" },
  ],
  run: async ({ rt, options, logs }) => {
    const upstreams = options["dns-upstreams"] as string[] | undefined;
    const passthroughDeny = options["passthrough-deny"] as string[] | undefined;
    const drainMs = options["drain-timeout"] as number;
    const running = await startZtunnel(
      {
        node: options.node as string,
        ...controlPlaneConnection(options),
        capture: options.capture as CaptureMode,
        dataDir: options["data-dir"] as string,
        listen: {
          outbound: parseHostPort(options["outbound-address"] as string),
          inboundPlaintext: parseHostPort(options["inbound-plaintext-address"] as string),
          hbone: parseHostPort(options["hbone-address"] as string),
          socks5: parseHostPort(options["socks5-address"] as string),
          dns: options["no-dns"] ? null : parseHostPort(options["dns-address"] as string),
          ...proxyEndpoints(options),
        },
        hbonePort: options["hbone-port"] as number,
        drainTimeoutMs: drainMs,
        connectTimeoutMs: options["connect-timeout"] as number,
        ...(upstreams ? { dnsUpstreams: upstreams.map(parseDnsUpstream) } : {}),
        ...(options["iptables-chain"] ? { iptablesChain: options["iptables-chain"] as string } : {}),
        ...(passthroughDeny ? { passthroughDeny } : {}),
        allowUnboundInterfaces: options["allow-unbound-interfaces"] === true,
      },
      rt,
      logs,
    );
    return runUntilSignal(rt, logs.logger("ztunnel"), () => running.drain(drainMs), drainMs + 5_000);
  },
};
