/**
 * The control plane's REST API (hono): resources by Kubernetes-style paths, apply/delete of
 * multi-document files, watches, health and metrics. Every /api route needs the admin token
 * (`Authorization: Bearer …`); health and metrics are open, as on Istio's monitoring port.
 *
 *   POST   /api/v1/apply[?dryRun=true]                 body: YAML/JSON documents, all-or-nothing
 *   POST   /api/v1/delete                              body: documents naming what to delete
 *   GET    /api/v1/{plural}[?watch=true]               every namespace
 *   GET    /api/v1/namespaces/{ns}/{plural}[?watch=…]  one namespace
 *   GET    /api/v1/namespaces/{ns}/{plural}/{name}
 *   DELETE /api/v1/namespaces/{ns}/{plural}/{name}[?resourceVersion=N]
 *   GET|DELETE /api/v1/{plural}/{name}                cluster-scoped kinds (namespaces)
 *   GET    /api/v1/xds/proxies[?node=N&limit=N&offset=N] connected proxies, their ACKs and NACKs (≤ 500 a page)
 *   GET    /api/v1/analysis                            translation warnings (e.g. L7 rules at L4)
 *   POST   /api/v1/tokens {node | waypoint: NS/NAME, ttl} mint a node or waypoint token (shown once)
 *   GET    /api/v1/tokens, POST /api/v1/tokens/revoke {id | node | waypoint}
 *   GET    /api/v1/ca, POST /api/v1/ca/rotate {phase: prepare|activate|retire}
 */
import { Hono, type Context } from "hono";
import { bodyLimit } from "hono/body-limit";
import { MeshError } from "../../errors/mesh-error.ts";
import type { Logger } from "../../telemetry/log.ts";
import { type MetricsRegistry, PROMETHEUS_CONTENT_TYPE } from "../../telemetry/metrics.ts";
import type { KindDefinition } from "../resources/kind.ts";
import { LIMITS } from "../resources/parse.ts";
import { kindByName } from "../resources/registry.ts";
import { describeKey, type ResourceKey } from "../resources/resource.ts";
import { keysOf } from "../store/plan.ts";
import type { ConfigStore, WriteOp } from "../store/store.ts";
import { tokenMatches } from "./admin-token.ts";
import { planApply, planDeleteDocuments } from "./apply.ts";
import { statusBody } from "./status.ts";
import { watchResponse } from "./watch-stream.ts";
import type { PushHub } from "../xds/push-hub.ts";
import { MAX_LISTED_PROXIES } from "../xds/proxy-registry.ts";
import { parseGatewayRef } from "../../identity/gateway-ref.ts";
import { bearerToken, type NodeTokens } from "../ca/node-tokens.ts";
import type { CaRotation } from "../ca/ca-rotation-control.ts";
import { ROTATION_PHASES, type RotationPhase } from "../ca/rotation.ts";
import { tokenTtlFromBody } from "../ca/token-ttl.ts";

export interface ApiDeps {
  readonly store: ConfigStore;
  readonly adminToken: string;
  readonly metrics: MetricsRegistry;
  readonly log: Logger;
  /** The CA's roots and their rotation. */
  readonly ca?: Pick<CaRotation, "status" | "rotate">;
  /** Node tokens for the CA (mint, list, revoke). */
  readonly tokens?: NodeTokens;
  /** The push pipeline, for the operator's view of proxies and translation warnings. */
  readonly xds?: Pick<PushHub, "proxies" | "warnings" | "version">;
  /** Readiness beyond "the process is up" (e.g. the store answers). */
  readonly ready?: () => Promise<boolean>;
}

