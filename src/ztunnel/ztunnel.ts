/**
 * A ztunnel, assembled: the xDS client fills a ZtunnelState (the proxies only read it), the
 * certificate manager keeps a certificate for every workload of this node, and the front ends feed
 * the outbound and inbound proxies:
 * - iptables mode: capture listeners on 15001 (outbound), 15006 (plaintext inbound) and 15008
 *   (HBONE), original destinations from SO_ORIGINAL_DST, REDIRECT rules kept in step with the
 *   node's workloads and removed on exit; a workload's outbound traffic is captured (and so gets
 *   its identity) only from the interface recorded for it (capture/workload-rules.ts);
 * - socks5 mode: SOCKS5 on 15080, and an HBONE listener on each local workload's own address
 *   (as if inside the workload's network namespace), opened and closed as workloads come and go;
 * and in both, DNS on 15053, admin on 127.0.0.1:15000, metrics on 15020, readiness on 15021.
 *
 * `startZtunnel` returns what was bound and a handle to drain: stop accepting, let connections
 * finish until the deadline, close the rest, remove capture rules.
 */
import { join } from "node:path";
import { lookup as dnsLookup } from "node:dns/promises";
import { readFileSync } from "node:fs";
import type { Duplex } from "node:stream";
import { MeshError } from "../errors/mesh-error.ts";
import { HbonePool } from "../hbone/client.ts";
import { formatEndpoint, type Endpoint } from "../net/endpoint.ts";
import { HboneServer } from "../hbone/server.ts";
import { caClient } from "../identity/ca-client.ts";
import { CertificateManager } from "../identity/cert-manager.ts";
import { NodeCertificate } from "../identity/node-certificate.ts";
import { systemClock } from "../identity/clock.ts";
import { decodeCheckedTrustBundle } from "../identity/trust-bundle.ts";
import { canonicalIp, formatIp, unmapIpv4 } from "../net/ip.ts";
import type { CaptureListener, HttpServer, RuntimePort, SocketAddress } from "../runtime/port.ts";
import type { LogControl, Logger } from "../telemetry/log.ts";
import { MetricsRegistry } from "../telemetry/metrics.ts";
import type { HostPort } from "../util/host-port.ts";
import { XdsClient } from "../xds/client.ts";
import { AUTHORIZATION_TYPE, SERVICE_TYPE, TRUST_BUNDLE_TYPE, WORKLOAD_TYPE } from "../xds/type-urls.ts";
import type { AuthorizationView, ServiceView, TrustBundleView, WorkloadView } from "../state/view.ts";
import { DECODERS } from "../xds/wire.ts";
import { adminApp } from "./admin.ts";
import type { AdmittedConnection } from "./admission.ts";
import { metricsApp, readinessApp } from "../telemetry/proxy-endpoints.ts";
import { IptablesCapture } from "./capture/iptables.ts";
import { acceptSocks5, Socks5Reply } from "./capture/socks5.ts";
import { ConnectionTable } from "../telemetry/connections.ts";
import { DnsTable } from "./dns/resolve.ts";
import { RR_TYPE } from "./dns/message.ts";
import { startDnsProxy, upstreamsFromResolvConf, type DnsProxy } from "./dns/server.ts";
import { WorkloadCredentials } from "../identity/workload-credentials.ts";
import { Inbound, resetSocket } from "./inbound.ts";
import { NodeAddresses } from "./node-addresses.ts";
import { Outbound } from "./outbound.ts";
import { liveGuard, passthroughDenyCidr } from "./passthrough-guard.ts";
import { ZtunnelState } from "./state.ts";

export type CaptureMode = "iptables" | "socks5";

