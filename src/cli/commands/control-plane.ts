/** `mesh control-plane`: config store, certificate authority, xDS server, REST API. */
import type { Command } from "../command.ts";
import { notBuiltYet } from "../not-built.ts";

export const controlPlaneCommand: Command = {
  name: "control-plane",
  summary: "run the control plane: config store, certificate authority, xDS over Connect-RPC, REST API",
  options: [
    { name: "data-dir", type: "string", arg: "DIR", default: "./mesh-data", description: "where the SQLite store, the CA root and state live" },
    { name: "store", type: "enum", values: ["sqlite", "etcd"], default: "sqlite", description: "config store backend" },
    { name: "etcd-endpoints", type: "list", arg: "URLS", description: "etcd client URLs, comma-separated (with --store etcd)" },
    { name: "trust-domain", type: "string", default: "cluster.local", description: "SPIFFE trust domain of workload identities" },
    { name: "xds-address", type: "address", default: "0.0.0.0:15012", description: "xDS and CA listener (Connect-RPC, gRPC; HTTP/2 over TLS)" },
    { name: "api-address", type: "address", default: "0.0.0.0:15014", description: "REST API, dashboard and metrics listener" },
  ],
  run: notBuiltYet("mesh control-plane", "the control-plane issue"),
};