export function createApiApp(deps: ApiDeps): Hono {
  const { store, metrics, log } = deps;
  const requests = metrics.counter("mesh_api_requests_total", "REST API requests by method and status code.", ["method", "code"]);
  const writes = metrics.counter("mesh_config_writes_total", "Resource writes by kind and outcome.", ["kind", "outcome"]);
  const app = new Hono();

  app.onError((err, c) => {
    const body = statusBody(err);
    if (body.code >= 500) log.error("api request failed", { method: c.req.method, path: c.req.path, error: err });
    return c.json(body, body.code as 400);
  });
  app.notFound((c) => c.json(statusBody(new MeshError("not_found", `no route for ${c.req.method} ${c.req.path}`)), 404));
  app.use(async (c, next) => {
    await next();
    requests.labels({ method: c.req.method, code: String(c.res.status) }).inc();
  });

  app.get("/healthz/ready", async (c) => ((await (deps.ready?.() ?? Promise.resolve(true))) ? c.text("ready\n") : c.text("not ready\n", 503)));
  app.get("/metrics", (c) => c.body(metrics.render(), 200, { "content-type": PROMETHEUS_CONTENT_TYPE }));

  app.use("/api/*", async (c, next) => {
    if (!tokenMatches(deps.adminToken, bearerToken(c.req.header("authorization")))) throw new MeshError("unauthenticated", "an admin token is required (Authorization: Bearer …)");
    await next();
  });
  app.use(
    "/api/*",
    bodyLimit({ maxSize: LIMITS.maxBytes, onError: () => { throw new MeshError("invalid_argument", `request body larger than ${LIMITS.maxBytes} bytes`); } }),
  );

  const commitAndCount = async (ops: readonly WriteOp[]) => {
    const result = await store.commit(ops);
    for (const r of result.results) writes.labels({ kind: r.resource.kind, outcome: r.outcome }).inc();
    return result;
  };

  app.post("/api/v1/apply", async (c) => {
    const plan = planApply(await c.req.text(), "request body");
    if (c.req.query("dryRun") === "true") {
      return c.json({ dryRun: true, items: keysOf(plan.ops).map((key) => ({ ...key, outcome: "valid" })), warnings: plan.warnings });
    }
    const result = await commitAndCount(plan.ops);
    const items = result.results.map((r) => ({
      kind: r.resource.kind,
      namespace: r.resource.metadata.namespace,
      name: r.resource.metadata.name,
      outcome: r.outcome,
      resourceVersion: r.resource.metadata.resourceVersion,
    }));
    log.info("applied", { revision: result.revision, count: items.length, changed: items.filter((i) => i.outcome !== "unchanged").length });
    return c.json({ revision: result.revision, items, warnings: plan.warnings });
  });

  app.post("/api/v1/delete", async (c) => {
    const keys = planDeleteDocuments(await c.req.text(), "request body");
    const result = await commitAndCount(keys.map((key) => ({ type: "delete" as const, key })));
    return c.json({ revision: result.revision, items: result.results.map((r) => ({ ...describeStored(r.resource), outcome: r.outcome })) });
  });

  // Operator views of the push pipeline: connected proxies (with NACKs) and translation warnings.
  app.get("/api/v1/xds/proxies", (c) => {
    const node = c.req.query("node");
    const page = { ...(node ? { node } : {}), limit: count(c.req.query("limit"), "limit", MAX_LISTED_PROXIES), offset: count(c.req.query("offset"), "offset", 0) };
    const { total, items } = deps.xds?.proxies.list(page) ?? { total: 0, items: [] };
    return c.json({ version: deps.xds?.version ?? "", total, items });
  });
  app.get("/api/v1/analysis", (c) => c.json({ version: deps.xds?.version ?? "", warnings: deps.xds?.warnings ?? [] }));

  // Node tokens: minted here (the token is shown once, never stored), listed and revoked by id or node.
  const tokens = () => {
    if (!deps.tokens) throw new MeshError("unimplemented", "this control plane has no certificate authority");
    return deps.tokens;
  };
  app.post("/api/v1/tokens", async (c) => {
    const body = (await c.req.json().catch(() => ({}))) as { node?: unknown; waypoint?: unknown; ttl?: unknown };
    if ((typeof body.node === "string") === (typeof body.waypoint === "string")) {
      throw new MeshError("invalid_argument", 'body needs "node" (a node name) or "waypoint" (NAMESPACE/NAME), not both', { detail: { path: "node" } });
    }
    const ttl = tokenTtlFromBody(body.ttl);
    const { token, record } = typeof body.waypoint === "string" ? await tokens().mintWaypoint(parseGatewayRef(body.waypoint, "waypoint"), ttl) : await tokens().mint(body.node as string, ttl);
    log.info("node token minted", { node: record.node, waypoint: record.waypoint, id: record.id, expiresAt: record.expiresAt });
    return c.json({ token, ...record });
  });
  app.get("/api/v1/tokens", async (c) => c.json({ items: await tokens().list() }));
  app.post("/api/v1/tokens/revoke", async (c) => {
    const body = (await c.req.json().catch(() => ({}))) as { id?: unknown; node?: unknown; waypoint?: unknown };
    const text = (k: "id" | "node" | "waypoint") => (typeof body[k] === "string" ? { [k]: body[k] } : {});
    const revoked = await tokens().revoke({ ...text("id"), ...text("node"), ...text("waypoint") });
    log.info("node tokens revoked", { ids: revoked.map((r) => r.id) });
    return c.json({ items: revoked });
  });

  // The CA's roots, and root rotation one step at a time (prepare → activate → retire).
  const ca = () => {
    if (!deps.ca) throw new MeshError("unimplemented", "this control plane has no certificate authority");
    return deps.ca;
  };
  app.get("/api/v1/ca", (c) => c.json(ca().status()));
  app.post("/api/v1/ca/rotate", async (c) => {
    const body = (await c.req.json().catch(() => ({}))) as { phase?: unknown };
    if (!ROTATION_PHASES.includes(body.phase as RotationPhase)) {
      throw new MeshError("invalid_argument", 'body needs "phase"', { detail: { path: "phase", accepted: ROTATION_PHASES } });
    }
    return c.json(await ca().rotate(body.phase as RotationPhase));
  });

  const list = async (c: Context, def: KindDefinition<never>, namespace: string | undefined) => {
    const filter = { kind: def.kind, ...(namespace !== undefined ? { namespace } : {}) };
    if (c.req.query("watch") === "true") return watchResponse(store, filter, c.req.query("resourceVersion"), c.req.raw.signal);
    const { items, revision } = await store.list(filter);
    return c.json({ apiVersion: "v1", kind: "List", metadata: { resourceVersion: revision }, items });
  };
  const getOne = async (c: Context, key: ResourceKey) => {
    const r = await store.get(key);
    if (!r) throw new MeshError("not_found", `${describeKey(key)} not found`);
    return c.json(r);
  };
  const deleteOne = async (c: Context, key: ResourceKey) => {
    const expected = c.req.query("resourceVersion");
    const result = await commitAndCount([{ type: "delete", key, ...(expected ? { expectedVersion: expected } : {}) }]);
    return c.json({ revision: result.revision, items: result.results.map((r) => ({ ...describeStored(r.resource), outcome: r.outcome })) });
  };

  app.get("/api/v1/namespaces/:ns/:plural/:name", (c) => getOne(c, namespacedKey(c)));
  app.delete("/api/v1/namespaces/:ns/:plural/:name", (c) => deleteOne(c, namespacedKey(c)));
  app.get("/api/v1/namespaces/:ns/:plural", (c) => list(c, namespacedKind(c.req.param("plural")), c.req.param("ns")));
  app.get("/api/v1/:plural/:name", (c) => getOne(c, clusterKey(c)));
  app.delete("/api/v1/:plural/:name", (c) => deleteOne(c, clusterKey(c)));
  app.get("/api/v1/:plural", (c) => list(c, kindOf(c.req.param("plural")), undefined));
  return app;
}