export interface ZtunnelConfig {
  readonly node: string;
  /** http://host:port (h2c) or https://host:port. */
  readonly controlPlane: string;
  readonly token: () => string;
  /** PEM roots to verify an https control plane. */
  readonly controlPlaneCa?: string;
  readonly capture: CaptureMode;
  readonly dataDir: string;
  readonly listen: {
    readonly outbound: HostPort;
    readonly inboundPlaintext: HostPort;
    readonly hbone: HostPort;
    readonly socks5: HostPort;
    readonly dns: HostPort | null;
    readonly admin: HostPort;
    readonly metrics: HostPort;
    readonly readiness: HostPort;
  };
  /** HBONE port of other ztunnels. */
  readonly hbonePort: number;
  readonly drainTimeoutMs: number;
  readonly connectTimeoutMs: number;
  /** Forwarded DNS goes here; default: the nameservers of /etc/resolv.conf. */
  readonly dnsUpstreams?: readonly HostPort[];
  readonly certTtlSeconds?: number;
  /** iptables chain name (tests run several ztunnels). */
  readonly iptablesChain?: string;
  /** Addresses or CIDR blocks passthrough may never reach, besides the node and the control plane. */
  readonly passthroughDeny?: readonly string[];
  /** iptables mode: capture workloads without a hostInterface by source address alone (spoofable). */
  readonly allowUnboundInterfaces?: boolean;
}

export interface RunningZtunnel {
  /** What was bound, by listener name (ports are real when 0 was asked for). */
  readonly addresses: Readonly<Record<string, Endpoint>>;
  readonly xds: XdsClient;
  state(): ZtunnelState;
  /** Stop accepting, let connections finish until the deadline, then close everything. */
  drain(deadlineMs?: number): Promise<void>;
}

/** Dual-stack listeners ([::]) report IPv4 peers as ::ffff:a.b.c.d; workloads are known by a.b.c.d. */
const toEndpoint = (a: SocketAddress): Endpoint => ({ address: unmapIpv4(a.address), port: a.port });

/** Every address the control plane's URL names (passthrough never goes there). */
async function controlPlaneAddresses(url: string, log: Logger): Promise<string[]> {
  const host = new URL(url).hostname.replace(/^\[(.*)\]$/, "$1");
  const literal = canonicalIp(host);
  if (literal) return [literal];
  try {
    return (await dnsLookup(host, { all: true })).map((a) => a.address);
  } catch (err) {
    log.warn("control plane name not resolved: passthrough is not kept from its addresses", { host, error: (err as Error).message });
    return [];
  }
}

