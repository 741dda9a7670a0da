/**
 * What the proxy roles (ztunnel, waypoint) read the same way from their flags: how to reach the
 * control plane (address, its CA file, the token file) and where to serve admin, metrics and
 * readiness. One reading, so the two roles cannot drift apart.
 */
import { readFileSync } from "node:fs";
import { MeshError } from "../errors/mesh-error.ts";
import { tokenFromFile } from "../identity/ca-client.ts";
import { formatHostPort, parseHostPort, type HostPort } from "../util/host-port.ts";
import type { OptionValues } from "./options.ts";

export interface ControlPlaneConnection {
  /** http://host:port (h2c) or https://host:port when a CA file was given. */
  readonly controlPlane: string;
  readonly controlPlaneCa?: string;
  readonly token: () => string;
}

/** From --control-plane, --control-plane-ca and --token-file. */
export function controlPlaneConnection(options: OptionValues): ControlPlaneConnection {
  const caFile = options["control-plane-ca"] as string | undefined;
  let controlPlaneCa: string | undefined;
  if (caFile) {
    try {
      controlPlaneCa = readFileSync(caFile, "utf8");
    } catch (err) {
      throw new MeshError("invalid_argument", `--control-plane-ca ${caFile}: ${(err as Error).message}`, { detail: { path: "--control-plane-ca" } });
    }
  }
  return {
    controlPlane: `${controlPlaneCa ? "https" : "http"}://${formatHostPort(parseHostPort(options["control-plane"] as string, "127.0.0.1"))}`,
    ...(controlPlaneCa ? { controlPlaneCa } : {}),
    token: tokenFromFile(options["token-file"] as string),
  };
}

/** From --admin-address, --metrics-address and --readiness-address. */
export function proxyEndpoints(options: OptionValues): { readonly admin: HostPort; readonly metrics: HostPort; readonly readiness: HostPort } {
  return {
    admin: parseHostPort(options["admin-address"] as string),
    metrics: parseHostPort(options["metrics-address"] as string),
    readiness: parseHostPort(options["readiness-address"] as string),
  };
}
