/**
 * `mesh waypoint`: the L7 proxy for one Gateway of class istio-waypoint. Assembly only:
 * - xDS (role "waypoint", on behalf of the node it runs on) fills the WaypointState: its
 *   Gateway's config (listeners = the destinations it fronts), workloads, services, trust bundle;
 * - it serves as one replica of the Gateway (a WorkloadEntry labelled with the Gateway's name on
 *   this node), with that replica's identity and certificate from the mesh CA;
 * - HBONE on <replica address>:<Gateway's HBONE port>; each tunnel must name a destination the
 *   Gateway fronts; HTTP ports are proxied per request (http-engines.ts: HTTP/1.1, HTTP/2, gRPC,
 *   or sniffed for `auto`), TCP ports tunnel on;
 * - upstream: HBONE to the endpoint's ztunnel as the waypoint's identity (upstream.ts);
 * - admin (config dump, log level), metrics and readiness like every proxy; ready once it has its
 *   config, its certificate and its listener; drain on SIGTERM.
 */
import { join } from "node:path";
import { MeshError } from "../errors/mesh-error.ts";
import { HbonePool } from "../hbone/client.ts";
import { HboneServer, type InboundTunnel } from "../hbone/server.ts";
import { caClient } from "../identity/ca-client.ts";
import { CertificateManager } from "../identity/cert-manager.ts";
import { systemClock } from "../identity/clock.ts";
import { decodeCheckedTrustBundle } from "../identity/trust-bundle.ts";
import { WorkloadCredentials } from "../identity/workload-credentials.ts";
import { formatEndpoint, type Endpoint } from "../net/endpoint.ts";
import { tunnelSource } from "../policy/tunnel-source.ts";
import type { CaptureListener, HttpServer, RuntimePort, SocketAddress } from "../runtime/port.ts";
import { identityOf } from "../state/mesh-state.ts";
import type { ServiceView, TrustBundleView, WaypointConfigView, WorkloadView } from "../state/view.ts";
import type { LogControl } from "../telemetry/log.ts";
import { MetricsRegistry } from "../telemetry/metrics.ts";
import { metricsApp, proxyAdminApp, readinessApp } from "../telemetry/proxy-endpoints.ts";
import type { HostPort } from "../util/host-port.ts";
import { XdsClient } from "../xds/client.ts";
import { SERVICE_TYPE, TRUST_BUNDLE_TYPE, WAYPOINT_CONFIG_TYPE, WORKLOAD_TYPE } from "../xds/type-urls.ts";
import { WAYPOINT_DECODERS } from "../xds/waypoint-wire.ts";
import { HttpEngines } from "./http-engines.ts";
import { HttpProxy } from "./http-proxy.ts";
import { Http2Proxy } from "./http2-proxy.ts";
import { waypointPluginHost } from "./plugin-host.ts";
import { RequestPipeline } from "./request-pipeline.ts";
import { builtInPlugins } from "./chains.ts";
import { outsideJwksFetch } from "./jwks-fetch.ts";
import { RequestTelemetry } from "./request-telemetry.ts";
import { WaypointState, type GatewayRef } from "./state.ts";
import { TcpProxy } from "./tcp-proxy.ts";
import { Upstream } from "./upstream.ts";

export interface WaypointConfig {
  readonly gateway: GatewayRef;
  /** The node this replica runs on (its WorkloadEntry's spec.node); xDS speaks for it. */
  readonly node: string;
  /** http://host:port (h2c) or https://host:port. */
  readonly controlPlane: string;
  readonly token: () => string;
  readonly controlPlaneCa?: string;
  readonly dataDir: string;
  /** Which replica this is, by address, when several of the Gateway's replicas share the node. */
  readonly address?: string;
  readonly listen: { readonly admin: HostPort; readonly metrics: HostPort; readonly readiness: HostPort };
  /** HBONE port of the ztunnels (upstream tunnels go to <endpoint>:<this>). */
  readonly hbonePort: number;
  readonly drainTimeoutMs: number;
  readonly connectTimeoutMs: number;
  readonly certTtlSeconds?: number;
  /** PEM CA bundle trusted (besides the public roots) when fetching a RequestAuthentication's https jwksUri. */
  readonly jwksCa?: string;
}

export interface RunningWaypoint {
  readonly addresses: Readonly<Record<string, Endpoint>>;
  state(): WaypointState;
  /** Resolves once the waypoint serves (config, certificate, HBONE listener). */
  readonly serving: Promise<Endpoint>;
  drain(deadlineMs?: number): Promise<void>;
}

const toEndpoint = (a: SocketAddress): Endpoint => ({ address: a.address, port: a.port });

/** The replica this process is, or why there is none (pure). */
export function selfReplica(state: WaypointState, node: string, address: string | undefined): WorkloadView | string {
  const mine = state.replicas().filter((w) => w.node === node && (address === undefined || w.addresses.includes(address)));
  const what = `replica of waypoint ${state.key} on node ${node}${address ? ` at ${address}` : ""}`;
  if (mine.length === 0) return `no ${what} (a WorkloadEntry labelled gateway.networking.k8s.io/gateway-name=${state.gateway.name} with spec.node ${node})`;
  if (mine.length > 1) return `${mine.length} replicas of waypoint ${state.key} on node ${node}: say which with --address`;
  return mine[0] as WorkloadView;
}

