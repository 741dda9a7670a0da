/** Small helpers both adapters share: address conversion, server close, environment filtering. */
import type net from "node:net";
import type { SocketAddress } from "./port.ts";

export function socketAddress(family: string | number | undefined, address: string | undefined, port: number | undefined): SocketAddress {
  const six = family === "IPv6" || family === 6 || (address ?? "").includes(":");
  return { family: six ? 6 : 4, address: address ?? "", port: port ?? 0 };
}

export function closeServer(server: net.Server): Promise<void> {
  return new Promise((resolve) => server.close(() => resolve()));
}

export function envWithPrefix(env: NodeJS.ProcessEnv, prefix: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(env)) if (k.startsWith(prefix) && v !== undefined) out[k] = v;
  return out;
}
