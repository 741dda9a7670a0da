/**
 * The ztunnel's admin app on 127.0.0.1:15000: config dump, connections and certificates beside
 * the shared log-level and readiness routes (src/telemetry/proxy-endpoints.ts). It only reads
 * state. The config dump is what `mesh ztunnel-config` prints.
 */
import type { Hono } from "hono";
import type { CertificateStatus } from "../identity/cert-manager.ts";
import { formatEndpoint } from "../net/endpoint.ts";
import type { LogControl } from "../telemetry/log.ts";
import { proxyAdminApp, type ReadinessProbe } from "../telemetry/proxy-endpoints.ts";
import type { ConnectionTable } from "../telemetry/connections.ts";
import type { AdmittedConnection } from "./admission.ts";
import type { ZtunnelState } from "./state.ts";

export interface AdminSources {
  readonly state: () => ZtunnelState;
  readonly certificates: () => CertificateStatus[];
  readonly connections: ConnectionTable<AdmittedConnection>;
  readonly logs: LogControl;
  readonly ready: ReadinessProbe;
  readonly xds: () => { connected: boolean; lastError?: string };
}

export function configDump(s: AdminSources, now = Date.now()) {
  const state = s.state();
  return {
    node: state.node,
    xds: s.xds(),
    workloads: state.workloads.map((w) => ({ ...w, local: state.isLocal(w) })),
    services: state.services.map((svc) => ({ ...svc, endpoints: state.endpointsOf(svc).map((w) => `${w.namespace}/${w.name}`) })),
    policies: state.authorizations,
    trustBundle: state.trustBundle ? { trustDomain: state.trustBundle.trustDomain, generation: state.trustBundle.generation, roots: state.trustBundle.roots.length } : null,
    certificates: s.certificates(),
    connections: s.connections.list().map((c) => ({
      id: c.id,
      direction: c.info.direction,
      src: formatEndpoint(c.info.src.addr),
      srcWorkload: c.info.src.workload ? `${c.info.src.workload.namespace}/${c.info.src.workload.name}` : undefined,
      srcIdentity: c.info.src.identity,
      dst: formatEndpoint(c.info.dstAddr),
      hboneAddr: c.info.hboneAddr ? formatEndpoint(c.info.hboneAddr) : undefined,
      dstWorkload: c.info.dst.workload ? `${c.info.dst.workload.namespace}/${c.info.dst.workload.name}` : undefined,
      dstIdentity: c.info.dst.identity,
      mtls: c.info.mtls,
      ageMs: now - c.started,
    })),
  };
}

export function adminApp(s: AdminSources): Hono {
  const app = proxyAdminApp(s.logs, s.ready);
  app.get("/config_dump", (c) => c.json(configDump(s)));
  app.get("/certificates", (c) => c.json(s.certificates()));
  app.get("/connections", (c) => c.json(configDump(s).connections));
  return app;
}
