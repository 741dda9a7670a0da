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
import { DEFAULT_TRANSLATE_OPTIONS } from "./translate/snapshot.ts";
import { startXdsListener, type XdsListener } from "./xds/listener.ts";
import { PushHub } from "./xds/push-hub.ts";

export interface ControlPlaneConfig {
  readonly dataDir: string;
  readonly store: { readonly backend: "sqlite" } | { readonly backend: "etcd"; readonly endpoints: readonly string[]; readonly prefix?: string };
  readonly api: HostPort;
  readonly xds: HostPort & { readonly tls?: { readonly cert: string; readonly key: string } };
  readonly adminTokenFile: string;
  readonly trustDomain: string;
}

export interface RunningControlPlane {
  readonly apiAddress: SocketAddress;
  readonly xdsAddress: SocketAddress;
  readonly hub: PushHub;
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
  const hub = new PushHub({ store, translate: { ...DEFAULT_TRANSLATE_OPTIONS, trustDomain: config.trustDomain }, log: logs.logger("xds"), metrics });
  try {
    await hub.start();
  } catch (err) {
    await store.close();
    throw MeshError.from(err, "unavailable");
  }
  const app = createApiApp({
    store,
    adminToken,
    metrics,
    xds: hub,
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
  let xds: XdsListener;
  try {
    server = await rt.serveHttp({ host: config.api.host, port: config.api.port }, (req) => app.fetch(req));
  } catch (err) {
    hub.close();
    await store.close();
    throw new MeshError("unavailable", `cannot listen on ${config.api.host}:${config.api.port}: ${(err as Error).message}`, { cause: err });
  }
  try {
    xds = await startXdsListener({ host: config.xds.host, port: config.xds.port, ...(config.xds.tls ? { tls: config.xds.tls } : {}) }, hub, logs.logger("xds"));
  } catch (err) {
    await server.close(true);
    hub.close();
    await store.close();
    throw new MeshError("unavailable", `cannot listen on ${config.xds.host}:${config.xds.port}: ${(err as Error).message}`, { cause: err });
  }
  if (!config.xds.tls) log.warn("xDS is served without TLS (h2c): for development and loopback only");
  log.info("control plane started", {
    api: `${server.address.address}:${server.address.port}`,
    xds: `${xds.address.address}:${xds.address.port}`,
    store: store.backend,
    dataDir: config.dataDir,
  });
  return {
    apiAddress: server.address,
    xdsAddress: xds.address,
    hub,
    adminToken,
    store,
    close: async () => {
      await Promise.all([server.close(), xds.close()]);
      hub.close();
      await store.close();
      log.info("control plane stopped");
    },
  };
}