export async function startWaypoint(config: WaypointConfig, rt: RuntimePort, logs: LogControl): Promise<RunningWaypoint> {
  const log = logs.logger("waypoint");
  const metrics = new MetricsRegistry();
  const cleanups: Array<() => Promise<void> | void> = [];
  const addresses: Record<string, Endpoint> = {};
  try {
    const tls = config.controlPlaneCa ? { ca: config.controlPlaneCa } : undefined;
    const xds = new XdsClient({
      server: config.controlPlane,
      node: config.node,
      role: "waypoint",
      decoders: { ...WAYPOINT_DECODERS, [TRUST_BUNDLE_TYPE]: decodeCheckedTrustBundle },
      cacheFile: join(config.dataDir, "xds-cache.json"),
      log: logs.logger("xds"),
      token: config.token,
      ...(tls ? { tls } : {}),
    });
    const certs = new CertificateManager({
      signer: caClient({ server: config.controlPlane, token: config.token, ...(tls ? { tls } : {}) }),
      clock: systemClock,
      log: logs.logger("certs"),
      ...(config.certTtlSeconds ? { ttlSeconds: config.certTtlSeconds } : {}),
    });
    cleanups.push(() => certs.close());
    const credentials = new WorkloadCredentials(certs);
    let state = new WaypointState({ gateway: config.gateway, workloads: [], services: [], authorizations: [], configs: [] });
    let self: WorkloadView | string = "no config yet";
    let listening: { address: Endpoint; listener: CaptureListener } | undefined;

    const pool = new HbonePool({ log: logs.logger("hbone"), connectTimeoutMs: config.connectTimeoutMs });
    cleanups.push(() => pool.close());
    const replica = () => {
      if (typeof self === "string") throw new MeshError("unavailable", self);
      return self;
    };
    const upstream = new Upstream({
      pool,
      credentials: () => credentials.clientCredentials(replica()),
      // Pooled upstream connections carry many clients' requests: the tunnel names the waypoint itself (x-forwarded-for names the client).
      self: () => ({ workload: replica(), address: { address: replica().addresses[0] as string, port: state.config?.hbonePort ?? 15008 } }),
      connectTimeoutMs: config.connectTimeoutMs,
    });
    cleanups.push(() => upstream.close());
    const telemetry = new RequestTelemetry(logs.logger("access"), metrics);
    // One pipeline (filter chains, upstream stage) for both HTTP engines: a plugin is created once per config version.
    const pipeline = new RequestPipeline({ state: () => state, upstream, log: logs.logger("http"), plugins: waypointPluginHost(logs.logger("plugin"), metrics), builtIns: builtInPlugins({ jwksFetch: outsideJwksFetch(config.jwksCa ? { caPem: config.jwksCa } : {}) }), hbonePort: config.hbonePort });
    const http = new HttpEngines({
      http1: new HttpProxy({ state: () => state, upstream, pipeline, telemetry, log: logs.logger("http") }),
      http2: new Http2Proxy({ state: () => state, upstream, pipeline, telemetry, log: logs.logger("http") }),
      log: logs.logger("http"),
    });
    const tcp = new TcpProxy({ state: () => state, pool, credentials: () => credentials.clientCredentials(replica()), log: logs.logger("access"), hbonePort: config.hbonePort, connectTimeoutMs: config.connectTimeoutMs });

    const onTunnel = (t: InboundTunnel) => {
      const match = state.listenerAt(t.request.target);
      if (!match) {
        log.warn("tunnel refused", { "src.identity": t.peerIdentity, authority: formatEndpoint(t.request.target), error: `not a destination of waypoint ${state.key}` });
        t.refuse(new MeshError("invalid_argument", `${formatEndpoint(t.request.target)} is not a destination of waypoint ${state.key}`));
        return;
      }
      const who = tunnelSource(state, { peerIdentity: t.peerIdentity, peer: t.peer, ...(t.request.forwardedFor ? { forwardedFor: t.request.forwardedFor } : {}) });
      if (who.trusted === "peer" && who.mismatch) log.warn("forwarded source not believed", { "src.identity": t.peerIdentity, why: who.mismatch });
      const facts = { peerIdentity: t.peerIdentity, client: who.source, match };
      const protocol = match.port.protocol;
      if (protocol === "tcp") tcp.carry(t, facts);
      else http.serve(t.accept(), facts, protocol);
    };
    const hbone = new HboneServer({
      log: logs.logger("hbone"),
      onTunnel,
      secureContextFor: (local) => (typeof self !== "string" && self.addresses.includes(local.address) ? credentials.serverContext(self) : undefined),
    });

    let resolveServing!: (e: Endpoint) => void;
    const serving = new Promise<Endpoint>((r) => (resolveServing = r));
    let binding = Promise.resolve();
    const bind = (wp: WaypointConfigView, me: WorkloadView) => {
      const address = { address: me.addresses[0] as string, port: wp.hbonePort };
      if (listening) {
        if (formatEndpoint(listening.address) !== formatEndpoint(address)) log.warn("the replica's HBONE address changed; restart the waypoint to move", { serving: formatEndpoint(listening.address), wanted: formatEndpoint(address) });
        return;
      }
      binding = binding.then(async () => {
        if (listening) return;
        try {
          const listener = await rt.listenCapture({ host: address.address, port: address.port }, (c) => hbone.accept(c.socket, toEndpoint(c.local), toEndpoint(c.remote)));
          listening = { address, listener };
          addresses.hbone = toEndpoint(listener.address);
          log.info("serving HBONE", { address: formatEndpoint(addresses.hbone), gateway: state.key, identity: identityOf(me) });
          resolveServing(addresses.hbone);
        } catch (err) {
          log.error("cannot listen for HBONE", { address: formatEndpoint(address), error: (err as Error).message });
        }
      });
    };

    const rebuild = (typeUrl: string) => {
      const bundle = [...xds.resources<TrustBundleView>(TRUST_BUNDLE_TYPE).values()][0];
      state = new WaypointState({
        gateway: config.gateway,
        workloads: [...xds.resources<WorkloadView>(WORKLOAD_TYPE).values()],
        services: [...xds.resources<ServiceView>(SERVICE_TYPE).values()],
        authorizations: [],
        configs: [...xds.resources<WaypointConfigView>(WAYPOINT_CONFIG_TYPE).values()],
        ...(bundle ? { trustBundle: bundle } : {}),
      });
      if (typeUrl === TRUST_BUNDLE_TYPE) credentials.setBundle(bundle);
      const previous = typeof self === "string" ? [] : [self];
      self = selfReplica(state, config.node, config.address);
      credentials.keepFor(typeof self === "string" ? [] : [self], previous);
      if (typeUrl === WORKLOAD_TYPE) upstream.prune(state);
      if (state.config && typeof self !== "string") bind(state.config, self);
    };
    xds.onChange((change) => rebuild(change.typeUrl));
    xds.start();
    cleanups.push(() => xds.stop());
    cleanups.push(async () => {
      await binding;
      await listening?.listener.close().catch(() => {});
    });

    const ready = () => {
      const reasons: string[] = [];
      if (!state.config) reasons.push(xds.lastError ? `no config for waypoint ${state.key} yet: ${xds.lastError}` : `no config for waypoint ${state.key} yet`);
      if (typeof self === "string") reasons.push(self);
      else if (!credentials.readyFor([self])) reasons.push("certificate pending");
      if (!state.trustBundle) reasons.push("no trust bundle yet");
      if (!listening) reasons.push("HBONE listener not bound yet");
      return { ready: reasons.length === 0, reasons };
    };
    const admin = proxyAdminApp(logs, ready);
    admin.get("/config_dump", (c) =>
      c.json({
        gateway: state.key,
        node: config.node,
        replica: typeof self === "string" ? { error: self } : { name: self.name, addresses: self.addresses, serviceAccount: self.serviceAccount },
        xds: { connected: xds.connected, ...(xds.lastError ? { lastError: xds.lastError } : {}) },
        config: state.config ?? null,
        services: state.services.length,
        workloads: state.workloads.length,
        certificates: certs.status(),
        upstream: { ...pool.stats(), hops: upstream.hops, ejected: upstream.outliers.ejected() },
      }),
    );
    const servers: HttpServer[] = [];
    cleanups.push(async () => void (await Promise.all(servers.map((s) => s.close(true).catch(() => {})))));
    const metricsHandler = metricsApp(metrics);
    const readinessHandler = readinessApp(ready);
    for (const [name, listen, handler] of [
      ["admin", config.listen.admin, admin],
      ["metrics", config.listen.metrics, metricsHandler],
      ["readiness", config.listen.readiness, readinessHandler],
    ] as const) {
      const server = await rt.serveHttp(listen, (req) => handler.fetch(req));
      servers.push(server);
      addresses[name] = toEndpoint(server.address);
    }
    log.info("waypoint started", { gateway: state.key, node: config.node, ...Object.fromEntries(Object.entries(addresses).map(([k, a]) => [k, formatEndpoint(a)])) });

    let drained: Promise<void> | undefined;
    return {
      addresses,
      state: () => state,
      serving,
      drain: (deadlineMs = config.drainTimeoutMs) =>
        (drained ??= (async () => {
          log.info("draining", { deadlineMs });
          await binding;
          // Stop accepting now; the close resolves once the HBONE drain has closed the connections.
          const closing = listening?.listener.close().catch(() => {});
          http.close();
          await hbone.drain(deadlineMs);
          tcp.closeAll();
          await closing;
          for (const f of cleanups.reverse()) await f();
          log.info("waypoint stopped");
        })()),
    };
  } catch (err) {
    for (const f of cleanups.reverse()) await Promise.resolve(f()).catch(() => {});
    throw err;
  }
}
