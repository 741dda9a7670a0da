/** The router filter in a chain, without sockets: what the upstream stage and the client see. */
import { describe, expect, test } from "bun:test";
import { buildChain, recordingHost, RequestContext, steppingClock, type Terminal } from "../../src/plugin-api/index.ts";
import { routerPlugin } from "./index.ts";

const P = "bookinfo/reviews.bookinfo.svc.cluster.local";
const config = {
  routes: [
    {
      kind: "HTTPRoute",
      namespace: "bookinfo",
      name: "reviews",
      parents: [P],
      hostnames: [],
      rules: [
        {
          matches: [{ headers: [{ name: "end-user", value: "jason" }] }],
          filters: [
            { type: "RequestHeaderModifier", requestHeaderModifier: { set: [{ name: "x-route", value: "jason" }], remove: ["x-debug"] } },
            { type: "ResponseHeaderModifier", responseHeaderModifier: { add: [{ name: "x-served-by", value: "waypoint" }], remove: ["server"] } },
          ],
          backendRefs: [{ name: "reviews-v2", port: 9080 }],
        },
        {
          matches: [{ path: { type: "PathPrefix", value: "/slow" } }],
          filters: [{ type: "ExtensionRef", extensionRef: { group: "mesh.dev", kind: "HTTPFault", name: "slow" } }, { type: "URLRewrite", urlRewrite: { path: { type: "ReplacePrefixMatch", replacePrefixMatch: "/" } } }],
          backendRefs: [{ name: "reviews-v1", port: 9080 }],
        },
        { matches: [{ path: { type: "Exact", value: "/reviews" } }], backendRefs: [{ name: "reviews-v1", port: 9080 }] },
      ],
    },
    { kind: "GRPCRoute", namespace: "bookinfo", name: "grpc", parents: [P], hostnames: [], rules: [{ matches: [{ method: { service: "reviews.Reviews", method: "Get" } }], backendRefs: [{ name: "reviews-grpc", port: 9090 }] }] },
  ],
  faults: { "bookinfo/slow": { delay: { fixedDelay: "1500ms", percentage: 100 } } },
};

/** Stands in for the upstream stage: answers with what it was asked to do. */
const upstream: Terminal = async (ctx) => {
  ctx.respond(200, { headers: { "x-backend": ctx.upstream?.backend.name ?? "none", "x-path": ctx.request.path, server: "envoy" }, details: "via_upstream" });
};

function run(request: { path: string; method?: string; headers?: Record<string, string> }) {
  const clock = steppingClock();
  const host = recordingHost({ clock, seed: 5 });
  const { chain, refusals } = buildChain([{ name: "router", plugin: routerPlugin, config, failurePolicy: "FailClosed" }], upstream, host);
  expect(refusals).toEqual([]);
  const ctx = new RequestContext({
    request: { method: request.method ?? "GET", authority: "reviews:9080", path: request.path, headers: request.headers ?? {} },
    destination: { listener: P, hostname: "reviews.bookinfo.svc.cluster.local", port: 9080 },
    log: host.log,
    metrics: host.metrics,
  });
  return { ctx, clock, done: chain(ctx) };
}

describe("router filter", () => {
  test("end-user: jason goes to v2 with the rule's header changes both ways", async () => {
    const { ctx, done } = run({ path: "/reviews/1", headers: { "end-user": "jason", "x-debug": "1" } });
    await done;
    expect(ctx.route).toEqual({ kind: "HTTPRoute", namespace: "bookinfo", name: "reviews", rule: 0, ruleName: null });
    expect(ctx.upstream?.backend).toEqual({ group: "", kind: "Service", namespace: "bookinfo", name: "reviews-v2", port: 9080 });
    expect([ctx.request.headers.get("x-route"), ctx.request.headers.has("x-debug")]).toEqual(["jason", false]);
    expect([ctx.response?.headers.get("x-backend"), ctx.response?.headers.get("x-served-by"), ctx.response?.headers.has("server")]).toEqual(["reviews-v2", "waypoint", false]);
  });

  test("an injected delay waits on the host clock, then the rewritten request is forwarded", async () => {
    const { ctx, clock, done } = run({ path: "/slow/reviews" });
    await done;
    expect(clock.sleeps).toEqual([1500]);
    expect([ctx.response?.headers.get("x-backend"), ctx.response?.headers.get("x-path")]).toEqual(["reviews-v1", "/reviews"]);
  });

  test("no rule matches: 404 route_not_found, the upstream is not called", async () => {
    const { ctx, done } = run({ path: "/nothing" });
    await done;
    expect([ctx.response?.status, ctx.response?.details, ctx.response?.headers.get("x-backend"), ctx.upstream]).toEqual([404, "route_not_found", null, null]);
  });

  test("a gRPC request with no matching route gets a trailers-only UNIMPLEMENTED", async () => {
    const { ctx, done } = run({ path: "/reviews.Reviews/List", method: "POST", headers: { "content-type": "application/grpc" } });
    await done;
    expect([ctx.response?.status, ctx.response?.headers.get("grpc-status"), ctx.response?.headers.get("grpc-message")]).toEqual([200, "12", "route_not_found"]);
  });

  test("a gRPC method routed by GRPCRoute", async () => {
    const { ctx, done } = run({ path: "/reviews.Reviews/Get", method: "POST", headers: { "content-type": "application/grpc" } });
    await done;
    expect([ctx.route?.kind, ctx.upstream?.backend.name, ctx.upstream?.backend.port]).toEqual(["GRPCRoute", "reviews-grpc", 9090]);
  });
});
