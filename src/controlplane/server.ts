/**
 * Starting and stopping the control plane: open the store, serve the API. Returns what was
 * actually bound (ports may be 0 in tests) and a close() that drains: stop accepting, let
 * in-flight requests finish, then close the store.
 */
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { MeshError } from "../errors/mesh-error.ts";
import type { HostPort } from "../util/host-port.ts";
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
import { requestAuthenticator } from "./xds/authenticate.ts";
import type { ConnectionGuardStats } from "./xds/connection-guard.ts";
import { DEFAULT_CONNECTION_LIMITS, unauthenticatedCap, type ConnectionLimits } from "./xds/connection-limits.ts";
import { PushHub } from "./xds/push-hub.ts";
import { watchStreamCredentials } from "./xds/stream-credentials.ts";
import { DEFAULT_CA_SETTINGS, type CaSettings } from "./ca/authority.ts";
import { caService } from "./ca/ca-service.ts";
import { loadOrCreateRootsState, loadPluginCa, type PluginCaFiles } from "./ca/material.ts";
import { CaRotation } from "./ca/ca-rotation-control.ts";
import { createNodeTokens, type NodeTokens } from "./ca/node-tokens.ts";
import { fileSecrets, storeSecrets } from "./ca/secrets.ts";
import { IstioCertificateService } from "../gen/istio/v1/auth/ca_pb.ts";

export interface ControlPlaneConfig {
  readonly dataDir: string;
  readonly store: { readonly backend: "sqlite" } | { readonly backend: "etcd"; readonly endpoints: readonly string[]; readonly prefix?: string };
  readonly api: HostPort;
  readonly xds: HostPort & {
    readonly tls?: { readonly cert: string; readonly key: string };
    /** Connection limits of the xDS/CA port; the total cap defaults to a share of the fd limit. */
    readonly limits?: Partial<ConnectionLimits>;
  };
  readonly adminTokenFile: string;
  readonly trustDomain: string;
  /** The CA's clock (injectable so tests can move time); the system clock by default. */
  readonly now?: () => Date;
  /** Defaults: a generated root, 24 h leaves, at most 7 days. */
  readonly ca?: {
    readonly plugin?: PluginCaFiles;
    readonly defaultTtlMs?: number;
    readonly maxTtlMs?: number;
  };
}

export interface RunningControlPlane {
  readonly tokens: NodeTokens;
  readonly ca: CaRotation;
  readonly apiAddress: SocketAddress;
  readonly xdsAddress: SocketAddress;
  /** What the xDS/CA port's connection guard holds and has turned away. */
  xdsConnections(): ConnectionGuardStats;
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
  // Every connection to 15012 costs a descriptor: use all the process may have, and cap unauthenticated ones well below it.
  const fds = rt.raiseFileLimit();
  const limits: ConnectionLimits = { ...DEFAULT_CONNECTION_LIMITS, maxUnauthenticated: unauthenticatedCap(fds.soft), ...config.xds.limits };
  log.info("open-file limit", { soft: fds.soft, hard: fds.hard, raisedFrom: fds.before === fds.soft ? undefined : fds.before, xdsUnauthenticatedConnections: limits.maxUnauthenticated, xdsUnauthenticatedPerSource: limits.maxUnauthenticatedPerSource });
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
  // Secrets (CA root, token key) are files in the data directory, or shared through etcd by replicas.
  const secrets = store.backend === "etcd" ? storeSecrets(store) : fileSecrets(config.dataDir);
  let rotation: CaRotation;
  let tokens: NodeTokens;
  try {
    rotation = config.ca?.plugin
      ? await CaRotation.fixed(await loadPluginCa(config.ca.plugin))
      : await CaRotation.managed(secrets, await loadOrCreateRootsState(secrets, config.trustDomain, new Date()), config.trustDomain, logs.logger("ca"));
    tokens = await createNodeTokens({ secrets, store, issuer: `mesh://${config.trustDomain}` });
  } catch (err) {
    hub.close();
    await store.close();
    throw err;
  }
  const caSettings: CaSettings = {
    ...DEFAULT_CA_SETTINGS,
    trustDomain: config.trustDomain,
    defaultTtlMs: config.ca?.defaultTtlMs ?? DEFAULT_CA_SETTINGS.defaultTtlMs,
    maxTtlMs: config.ca?.maxTtlMs ?? DEFAULT_CA_SETTINGS.maxTtlMs,
  };
  const app = createApiApp({
    store,
    adminToken,
    metrics,
    tokens,
    ca: rotation,
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
    // A proxy speaks for a node with that node's certificate or token (never a workload certificate),
    // or for one waypoint with a waypoint token.
    const authenticate = requestAuthenticator({ verifyHeader: (authorization) => tokens.verifyHeader(authorization), verifyId: (id, node) => tokens.verifyId(id, node) });
    const xdsTls = config.xds.tls ? { tls: { ...config.xds.tls, clientCas: rotation.material.trustBundle } } : {};
    xds = await startXdsListener({ host: config.xds.host, port: config.xds.port, limits, ...xdsTls }, hub, logs.logger("xds"), authenticate, metrics, (router) =>
      router.service(
        IstioCertificateService,
        caService({ material: () => rotation.material, settings: caSettings, bindings: hub, log: logs.logger("ca"), metrics, ...(config.now ? { now: config.now } : {}) }),
      ),
    );
  } catch (err) {
    await server.close(true);
    hub.close();
    await store.close();
    throw new MeshError("unavailable", `cannot listen on ${config.xds.host}:${config.xds.port}: ${(err as Error).message}`, { cause: err });
  }
  // Live streams whose node token is revoked (on any replica) or expires are ended within seconds.
  const credentials = watchStreamCredentials({ store, registry: hub.proxies, log: logs.logger("xds") });
  // Proxies learn the roots over xDS; replicas pick up a rotation another replica made.
  const publishBundle = () => {
    hub.setTrustBundle({ trustDomain: config.trustDomain, roots: rotation.material.trustBundle, generation: rotation.material.generation });
    xds.setClientCas(rotation.material.trustBundle);
  };
  publishBundle();
  rotation.onChange(publishBundle);
  hub.onChange(() => void rotation.reload().catch((err) => log.warn("reloading the CA state failed", { error: err })));
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
    xdsConnections: () => xds.connections(),
    tokens,
    ca: rotation,
    hub,
    adminToken,
    store,
    close: async () => {
      credentials.close();
      await Promise.all([server.close(), xds.close()]);
      hub.close();
      await store.close();
      log.info("control plane stopped");
    },
  };
}
