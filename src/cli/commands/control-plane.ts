/** `mesh control-plane`: config store, certificate authority, xDS server, REST API. */
import { join } from "node:path";
import { startControlPlane } from "../../controlplane/server.ts";
import type { Command } from "../command.ts";
import { parseHostPort } from "../host-port.ts";
import { runUntilSignal } from "../wait-for-signal.ts";

export const controlPlaneCommand: Command = {
  name: "control-plane",
  summary: "run the control plane: config store, certificate authority, xDS over Connect-RPC, REST API",
  options: [
    { name: "data-dir", type: "string", arg: "DIR", default: "./mesh-data", description: "where the SQLite store, the admin token, the CA root and state live" },
    { name: "store", type: "enum", values: ["sqlite", "etcd"], default: "sqlite", description: "config store backend" },
    { name: "etcd-endpoints", type: "list", arg: "URLS", description: "etcd client URLs, comma-separated (with --store etcd)" },
    { name: "etcd-prefix", type: "string", arg: "PREFIX", default: "/mesh", description: "key prefix in etcd (several meshes can share one etcd)" },
    { name: "trust-domain", type: "string", default: "cluster.local", description: "SPIFFE trust domain of workload identities" },
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
        adminTokenFile: (options["admin-token-file"] as string | undefined) ?? join(dataDir, "admin-token"),
        trustDomain: options["trust-domain"] as string,
      },
      rt,
      logs,
    );
    return runUntilSignal(rt, logs.logger("controlplane"), running.close);
  },
};