export async function startZtunnel(config: ZtunnelConfig, rt: RuntimePort, logs: LogControl): Promise<RunningZtunnel> {
  const log = logs.logger("ztunnel");
  const metrics = new MetricsRegistry();
  const cleanups: Array<() => Promise<void> | void> = [];
  const addresses: Record<string, Endpoint> = {};
  try {
    const tls = config.controlPlaneCa ? { ca: config.controlPlaneCa } : undefined;
    const signer = caClient({ server: config.controlPlane, token: config.token, ...(tls ? { tls } : {}) });
    // Over TLS the ztunnel authenticates xDS with its node certificate (asked for with the token).
    const nodeCertificate = new NodeCertificate({ node: config.node, signer, clock: systemClock, token: config.token, ...(config.certTtlSeconds ? { ttlSeconds: config.certTtlSeconds } : {}) });
    const clientCertificate = async () => {
      try {
        const c = await nodeCertificate.get();
        return { cert: c.chain.join("\n"), key: c.keyPem };
      } catch (err) {
        log.warn("no node certificate; authenticating xDS with the node token", { error: err });
        return undefined;
      }
    };
    const xds = new XdsClient({
      server: config.controlPlane,
      node: config.node,
      role: "ztunnel",
      decoders: { ...DECODERS, [TRUST_BUNDLE_TYPE]: decodeCheckedTrustBundle },
      cacheFile: join(config.dataDir, "xds-cache.json"),
      log: logs.logger("xds"),
      token: config.token,
      ...(tls ? { tls, clientCertificate } : {}),
    });
    const certs = new CertificateManager({
      signer,
      clock: systemClock,
      log: logs.logger("certs"),
      ...(config.certTtlSeconds ? { ttlSeconds: config.certTtlSeconds } : {}),
    });
    cleanups.push(() => certs.close());
    const identities = new WorkloadCredentials(certs);
    let state = ZtunnelState.build({ node: config.node, workloads: [], services: [], authorizations: [] });
    let dnsTable = new DnsTable([]);
    let haveConfig = false;

    for (const [i, c] of (config.passthroughDeny ?? []).entries()) passthroughDenyCidr(c, `passthroughDeny[${i}]`);
    const passthrough = liveGuard(new NodeAddresses(), { controlPlane: await controlPlaneAddresses(config.controlPlane, log), denied: config.passthroughDeny ?? [] });

    const connections = new ConnectionTable<AdmittedConnection>({ log: logs.logger("access"), metrics });
    const inbound = new Inbound({ state: () => state, connections, log: logs.logger("inbound"), connectTimeoutMs: config.connectTimeoutMs });
    const pool = new HbonePool({ log: logs.logger("hbone"), connectTimeoutMs: config.connectTimeoutMs });
    cleanups.push(() => pool.close());
    const outbound = new Outbound({ state: () => state, identities, pool, inbound, connections, log: logs.logger("outbound"), hbonePort: config.hbonePort, connectTimeoutMs: config.connectTimeoutMs, passthroughGuard: passthrough });
    const hboneServer = new HboneServer({
      log: logs.logger("hbone"),
      onTunnel: inbound.onTunnel,
      secureContextFor: (local) => {
        const w = state.workloadAt(local.address);
        return w && state.isLocal(w) ? identities.serverContext(w) : undefined;
      },
    });

    // Front ends ------------------------------------------------------------------------------
    const listeners: CaptureListener[] = [];
    cleanups.push(async () => void (await Promise.all(listeners.map((l) => l.close().catch(() => {})))));
    let onLocalWorkloads: (local: readonly WorkloadView[]) => Promise<void> = async () => {};

    const resolveName = async (name: string, client: string): Promise<string> => {
      const w = state.workloadAt(client);
      const d = dnsTable.lookup(name, RR_TYPE.A, w?.namespace);
      if (d.kind === "answer") {
        const first = d.addresses[0];
        if (!first) throw new MeshError("not_found", `${name} has no IPv4 address in the mesh`);
        return formatIp(first);
      }
      if (d.kind === "nxdomain") throw new MeshError("not_found", `${name}: no such mesh service`);
      return (await dnsLookup(name, { family: 4 })).address;
    };

    const serveSocks = (conn: { socket: Duplex; remote: SocketAddress }) => {
      conn.socket.on("error", () => {});
      acceptSocks5(conn.socket, { timeoutMs: 10_000 }).then(
        async (accepted) => {
          const d = accepted.destination;
          let destination: Endpoint;
          try {
            destination = d.kind === "ip" ? { address: d.address, port: d.port } : { address: await resolveName(d.name, conn.remote.address), port: d.port };
          } catch (err) {
            log.info("socks5 name not resolved", { name: d.kind === "name" ? d.name : "", error: (err as Error).message });
            accepted.reply(Socks5Reply.hostUnreachable);
            return;
          }
          outbound.handle(conn.socket, toEndpoint(conn.remote), destination, {
            established: () => {
              accepted.reply(Socks5Reply.succeeded);
              return accepted.leftover;
            },
            refused: (err) => accepted.reply(err.code === "permission_denied" ? Socks5Reply.notAllowed : Socks5Reply.connectionRefused),
          });
        },
        (err: Error) => log.debug("socks5 handshake failed", { src: conn.remote.address, error: err.message }),
      );
    };

    if (config.capture === "iptables") {
      const capture = await IptablesCapture.start({
        logger: logs.logger("capture"),
        ports: { outbound: config.listen.outbound.port, inboundPlaintext: config.listen.inboundPlaintext.port, hbone: config.listen.hbone.port },
        ...(config.iptablesChain ? { chain: config.iptablesChain } : {}),
        allowUnbound: config.allowUnboundInterfaces ?? false,
      });
      cleanups.push(() => capture.close());
      const out = await rt.listenCapture(config.listen.outbound, (c) => {
        c.socket.on("error", () => {});
        if (!c.originalDestination) {
          log.warn("outbound connection without an original destination (not redirected); closed", { src: c.remote.address });
          resetSocket(c.socket);
          return;
        }
        outbound.handle(c.socket, toEndpoint(c.remote), toEndpoint(c.originalDestination), { established: () => undefined, refused: () => resetSocket(c.socket) });
      });
      const plain = await rt.listenCapture(config.listen.inboundPlaintext, (c) => {
        c.socket.on("error", () => {});
        if (!c.originalDestination) return resetSocket(c.socket);
        inbound.plaintext(c.socket, toEndpoint(c.remote), toEndpoint(c.originalDestination));
      });
      const hbone = await rt.listenCapture(config.listen.hbone, (c) => hboneServer.accept(c.socket, toEndpoint(c.originalDestination ?? c.local), toEndpoint(c.remote)));
      listeners.push(out, plain, hbone);
      Object.assign(addresses, { outbound: toEndpoint(out.address), inboundPlaintext: toEndpoint(plain.address), hbone: toEndpoint(hbone.address) });
      onLocalWorkloads = async (local) => {
        const report = await capture.sync(local.filter((w) => w.captured).flatMap((w) => w.addresses.map((address) => ({ address, hostInterface: w.hostInterface }))));
        for (const s of report.skipped) log.warn("workload address not captured", s);
      };
    } else {
      const socks = await rt.listenCapture(config.listen.socks5, serveSocks);
      listeners.push(socks);
      addresses.socks5 = toEndpoint(socks.address);
      // One HBONE listener per local workload address, as a ztunnel inside each workload's namespace.
      const perWorkload = new Map<string, CaptureListener>();
      cleanups.push(async () => void (await Promise.all([...perWorkload.values()].map((l) => l.close().catch(() => {})))));
      onLocalWorkloads = async (local) => {
        const wanted = new Set(local.filter((w) => w.captured).flatMap((w) => w.addresses));
        for (const [address, l] of perWorkload) {
          if (wanted.has(address)) continue;
          perWorkload.delete(address);
          await l.close().catch(() => {});
        }
        for (const address of wanted) {
          if (perWorkload.has(address)) continue;
          try {
            const l = await rt.listenCapture({ host: address, port: config.listen.hbone.port }, (c) => hboneServer.accept(c.socket, toEndpoint(c.local), toEndpoint(c.remote)));
            perWorkload.set(address, l);
          } catch (err) {
            log.warn("cannot listen for HBONE on a workload address", { address: formatEndpoint({ address, port: config.listen.hbone.port }), error: (err as Error).message });
          }
        }
      };
    }

    let dns: DnsProxy | undefined;
    if (config.listen.dns) {
      let upstreams = config.dnsUpstreams;
      if (!upstreams) {
        try {
          upstreams = upstreamsFromResolvConf(readFileSync("/etc/resolv.conf", "utf8"));
        } catch {
          upstreams = [];
        }
      }
      dns = await startDnsProxy({
        host: config.listen.dns.host,
        port: config.listen.dns.port,
        upstreams,
        logger: logs.logger("dns"),
        lookup: (q, client) => dnsTable.lookup(q.name, q.type, state.workloadAt(client.address)?.namespace, q.class),
      });
      addresses.dns = { address: dns.address.host, port: dns.address.port };
      cleanups.push(() => dns?.close());
    }

    // Config --------------------------------------------------------------------------------------
    let localSync = Promise.resolve();
    const rebuild = (typeUrl: string) => {
      const previous = state;
      const bundle = [...xds.resources<TrustBundleView>(TRUST_BUNDLE_TYPE).values()][0];
      state = ZtunnelState.build(
        {
          node: config.node,
          workloads: [...xds.resources<WorkloadView>(WORKLOAD_TYPE).values()],
          services: [...xds.resources<ServiceView>(SERVICE_TYPE).values()],
          authorizations: [...xds.resources<AuthorizationView>(AUTHORIZATION_TYPE).values()],
          ...(bundle ? { trustBundle: bundle } : {}),
        },
        previous,
      );
      haveConfig = true;
      if (typeUrl === TRUST_BUNDLE_TYPE) identities.setBundle(bundle);
      if (typeUrl === SERVICE_TYPE) dnsTable = new DnsTable(state.services);
      if (typeUrl === WORKLOAD_TYPE) {
        identities.keepFor(state.local.filter((w) => w.captured), previous.local);
        const local = state.local;
        localSync = localSync.then(() => onLocalWorkloads(local)).catch((err) => log.error("capture sync failed", { error: (err as Error).message }));
      }
      if (typeUrl === AUTHORIZATION_TYPE || typeUrl === WORKLOAD_TYPE) inbound.recheckAll();
    };
    xds.onChange((change) => rebuild(change.typeUrl));
    xds.start();
    cleanups.push(() => xds.stop());

    // Admin, metrics, readiness ----------------------------------------------------------------------
    const ready = () => {
      const reasons: string[] = [];
      if (!haveConfig) reasons.push(xds.lastError ? `no config yet: ${xds.lastError}` : "no config yet");
      if (!state.trustBundle) reasons.push("no trust bundle yet");
      const pending = state.local.filter((w) => w.captured && !identities.readyFor([w]));
      if (pending.length > 0) reasons.push(`certificates pending for ${pending.map((w) => `${w.namespace}/${w.name}`).join(", ")}`);
      return { ready: reasons.length === 0, reasons };
    };
    const sources = {
      state: () => state,
      certificates: () => certs.status(),
      connections,
      logs,
      ready,
      xds: () => ({ connected: xds.connected, ...(xds.lastError ? { lastError: xds.lastError } : {}) }),
    };
    const open = metrics.gauge("mesh_ztunnel_open_connections", "Connections the ztunnel carries now").labels();
    metrics.onCollect(() => open.set(connections.size));
    const servers: HttpServer[] = [];
    cleanups.push(async () => void (await Promise.all(servers.map((s) => s.close(true).catch(() => {})))));
    const adminHandler = adminApp(sources);
    const admin = await rt.serveHttp(config.listen.admin, (req) => adminHandler.fetch(req));
    servers.push(admin);
    const metricsHandler = metricsApp(metrics);
    const metricsServer = await rt.serveHttp(config.listen.metrics, (req) => metricsHandler.fetch(req));
    servers.push(metricsServer);
    const readinessHandler = readinessApp(ready);
    const readiness = await rt.serveHttp(config.listen.readiness, (req) => readinessHandler.fetch(req));
    servers.push(readiness);
    Object.assign(addresses, { admin: toEndpoint(admin.address), metrics: toEndpoint(metricsServer.address), readiness: toEndpoint(readiness.address) });
    log.info("ztunnel started", { node: config.node, capture: config.capture, ...Object.fromEntries(Object.entries(addresses).map(([k, a]) => [k, formatEndpoint(a)])) });

    let drained: Promise<void> | undefined;
    return {
      addresses,
      xds,
      state: () => state,
      drain: (deadlineMs = config.drainTimeoutMs) =>
        (drained ??= (async () => {
          log.info("draining", { connections: connections.size, deadlineMs });
          // Stop accepting now; the closes resolve once the drain has closed the listeners' connections
          // (peers keep pooled HBONE connections open, so awaiting them first would wait for the peers).
          const closing = Promise.all(listeners.map((l) => l.close().catch(() => {})));
          const until = Date.now() + deadlineMs;
          await hboneServer.drain(deadlineMs);
          while (connections.size > 0 && Date.now() < until) await new Promise((r) => setTimeout(r, 50));
          const cut = connections.list();
          for (const c of cut) for (const s of c.streams) s.destroy();
          if (cut.length > 0) log.warn("drain deadline passed; connections closed", { connections: cut.length });
          await closing;
          await localSync;
          for (const f of cleanups.reverse()) await f();
          log.info("ztunnel stopped");
        })()),
    };
  } catch (err) {
    for (const f of cleanups.reverse()) await Promise.resolve(f()).catch(() => {});
    throw err;
  }
}
