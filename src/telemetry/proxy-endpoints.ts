/**
 * The HTTP endpoints every proxy role serves: admin on 127.0.0.1:15000 (the role adds its own
 * config dump; this part is log level and readiness), Prometheus on 15020, readiness on 15021.
 * They read state; the only thing they change is the log level. Each app is built once and
 * serves every request.
 */
import { Hono } from "hono";
import type { LogControl } from "./log.ts";
import { PROMETHEUS_CONTENT_TYPE, type MetricsRegistry } from "./metrics.ts";

export interface Readiness {
  readonly ready: boolean;
  readonly reasons: string[];
}

export type ReadinessProbe = () => Readiness;

const readinessRoute = (app: Hono, probe: ReadinessProbe) =>
  app.get("/healthz/ready", (c) => {
    const r = probe();
    return c.json(r, r.ready ? 200 : 503);
  });

/** The admin app's shared part: `GET|POST /logging`, `GET /healthz/ready`. The role adds its dumps. */
export function proxyAdminApp(logs: LogControl, probe: ReadinessProbe): Hono {
  const app = new Hono();
  app.get("/logging", (c) => c.json({ level: logs.spec() }));
  app.post("/logging", (c) => {
    const level = c.req.query("level");
    if (!level) return c.json({ error: "give ?level=SPEC, e.g. info,hbone=debug" }, 400);
    try {
      logs.setSpec(level);
    } catch (err) {
      return c.json({ error: (err as Error).message }, 400);
    }
    return c.json({ level: logs.spec() });
  });
  return readinessRoute(app, probe);
}

export function metricsApp(metrics: MetricsRegistry): Hono {
  const app = new Hono();
  const render = () => new Response(metrics.render(), { headers: { "content-type": PROMETHEUS_CONTENT_TYPE } });
  app.get("/metrics", render);
  app.get("/stats/prometheus", render);
  return app;
}

export function readinessApp(probe: ReadinessProbe): Hono {
  return readinessRoute(new Hono(), probe);
}
