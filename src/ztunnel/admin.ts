/**
 * The ztunnel's HTTP endpoints: admin on 127.0.0.1:15000 (config dump, connections, certificates,
 * log level), Prometheus on 15020, readiness on 15021. They read state; the only thing they change
 * is the log level. The config dump is what `mesh ztunnel-config` prints.
 */
import { Hono } from "hono";
import type { CertificateStatus } from "../identity/cert-manager.ts";
import { formatEndpoint } from "../hbone/headers.ts";
import type { LogControl } from "../telemetry/log.ts";
import { PROMETHEUS_CONTENT_TYPE, type MetricsRegistry } from "../telemetry/metrics.ts";
import type { ConnectionTable } from "./connections.ts";
import type { ZtunnelState } from "./state.ts";

export interface AdminSources {
  readonly state: () => ZtunnelState;
  readonly certificates: () => CertificateStatus[];
  readonly connections: ConnectionTable;
  readonly logs: LogControl;
  readonly ready: () => { ready: boolean; reasons: string[] };
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
  const app = new Hono();
  app.get("/config_dump", (c) => c.json(configDump(s)));
  app.get("/certificates", (c) => c.json(s.certificates()));
  app.get("/connections", (c) => c.json(configDump(s).connections));
  app.get("/logging", (c) => c.json({ level: s.logs.spec() }));
  app.post("/logging", (c) => {
    const level = c.req.query("level");
    if (!level) return c.json({ error: "give ?level=SPEC, e.g. info,hbone=debug" }, 400);
    try {
      s.logs.setSpec(level);
    } catch (err) {
      return c.json({ error: (err as Error).message }, 400);
    }
    return c.json({ level: s.logs.spec() });
  });
  app.get("/healthz/ready", (c) => readiness(c, s));
  return app;
}

function readiness(c: { json: (v: unknown, status?: 200 | 503) => Response }, s: AdminSources): Response {
  const r = s.ready();
  return c.json(r, r.ready ? 200 : 503);
}

export function metricsApp(metrics: MetricsRegistry): Hono {
  const app = new Hono();
  const render = () => new Response(metrics.render(), { headers: { "content-type": PROMETHEUS_CONTENT_TYPE } });
  app.get("/metrics", render);
  app.get("/stats/prometheus", render);
  return app;
}

export function readinessApp(s: AdminSources): Hono {
  const app = new Hono();
  app.get("/healthz/ready", (c) => readiness(c, s));
  return app;
}
