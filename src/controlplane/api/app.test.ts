import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { eventually } from "../../../test/support/eventually.ts";
import { bunRuntime } from "../../runtime/bun.ts";
import { createLogControl } from "../../telemetry/log.ts";
import { MetricsRegistry } from "../../telemetry/metrics.ts";
import { createSqliteStore } from "../store/sqlite-store.ts";
import type { ConfigStore } from "../store/store.ts";
import { createApiApp } from "./app.ts";

const TOKEN = "test-admin-token-0123456789";
const auth = { authorization: `Bearer ${TOKEN}` };

const BOOKINFO = `
apiVersion: v1
kind: Namespace
metadata: {name: bookinfo, labels: {istio.io/dataplane-mode: ambient}}
---
apiVersion: v1
kind: Service
metadata: {name: productpage, namespace: bookinfo}
spec: {selector: {app: productpage}, ports: [{port: 9080}]}
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: productpage-viewer, namespace: bookinfo}
spec:
  selector: {matchLabels: {app: productpage}}
  rules: [{from: [{source: {principals: [cluster.local/ns/default/sa/sleep]}}]}]
`;

let dir: string;
let store: ConfigStore;
let app: ReturnType<typeof createApiApp>;

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "mesh-api-"));
  store = createSqliteStore({ db: bunRuntime.openDatabase(join(dir, "store.db")) });
  app = createApiApp({ store, adminToken: TOKEN, metrics: new MetricsRegistry(), log: createLogControl({ format: "text", spec: "off" }).logger("api") });
});
afterEach(async () => {
  await store.close();
  rmSync(dir, { recursive: true, force: true });
});

const apply = (body: string, query = "") => app.request(`/api/v1/apply${query}`, { method: "POST", headers: auth, body });
const get = (path: string) => app.request(path, { headers: auth });

