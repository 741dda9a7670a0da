/** decideRoute as tables: Gateway API precedence, every match type, filters, faults, weights. */
import { describe, expect, test } from "bun:test";
import { createHeaders, seededRandom } from "../../src/plugin-api/index.ts";
import { parseRouterConfig } from "./config.ts";
import { decideRoute, type Decision, type RouteRequest } from "./decide.ts";

const LISTENER = "bookinfo/reviews.bookinfo.svc.cluster.local";
type Rule = Record<string, unknown>;
const route = (name: string, rules: Rule[], extra: Record<string, unknown> = {}) => ({ kind: "HTTPRoute", namespace: "bookinfo", name, parents: [LISTENER], hostnames: [], rules, ...extra });
const grpcRoute = (name: string, rules: Rule[]) => ({ ...route(name, rules), kind: "GRPCRoute" });
const to = (name: string, port = 9080) => ({ backendRefs: [{ name, port }] });
const path = (type: string, value: string) => ({ path: { type, value } });

function request(over: Partial<Omit<RouteRequest, "headers">> & { headers?: Record<string, string> } = {}): RouteRequest {
  const { headers, ...rest } = over;
  return { method: "GET", scheme: "http", authority: "reviews:9080", path: "/", query: "", listener: LISTENER, port: 9080, grpc: false, ...rest, headers: createHeaders(headers ?? {}) };
}

/** Where a decision sends the request, in one word: the backend name, or the local reply. */
function outcome(d: Decision): string {
  if (d.action === "not_found") return "404 route_not_found";
  if (d.action === "reply") return `${d.status} ${d.details}${d.location ? ` ${d.location}` : ""}${d.grpcStatus !== null ? ` grpc-status ${d.grpcStatus}` : ""}`;
  return d.upstream.backend.name;
}

const decide = (routes: unknown[], req: RouteRequest, extra: Record<string, unknown> = {}) => decideRoute(parseRouterConfig({ routes, ...extra }), req, seededRandom(7));

describe("precedence (Gateway API HTTPRoute)", () => {
  const cases: Array<[string, unknown[], RouteRequest, string]> = [
    ["Exact beats PathPrefix of the same value, even from a newer route", [route("old", [{ matches: [path("PathPrefix", "/foo")], ...to("prefix") }]), route("new", [{ matches: [path("Exact", "/foo")], ...to("exact") }])], request({ path: "/foo" }), "exact"],
    ["the longer prefix wins", [route("a", [{ matches: [path("PathPrefix", "/foo")], ...to("short") }, { matches: [path("PathPrefix", "/foo/bar")], ...to("long") }])], request({ path: "/foo/bar/baz" }), "long"],
    ["a prefix beats a regular expression", [route("a", [{ matches: [path("RegularExpression", "/foo.*")], ...to("regex") }, { matches: [path("PathPrefix", "/")], ...to("prefix") }])], request({ path: "/foo" }), "prefix"],
    ["same path: a method match wins", [route("a", [{ matches: [path("PathPrefix", "/")], ...to("any") }, { matches: [{ ...path("PathPrefix", "/"), method: "GET" }], ...to("get") }])], request(), "get"],
    ["same path and method: more header matches win", [route("a", [{ matches: [{ headers: [{ name: "a", value: "1" }] }], ...to("one") }, { matches: [{ headers: [{ name: "a", value: "1" }, { name: "b", value: "2" }] }], ...to("two") }])], request({ headers: { a: "1", b: "2" } }), "two"],
    ["then more query matches win", [route("a", [{ matches: [{ queryParams: [{ name: "x", value: "1" }] }], ...to("one") }, { matches: [{ queryParams: [{ name: "x", value: "1" }, { name: "y", value: "2" }] }], ...to("two") }])], request({ query: "x=1&y=2" }), "two"],
    ["headers outrank query params", [route("a", [{ matches: [{ queryParams: [{ name: "x", value: "1" }, { name: "y", value: "2" }] }], ...to("query") }, { matches: [{ headers: [{ name: "a", value: "1" }] }], ...to("header") }])], request({ query: "x=1&y=2", headers: { a: "1" } }), "header"],
    ["a full tie: the older route wins", [route("older", [to("older")]), route("newer", [to("newer")])], request(), "older"],
    ["a tie inside one route: the first rule wins", [route("a", [to("first"), to("second")])], request(), "first"],
    ["a prefix longer than the path does not match it", [route("a", [{ matches: [path("PathPrefix", "/foo/bar")], ...to("long") }, to("root")])], request({ path: "/foo" }), "root"],
  ];
  for (const [name, routes, req, want] of cases) test(name, () => expect(outcome(decide(routes, req))).toBe(want));
});