/** A non-negative integer query parameter (`fallback` when absent). */
function count(text: string | undefined, name: string, fallback: number): number {
  if (text === undefined) return fallback;
  if (!/^\d{1,9}$/.test(text)) throw new MeshError("invalid_argument", `${name} must be a non-negative integer`, { detail: { path: name } });
  return Number(text);
}

function kindOf(plural: string): KindDefinition<never> {
  const def = kindByName(plural);
  if (!def) throw new MeshError("not_found", `unknown resource type "${plural}"`);
  return def;
}

function namespacedKind(plural: string): KindDefinition<never> {
  const def = kindOf(plural);
  if (!def.namespaced) throw new MeshError("invalid_argument", `${def.kind} is cluster-scoped: use /api/v1/${def.plural}`);
  return def;
}

function namespacedKey(c: Context): ResourceKey {
  return { kind: namespacedKind(c.req.param("plural") as string).kind, namespace: c.req.param("ns") as string, name: c.req.param("name") as string };
}

function clusterKey(c: Context): ResourceKey {
  const def = kindOf(c.req.param("plural") as string);
  if (def.namespaced) throw new MeshError("invalid_argument", `${def.kind} is namespaced: use /api/v1/namespaces/{namespace}/${def.plural}/{name}`);
  return { kind: def.kind, namespace: "", name: c.req.param("name") as string };
}

function describeStored(r: { kind: string; metadata: { namespace: string; name: string; resourceVersion: string } }) {
  return { kind: r.kind, namespace: r.metadata.namespace, name: r.metadata.name, resourceVersion: r.metadata.resourceVersion };
}