describe("REST API", () => {
  test("refuses requests without the admin token; health and metrics are open", async () => {
    expect((await app.request("/api/v1/services")).status).toBe(401);
    expect((await app.request("/api/v1/services", { headers: { authorization: "Bearer wrong-token-wrong-token!!" } })).status).toBe(401);
    const body = (await (await app.request("/api/v1/services")).json()) as { reason: string; kind: string };
    expect(body).toMatchObject({ kind: "Status", reason: "unauthenticated" });
    expect((await app.request("/healthz/ready")).status).toBe(200);
    const metrics = await (await app.request("/metrics")).text();
    expect(metrics).toContain('mesh_api_requests_total{method="GET",code="401"} 3');
  });

  test("apply creates, re-apply is unchanged, a change updates", async () => {
    const first = (await (await apply(BOOKINFO)).json()) as { items: Array<{ outcome: string; kind: string }> };
    expect(first.items.map((i) => `${i.kind}:${i.outcome}`)).toEqual(["Namespace:created", "Service:created", "AuthorizationPolicy:created"]);
    const again = (await (await apply(BOOKINFO)).json()) as { items: Array<{ outcome: string }> };
    expect(again.items.map((i) => i.outcome)).toEqual(["unchanged", "unchanged", "unchanged"]);
    const changed = (await (await apply(BOOKINFO.replace("port: 9080", "port: 9081"))).json()) as { items: Array<{ outcome: string }> };
    expect(changed.items.map((i) => i.outcome)).toEqual(["unchanged", "updated", "unchanged"]);
  });

  test("one invalid document refuses the whole apply, naming every problem", async () => {
    const bad = BOOKINFO + "---\napiVersion: v1\nkind: Service\nmetadata: {name: broken, namespace: bookinfo}\nspec: {ports: [{port: 0}], selctor: {}}\n";
    const res = await apply(bad);
    expect(res.status).toBe(400);
    const body = (await res.json()) as { message: string; reason: string };
    expect(body.reason).toBe("invalid_argument");
    expect(body.message).toContain("nothing was applied");
    expect(body.message).toContain("Service bookinfo/broken (document 4): spec.ports[0].port");
    expect(body.message).toContain("spec.selctor: unknown field");
    expect(((await (await get("/api/v1/services")).json()) as { items: unknown[] }).items).toEqual([]);
  });

  test("malformed YAML is a 400, not a crash", async () => {
    const res = await apply("kind: [unclosed\n");
    expect(res.status).toBe(400);
    expect(((await res.json()) as { message: string }).message).toContain("not valid YAML");
  });

  test("dry run validates without storing", async () => {
    const res = (await (await apply(BOOKINFO, "?dryRun=true")).json()) as { dryRun: boolean; items: unknown[] };
    expect(res.dryRun).toBe(true);
    expect(res.items).toHaveLength(3);
    expect(((await (await get("/api/v1/namespaces")).json()) as { items: unknown[] }).items).toEqual([]);
  });

  test("a stale resourceVersion is a 409 conflict", async () => {
    await apply(BOOKINFO);
    const svc = (await (await get("/api/v1/namespaces/bookinfo/services/productpage")).json()) as { metadata: { resourceVersion: string } };
    const withRv = (port: number, rv: string) =>
      `apiVersion: v1\nkind: Service\nmetadata: {name: productpage, namespace: bookinfo, resourceVersion: "${rv}"}\nspec: {ports: [{port: ${port}}]}\n`;
    expect((await apply(withRv(1, svc.metadata.resourceVersion))).status).toBe(200);
    const res = await apply(withRv(2, svc.metadata.resourceVersion));
    expect(res.status).toBe(409);
    expect(((await res.json()) as { reason: string }).reason).toBe("conflict");
  });

  test("get and list by Kubernetes-style paths", async () => {
    await apply(BOOKINFO);
    await apply("apiVersion: v1\nkind: Service\nmetadata: {name: sleep}\nspec: {ports: [{port: 80}]}\n");
    const all = (await (await get("/api/v1/services")).json()) as { items: Array<{ metadata: { namespace: string; name: string } }>; metadata: { resourceVersion: string } };
    expect(all.items.map((i) => `${i.metadata.namespace}/${i.metadata.name}`)).toEqual(["bookinfo/productpage", "default/sleep"]);
    expect(Number(all.metadata.resourceVersion)).toBeGreaterThan(0);
    const inNs = (await (await get("/api/v1/namespaces/bookinfo/svc")).json()) as { items: unknown[] };
    expect(inNs.items).toHaveLength(1);
    const ns = (await (await get("/api/v1/namespaces/bookinfo")).json()) as { kind: string; metadata: { labels: Record<string, string> } };
    expect(ns.kind).toBe("Namespace");
    expect(ns.metadata.labels["istio.io/dataplane-mode"]).toBe("ambient");
    expect((await get("/api/v1/namespaces/bookinfo/services/nope")).status).toBe(404);
    expect((await get("/api/v1/widgets")).status).toBe(404);
    expect((await get("/api/v1/namespaces/bookinfo/namespaces")).status).toBe(400);
  });

  test("delete by path (with precondition) and by documents", async () => {
    await apply(BOOKINFO);
    expect((await app.request("/api/v1/namespaces/bookinfo/services/productpage?resourceVersion=999", { method: "DELETE", headers: auth })).status).toBe(409);
    expect((await app.request("/api/v1/namespaces/bookinfo/services/productpage", { method: "DELETE", headers: auth })).status).toBe(200);
    expect((await app.request("/api/v1/namespaces/bookinfo/services/productpage", { method: "DELETE", headers: auth })).status).toBe(404);
    const res = await app.request("/api/v1/delete", { method: "POST", headers: auth, body: BOOKINFO.split("---")[2] ?? "" });
    expect(res.status).toBe(200);
    expect(((await (await get("/api/v1/authorizationpolicies")).json()) as { items: unknown[] }).items).toEqual([]);
  });

  test("watch lists first, then streams changes", async () => {
    await apply(BOOKINFO);
    const controller = new AbortController();
    const res = await app.request("/api/v1/namespaces/bookinfo/services?watch=true", { headers: auth, signal: controller.signal });
    const reader = (res.body as ReadableStream<Uint8Array>).getReader();
    const lines: string[] = [];
    let buffered = "";
    const pump = (async () => {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) return;
        buffered += new TextDecoder().decode(value);
        const parts = buffered.split("\n");
        buffered = parts.pop() ?? "";
        lines.push(...parts);
      }
    })();
    await eventually(() => expect(lines).toHaveLength(1));
    await apply(BOOKINFO.replace("port: 9080", "port: 9090"));
    await app.request("/api/v1/namespaces/bookinfo/services/productpage", { method: "DELETE", headers: auth });
    await eventually(() =>
      expect(lines.map((l) => JSON.parse(l) as { type: string; object: { spec: { ports: Array<{ port: number }> } } }).map((e) => `${e.type}:${e.object.spec.ports[0]?.port}`)).toEqual([
        "ADDED:9080",
        "MODIFIED:9090",
        "DELETED:9090",
      ]),
    );
    controller.abort();
    await reader.cancel().catch(() => {});
    await pump.catch(() => {});
  });

  test("a body over the limit is refused", async () => {
    const res = await apply("a: " + "x".repeat(4 * 1024 * 1024 + 10));
    expect(res.status).toBe(400);
  });
});