describe("matches", () => {
  const only = (match: Record<string, unknown>) => [route("r", [{ matches: [match], ...to("hit") }])];
  const cases: Array<[string, Record<string, unknown>, RouteRequest, string]> = [
    ["Exact path", path("Exact", "/foo"), request({ path: "/foo" }), "hit"],
    ["Exact path is not a prefix", path("Exact", "/foo"), request({ path: "/foo/" }), "404 route_not_found"],
    ["Exact path is case-sensitive", path("Exact", "/foo"), request({ path: "/FOO" }), "404 route_not_found"],
    ["PathPrefix matches the path itself", path("PathPrefix", "/foo"), request({ path: "/foo" }), "hit"],
    ["PathPrefix matches below it", path("PathPrefix", "/foo"), request({ path: "/foo/bar" }), "hit"],
    ["PathPrefix is element-wise: /foo does not match /foobar", path("PathPrefix", "/foo"), request({ path: "/foobar" }), "404 route_not_found"],
    ["PathPrefix /foo/ (trailing slash) matches /foo", path("PathPrefix", "/foo/"), request({ path: "/foo" }), "hit"],
    ["PathPrefix / matches everything", path("PathPrefix", "/"), request({ path: "/anything/at/all" }), "hit"],
    ["a regular expression must match the whole path", path("RegularExpression", "/api/v[0-9]+"), request({ path: "/api/v1/x" }), "404 route_not_found"],
    ["a regular expression that matches the whole path", path("RegularExpression", "/api/v[0-9]+/.*"), request({ path: "/api/v1/x" }), "hit"],
    ["method", { method: "POST" }, request({ method: "POST" }), "hit"],
    ["method mismatch", { method: "POST" }, request({ method: "GET" }), "404 route_not_found"],
    ["header names are case-insensitive", { headers: [{ name: "End-User", value: "jason" }] }, request({ headers: { "end-user": "jason" } }), "hit"],
    ["header values are case-sensitive", { headers: [{ name: "end-user", value: "jason" }] }, request({ headers: { "end-user": "Jason" } }), "404 route_not_found"],
    ["a missing header does not match", { headers: [{ name: "end-user", value: "jason" }] }, request(), "404 route_not_found"],
    ["header regular expression (whole value)", { headers: [{ type: "RegularExpression", name: "x-version", value: "v[12]" }] }, request({ headers: { "x-version": "v2" } }), "hit"],
    ["header regular expression is anchored", { headers: [{ type: "RegularExpression", name: "x-version", value: "v[12]" }] }, request({ headers: { "x-version": "v21" } }), "404 route_not_found"],
    ["of two header matches with one name only the first counts", { headers: [{ name: "a", value: "1" }, { name: "A", value: "2" }] }, request({ headers: { a: "1" } }), "hit"],
    ["every header must match", { headers: [{ name: "a", value: "1" }, { name: "b", value: "2" }] }, request({ headers: { a: "1" } }), "404 route_not_found"],
    ["query param exact, decoded", { queryParams: [{ name: "q", value: "a b" }] }, request({ query: "q=a%20b" }), "hit"],
    ["query param: the first value counts", { queryParams: [{ name: "q", value: "1" }] }, request({ query: "q=2&q=1" }), "404 route_not_found"],
    ["query param names are case-sensitive", { queryParams: [{ name: "q", value: "1" }] }, request({ query: "Q=1" }), "404 route_not_found"],
    ["query param regular expression", { queryParams: [{ type: "RegularExpression", name: "id", value: "[0-9]+" }] }, request({ query: "id=42" }), "hit"],
  ];
  for (const [name, match, req, want] of cases) test(name, () => expect(outcome(decide(only(match), req))).toBe(want));

  test("one rule's matches are ORed", () => {
    const routes = [route("r", [{ matches: [path("Exact", "/a"), path("Exact", "/b")], ...to("hit") }])];
    expect([outcome(decide(routes, request({ path: "/a" }))), outcome(decide(routes, request({ path: "/b" }))), outcome(decide(routes, request({ path: "/c" })))]).toEqual(["hit", "hit", "404 route_not_found"]);
  });
});

