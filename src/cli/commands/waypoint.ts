/**
 * `mesh waypoint`: the L7 proxy for one Gateway of class istio-waypoint, run with its flags and no
 * verb (`mesh waypoint --gateway NS/NAME …`, so its required flags are checked only then); the
 * verbs apply, list, status and delete manage waypoints through the API (waypoint-manage.ts).
 */
import { readFileSync } from "node:fs";
import { MeshError } from "../../errors/mesh-error.ts";
import { canonicalIp } from "../../net/ip.ts";
import { startWaypoint } from "../../waypoint/waypoint.ts";
import type { Command } from "../command.ts";
import { controlPlaneConnection, proxyEndpoints } from "../proxy-options.ts";
import { runUntilSignal } from "../wait-for-signal.ts";
import { WAYPOINT_SUBCOMMANDS } from "./waypoint-manage.ts";

function parseGateway(text: string): { namespace: string; name: string } {
  const parts = text.split("/");
  if (parts.length !== 2 || !parts[0] || !parts[1]) throw new MeshError("invalid_argument", `--gateway ${JSON.stringify(text)}: give NAMESPACE/NAME`, { detail: { path: "--gateway" } });
  return { namespace: parts[0], name: parts[1] };
}

function jwksCa(file: string | undefined): { jwksCa?: string } {
  if (file === undefined) return {};
  try {
    return { jwksCa: readFileSync(file, "utf8") };
  } catch (err) {
    throw new MeshError("invalid_argument", `--jwks-ca-file ${file}: ${(err as Error).message}`, { detail: { path: "--jwks-ca-file" } });
  }
}

export const waypointCommand: Command = {
  name: "waypoint",
  summary: "run an L7 waypoint proxy for a Gateway of class istio-waypoint; apply, list, status, delete manage waypoints",
  subcommands: WAYPOINT_SUBCOMMANDS,
  options: [
    { name: "gateway", type: "string", arg: "NS/NAME", required: true, description: "the Gateway resource this waypoint serves" },
    { name: "node", type: "string", arg: "NAME", required: true, description: "the node this replica runs on (its WorkloadEntry's spec.node)" },
    { name: "control-plane", type: "address", arg: "HOST:PORT", required: true, description: "control plane xDS and CA address, HOST:PORT" },
    { name: "control-plane-ca", type: "string", arg: "FILE", description: "PEM roots to verify the control plane's TLS certificate (without it: plaintext h2c, development only)" },
    { name: "token-file", type: "string", arg: "FILE", required: true, description: "waypoint token (mesh token create --waypoint NS/NAME) or node token; re-read on every reconnect" },
    { name: "address", type: "string", arg: "IP", description: "which replica this is, when several of the Gateway's replicas run on the node" },
    { name: "data-dir", type: "string", arg: "DIR", default: "./waypoint-data", description: "where the last good xDS config is persisted" },
    { name: "admin-address", type: "address", arg: "HOST:PORT", default: "127.0.0.1:15000", description: "admin endpoint: config dump, log level" },
    { name: "metrics-address", type: "address", arg: "HOST:PORT", default: "0.0.0.0:15020", description: "Prometheus metrics" },
    { name: "readiness-address", type: "address", arg: "HOST:PORT", default: "0.0.0.0:15021", description: "readiness (/healthz/ready)" },
    { name: "hbone-port", type: "int", default: "15008", description: "HBONE port of the ztunnels (upstream tunnels)" },
    { name: "drain-timeout", type: "duration", default: "5s", description: "on SIGTERM, how long open requests and tunnels may take to finish" },
    { name: "connect-timeout", type: "duration", default: "5s", description: "deadline to reach an upstream endpoint" },
    { name: "jwks-ca-file", type: "string", arg: "FILE", description: "PEM CA bundle trusted, besides the public roots, for RequestAuthentication jwksUri fetched over https" },
  ],
  run: async ({ rt, options, logs }) => {
    const addressText = options.address as string | undefined;
    const address = addressText === undefined ? undefined : canonicalIp(addressText);
    if (address === null) throw new MeshError("invalid_argument", `--address ${JSON.stringify(addressText)} is not an IP address`, { detail: { path: "--address" } });
    const drainMs = options["drain-timeout"] as number;
    const running = await startWaypoint(
      {
        gateway: parseGateway(options.gateway as string),
        node: options.node as string,
        ...controlPlaneConnection(options),
        dataDir: options["data-dir"] as string,
        ...(address ? { address } : {}),
        listen: proxyEndpoints(options),
        hbonePort: options["hbone-port"] as number,
        drainTimeoutMs: drainMs,
        connectTimeoutMs: options["connect-timeout"] as number,
        ...jwksCa(options["jwks-ca-file"] as string | undefined),
      },
      rt,
      logs,
    );
    return runUntilSignal(rt, logs.logger("waypoint"), () => running.drain(drainMs), drainMs + 5_000);
  },
};
