/**
 * Starting and stopping the control plane: open the store, serve the API. Returns what was
 * actually bound (ports may be 0 in tests) and a close() that drains: stop accepting, let
 * in-flight requests finish, then close the store.
 */
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { MeshError } from "../errors/mesh-error.ts";
import type { HostPort } from "../cli/host-port.ts";
import type { RuntimePort, SocketAddress } from "../runtime/port.ts";
import type { LogControl } from "../telemetry/log.ts";
import { MetricsRegistry } from "../telemetry/metrics.ts";
import { loadOrCreateAdminToken } from "./api/admin-token.ts";
import { createApiApp } from "./api/app.ts";
import { createEtcdStore } from "./store/etcd-store.ts";
import { createSqliteStore } from "./store/sqlite-store.ts";
import type { ConfigStore } from "./store/store.ts";

export interface ControlPlaneConfig {
  readonly dataDir: string;
  readonly store: { readonly backend: "sqlite" } | { readonly backend: "etcd"; readonly endpoints: readonly string[]; readonly prefix?: string };
  readonly api: HostPort;
  readonly adminTokenFile: string;
  readonly trustDomain: string;
}

export interface RunningControlPlane {
  readonly apiAddress: SocketAddress;
  readonly adminToken: string;
  readonly store: ConfigStore;
  close(): Promise<void>;
}

function openStore(config: ControlPlaneConfig, rt: RuntimePort): ConfigStore {
  if (config.store.backend === "etcd") {
    if (config.store.endpoints.length === 0) throw new MeshError("invalid_argument", "--store etcd needs --etcd-endpoints");
    return createEtcdStore({ endpoints: config.store.endpoints, ...(config.store.prefix ? { prefix: config.store.prefix } : {}) });
  }
  return createSqliteStore({ db: rt.openDatabase(join(config.dataDir, "store.db")) });
}

export async function startControlPlane(config: ControlPlaneConfig, rt: RuntimePort, logs: LogControl): Promise<RunningControlPlane> {
  const log = logs.logger("controlplane");
  mkdirSync(config.dataDir, { recursive: true, mode: 0o700 });
  const adminToken = loadOrCreateAdminToken(config.adminTokenFile);
  const store = openStore(config, rt);
  const metrics = new MetricsRegistry();
  const app = createApiApp({
    store,
    adminToken,
    metrics,
    log: logs.logger("api"),
    ready: async () => {
      try {
        await store.list({ kind: "Namespace" });
        return true;
      } catch {
        return false;
      }
    },
  });
  let server;
  try {
    server = await rt.serveHttp({ host: config.api.host, port: config.api.port }, (req) => app.fetch(req));
  } catch (err) {
    await store.close();
    throw new MeshError("unavailable", `cannot listen on ${config.api.host}:${config.api.port}: ${(err as Error).message}`, { cause: err });
  }
  log.info("control plane started", { api: `${server.address.address}:${server.address.port}`, store: store.backend, dataDir: config.dataDir });
  return {
    apiAddress: server.address,
    adminToken,
    store,
    close: async () => {
      await server.close();
      await store.close();
      log.info("control plane stopped");
    },
  };
}