describe("attachment", () => {
  const cases: Array<[string, unknown[], RouteRequest, string]> = [
    ["a listener with no route keeps its default route (the service it was sent to)", [route("r", [to("hit")])], request({ listener: "bookinfo/ratings.bookinfo.svc.cluster.local" }), "ratings.bookinfo.svc.cluster.local"],
    ["a route on port 9080 applies on 9080", [route("r", [to("hit")], { parents: [`${LISTENER}:9080`] })], request(), "hit"],
    ["a route on port 9080 leaves port 8080 on its default route", [route("r", [to("hit")], { parents: [`${LISTENER}:9080`] })], request({ port: 8080 }), "reviews.bookinfo.svc.cluster.local"],
    ["routes on the port that do not match: 404", [route("r", [{ matches: [path("Exact", "/x")], ...to("hit") }])], request(), "404 route_not_found"],
    ["hostnames are ignored for Service parents (GAMMA)", [route("r", [to("hit")], { hostnames: ["other.example.com"] })], request(), "hit"],
  ];
  for (const [name, routes, req, want] of cases) test(name, () => expect(outcome(decide(routes, req))).toBe(want));

  test("the default route forwards to the destination as a Hostname backend on the request's port", () => {
    const d = decide([], request({ port: 9080 }));
    expect(d.action === "forward" && d.route === null && d.upstream.backend).toEqual({ group: "networking.istio.io", kind: "Hostname", namespace: "bookinfo", name: "reviews.bookinfo.svc.cluster.local", port: 9080 });
  });
});

describe("GRPCRoute", () => {
  const grpc = (p: string, headers: Record<string, string> = {}) => request({ method: "POST", path: p, grpc: true, headers: { "content-type": "application/grpc", ...headers } });
  const m = (method: Record<string, unknown>, name: string, headers?: unknown[]) => ({ matches: [{ method, ...(headers ? { headers } : {}) }], ...to(name) });
  const routes = [
    grpcRoute("g", [
      m({ service: "helloworld.Greeter" }, "greeter"),
      m({ service: "helloworld.Greeter", method: "SayHello" }, "sayhello"),
      m({ method: "Check" }, "any-check"),
      m({ type: "RegularExpression", service: "grpc\\.health\\.v1\\..*" }, "health"),
      m({ service: "helloworld.Greeter", method: "SayHello" }, "canary", [{ name: "x-canary", value: "1" }]),
    ]),
    route("http", [{ matches: [path("PathPrefix", "/")], ...to("http-fallback") }]),
  ];
  const cases: Array<[string, RouteRequest, string]> = [
    ["service and method, exact", grpc("/helloworld.Greeter/SayHello"), "sayhello"],
    ["a header match adds precedence at equal service and method", grpc("/helloworld.Greeter/SayHello", { "x-canary": "1" }), "canary"],
    ["service only: any method of it", grpc("/helloworld.Greeter/SayGoodbye"), "greeter"],
    ["method only: that method of any service", grpc("/other.Svc/Check"), "any-check"],
    ["a regular expression on the service", grpc("/grpc.health.v1.Health/Watch"), "health"],
    ["no GRPCRoute matches: the HTTPRoutes are tried", grpc("/other.Svc/Other"), "http-fallback"],
    ["a plain HTTP request never takes a GRPCRoute", request({ path: "/helloworld.Greeter/SayHello" }), "http-fallback"],
  ];
  for (const [name, req, want] of cases) test(name, () => expect(outcome(decide(routes, req))).toBe(want));
});

