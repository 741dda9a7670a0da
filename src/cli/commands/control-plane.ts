/** `mesh control-plane`: config store, certificate authority, xDS server, REST API. */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { MeshError } from "../../errors/mesh-error.ts";
import type { OptionValues } from "../options.ts";
import { startControlPlane } from "../../controlplane/server.ts";
import type { Command } from "../command.ts";
import { parseHostPort } from "../../util/host-port.ts";
import { runUntilSignal } from "../wait-for-signal.ts";

function xdsTls(options: OptionValues): { tls?: { cert: string; key: string } } {
  const cert = options["xds-tls-cert"] as string | undefined;
  const key = options["xds-tls-key"] as string | undefined;
  if (!cert && !key) return {};
  if (!cert || !key) throw new MeshError("invalid_argument", "--xds-tls-cert and --xds-tls-key go together", { detail: { path: cert ? "--xds-tls-key" : "--xds-tls-cert" } });
  const read = (file: string, flag: string) => {
    try {
      return readFileSync(file, "utf8");
    } catch (err) {
      throw new MeshError("invalid_argument", `${flag} ${file}: ${(err as Error).message}`, { detail: { path: flag } });
    }
  };
  return { tls: { cert: read(cert, "--xds-tls-cert"), key: read(key, "--xds-tls-key") } };
}

function pluginCa(options: OptionValues): { plugin?: { certFile: string; keyFile: string; chainFile?: string } } {
  const certFile = options["ca-cert"] as string | undefined;
  const keyFile = options["ca-key"] as string | undefined;
  const chainFile = options["ca-chain"] as string | undefined;
  if (!certFile && !keyFile && !chainFile) return {};
  if (!certFile || !keyFile) throw new MeshError("invalid_argument", "a plug-in CA needs both --ca-cert and --ca-key", { detail: { path: certFile ? "--ca-key" : "--ca-cert" } });
  return { plugin: { certFile, keyFile, ...(chainFile ? { chainFile } : {}) } };
}

export const controlPlaneCommand: Command = {
  name: "control-plane",
  summary: "run the control plane: config store, certificate authority, xDS over Connect-RPC, REST API",
  options: [
    { name: "data-dir", type: "string", arg: "DIR", default: "./mesh-data", description: "where the SQLite store, the admin token, the CA root and state live" },
    { name: "store", type: "enum", values: ["sqlite", "etcd"], default: "sqlite", description: "config store backend" },
    { name: "etcd-endpoints", type: "list", arg: "URLS", description: "etcd client URLs, comma-separated (with --store etcd)" },
    { name: "etcd-prefix", type: "string", arg: "PREFIX", default: "/mesh", description: "key prefix in etcd (several meshes can share one etcd)" },
    { name: "trust-domain", type: "string", default: "cluster.local", description: "SPIFFE trust domain of workload identities" },
    { name: "xds-address", type: "address", arg: "HOST:PORT", default: "0.0.0.0:15012", description: "xDS listener (gRPC and Connect over HTTP/2)" },
    { name: "xds-tls-cert", type: "string", arg: "FILE", description: "PEM certificate for the xDS listener (without it xDS is plaintext h2c: development only)" },
    { name: "xds-tls-key", type: "string", arg: "FILE", description: "PEM private key for --xds-tls-cert" },
    { name: "ca-cert", type: "string", arg: "FILE", description: "plug-in CA: the signing certificate (a root or an intermediate), PEM; without it a root is generated on first start" },
    { name: "ca-key", type: "string", arg: "FILE", description: "plug-in CA: its private key, PKCS#8 PEM" },
    { name: "ca-chain", type: "string", arg: "FILE", description: "plug-in CA: the certificates above --ca-cert up to the root (root last), PEM" },
    { name: "cert-ttl", type: "duration", default: "24h", description: "lifetime of workload certificates when the request names none" },
    { name: "max-cert-ttl", type: "duration", default: "168h", description: "longest workload certificate lifetime the CA signs" },
    { name: "api-address", type: "address", arg: "HOST:PORT", default: "0.0.0.0:15014", description: "REST API, health and metrics listener" },
    { name: "admin-token-file", type: "string", arg: "FILE", description: "admin token for the REST API; generated there on first start (default DATA-DIR/admin-token)" },
  ],
  run: async ({ rt, options, logs }) => {
    const dataDir = options["data-dir"] as string;
    const running = await startControlPlane(
      {
        dataDir,
        store:
          options.store === "etcd"
            ? { backend: "etcd", endpoints: (options["etcd-endpoints"] as string[] | undefined) ?? [], prefix: options["etcd-prefix"] as string }
            : { backend: "sqlite" },
        api: parseHostPort(options["api-address"] as string),
        xds: { ...parseHostPort(options["xds-address"] as string), ...xdsTls(options) },
        adminTokenFile: (options["admin-token-file"] as string | undefined) ?? join(dataDir, "admin-token"),
        trustDomain: options["trust-domain"] as string,
        ca: {
          ...pluginCa(options),
          defaultTtlMs: options["cert-ttl"] as number,
          maxTtlMs: options["max-cert-ttl"] as number,
        },
      },
      rt,
      logs,
    );
    return runUntilSignal(rt, logs.logger("controlplane"), running.close);
  },
};