describe("filters and backends", () => {
  const one = (rule: Rule, req = request(), extra: Record<string, unknown> = {}) => decide([route("r", [rule])], req, extra);

  const redirects: Array<[string, Record<string, unknown>, RouteRequest, string]> = [
    ["defaults: 302, same scheme, host and listener port, query kept", {}, request({ path: "/old/a", query: "x=1" }), "302 redirect http://reviews:9080/old/a?x=1"],
    ["scheme https: its well-known port, left out", { scheme: "https" }, request({ path: "/old" }), "302 redirect https://reviews/old"],
    ["hostname and port", { hostname: "new.example.com", port: 8443, statusCode: 301 }, request({ path: "/old" }), "301 redirect http://new.example.com:8443/old"],
    ["port 80 with http is left out", { port: 80 }, request({ path: "/old" }), "302 redirect http://reviews/old"],
    ["ReplacePrefixMatch", { path: { type: "ReplacePrefixMatch", replacePrefixMatch: "/v2" } }, request({ path: "/old/x" }), "302 redirect http://reviews:9080/v2/x"],
    ["ReplaceFullPath", { path: { type: "ReplaceFullPath", replaceFullPath: "/moved" }, statusCode: 308 }, request({ path: "/old/x" }), "308 redirect http://reviews:9080/moved"],
  ];
  for (const [name, redirect, req, want] of redirects) {
    test(`redirect: ${name}`, () => expect(outcome(one({ matches: [path("PathPrefix", "/old")], filters: [{ type: "RequestRedirect", requestRedirect: redirect }] }, req))).toBe(want));
  }

  // The Gateway API's ReplacePrefixMatch table (HTTPPathModifier).
  const rewrites: Array<[string, string, string, string]> = [
    ["/foo/bar", "/foo", "/xyz", "/xyz/bar"],
    ["/foo/bar", "/foo", "/xyz/", "/xyz/bar"],
    ["/foo/bar", "/foo/", "/xyz", "/xyz/bar"],
    ["/foo/bar", "/foo/", "/xyz/", "/xyz/bar"],
    ["/foo", "/foo", "/xyz", "/xyz"],
    ["/foo/", "/foo", "/xyz", "/xyz/"],
    ["/foo/bar", "/foo", "", "/bar"],
    ["/foo/", "/foo", "", "/"],
    ["/foo", "/foo", "", "/"],
    ["/foo/", "/foo", "/", "/"],
    ["/foo", "/foo", "/", "/"],
  ];
  for (const [reqPath, prefix, replacement, want] of rewrites) {
    test(`URLRewrite ReplacePrefixMatch: ${reqPath} under ${prefix} → "${replacement}"`, () => {
      const d = one({ matches: [path("PathPrefix", prefix)], filters: [{ type: "URLRewrite", urlRewrite: { path: { type: "ReplacePrefixMatch", replacePrefixMatch: replacement } } }], ...to("b") }, request({ path: reqPath }));
      expect(d.action === "forward" && d.path).toBe(want);
    });
  }

  test("URLRewrite: full path and hostname", () => {
    const d = one({ filters: [{ type: "URLRewrite", urlRewrite: { hostname: "internal.example", path: { type: "ReplaceFullPath", replaceFullPath: "/v1" } } }], ...to("b") }, request({ path: "/anything" }));
    expect(d.action === "forward" && [d.path, d.authority]).toEqual(["/v1", "internal.example"]);
  });

  test("header modifiers of the rule and of the chosen backend, in that order", () => {
    const mod = (set: string) => ({ set: [{ name: "X-Set", value: set }], add: [{ name: "x-add", value: "a" }], remove: ["X-Remove"] });
    const d = one({ filters: [{ type: "RequestHeaderModifier", requestHeaderModifier: mod("rule") }, { type: "ResponseHeaderModifier", responseHeaderModifier: { add: [{ name: "x-served-by", value: "waypoint" }] } }], backendRefs: [{ name: "b", port: 9080, filters: [{ type: "RequestHeaderModifier", requestHeaderModifier: mod("backend") }] }] });
    expect(d.action === "forward" && d.requestHeaders.map((o) => o.set)).toEqual([[["x-set", "rule"]], [["x-set", "backend"]]]);
    expect(d.action === "forward" && d.responseHeaders).toEqual([{ set: [], add: [["x-served-by", "waypoint"]], remove: [] }]);
  });

  test("timeouts and retry reach the upstream selection (0s: no bound; retry defaults)", () => {
    const d = one({ timeouts: { request: "10s", backendRequest: "0s" }, retry: { codes: [503, 502] }, ...to("b") });
    expect(d.action === "forward" && [d.upstream.timeouts, d.upstream.retry]).toEqual([{ requestMs: 10_000, backendRequestMs: null }, { attempts: 2, codes: [503, 502], backoffMs: 25 }]);
  });

  test("mirrors: 100 % always recorded, 0 % never; backend defaults filled in", () => {
    const mirror = (name: string, percent: number) => ({ type: "RequestMirror", requestMirror: { backendRef: { name, port: 9080 }, percent } });
    const d = one({ filters: [mirror("shadow", 100), mirror("never", 0)], ...to("b") });
    expect(d.action === "forward" && d.upstream.mirrors).toEqual([{ group: "", kind: "Service", namespace: "bookinfo", name: "shadow", port: 9080 }]);
  });

  const local: Array<[string, Rule, RouteRequest, Record<string, unknown>, string]> = [
    ["a rule without backendRefs: 503", { matches: [path("PathPrefix", "/")] }, request(), {}, "503 no_backend"],
    ["every backend weight 0: 500", { backendRefs: [{ name: "a", port: 1, weight: 0 }] }, request(), {}, "500 no_backend_weight"],
    ["an ExtensionRef the router does not serve: 500", { filters: [{ type: "ExtensionRef", extensionRef: { group: "example.com", kind: "Thing", name: "x" } }], ...to("b") }, request(), {}, "500 unsupported_filter"],
    ["an HTTPFault missing from the config: 500", { filters: [{ type: "ExtensionRef", extensionRef: { group: "mesh.dev", kind: "HTTPFault", name: "nope" } }], ...to("b") }, request(), {}, "500 unsupported_filter"],
    ["CORS is not served: 500", { filters: [{ type: "CORS", cors: {} }], ...to("b") }, request(), {}, "500 unsupported_filter"],
    ["fault abort at 100 %", { filters: [{ type: "ExtensionRef", extensionRef: { group: "mesh.dev", kind: "HTTPFault", name: "flaky" } }], ...to("b") }, request(), { faults: { "bookinfo/flaky": { abort: { httpStatus: 503, percentage: 100 } } } }, "503 fault_filter_abort"],
    ["fault abort at 0 % forwards", { filters: [{ type: "ExtensionRef", extensionRef: { group: "mesh.dev", kind: "HTTPFault", name: "flaky" } }], ...to("b") }, request(), { faults: { "bookinfo/flaky": { abort: { httpStatus: 503, percentage: 0 } } } }, "b"],
    ["a gRPC fault abort carries its grpc-status", { filters: [{ type: "ExtensionRef", extensionRef: { group: "mesh.dev", kind: "HTTPFault", name: "g" } }], ...to("b") }, request(), { faults: { "bookinfo/g": { abort: { grpcStatus: 14 } } } }, "200 fault_filter_abort grpc-status 14"],
  ];
  for (const [name, rule, req, extra, want] of local) test(name, () => expect(outcome(one(rule, req, extra))).toBe(want));

  test("fault delay is part of the decision", () => {
    const d = one({ filters: [{ type: "ExtensionRef", extensionRef: { group: "mesh.dev", kind: "HTTPFault", name: "slow" } }], ...to("b") }, request(), { faults: { "bookinfo/slow": { delay: { fixedDelay: "2s", percentage: 100 } } } });
    expect([d.action, d.delayMs]).toEqual(["forward", 2000]);
  });
});

describe("weights", () => {
  test("80/10/10 over 10,000 seeded draws: each share within ±3 points", () => {
    const config = parseRouterConfig({ routes: [route("split", [{ backendRefs: [{ name: "v1", port: 9080, weight: 80 }, { name: "v2", port: 9080, weight: 10 }, { name: "v3", port: 9080, weight: 10 }] }])] });
    const random = seededRandom(20261204);
    const counts: Record<string, number> = { v1: 0, v2: 0, v3: 0 };
    const req = request();
    for (let i = 0; i < 10_000; i++) {
      const d = decideRoute(config, req, random);
      if (d.action !== "forward") throw new Error(`unexpected ${outcome(d)}`);
      counts[d.upstream.backend.name] = (counts[d.upstream.backend.name] ?? 0) + 1;
    }
    const shares = Object.fromEntries(Object.entries(counts).map(([k, n]) => [k, (n / 10_000) * 100]));
    for (const [name, want] of [["v1", 80], ["v2", 10], ["v3", 10]] as const) expect(Math.abs((shares[name] as number) - want)).toBeLessThanOrEqual(3);
  });

  test("a weight of 0 is never chosen; the selection reports weight and total", () => {
    const config = parseRouterConfig({ routes: [route("r", [{ backendRefs: [{ name: "off", port: 1, weight: 0 }, { name: "on", port: 1, weight: 3 }] }])] });
    const random = seededRandom(3);
    for (let i = 0; i < 100; i++) {
      const d = decideRoute(config, request(), random);
      expect(d.action === "forward" && [d.upstream.backend.name, d.upstream.weight]).toEqual(["on", { index: 0, weight: 3, total: 3 }]);
    }
  });
});
