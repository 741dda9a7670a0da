/** parseConfig refuses what the router cannot use, naming the field. */
import { describe, expect, test } from "bun:test";
import { PluginConfigError } from "../../src/plugin-api/index.ts";
import { routerPlugin } from "./index.ts";

const P = "bookinfo/reviews.bookinfo.svc.cluster.local";
const withRule = (rule: unknown, kind = "HTTPRoute") => ({ routes: [{ kind, namespace: "bookinfo", name: "r", parents: [P], hostnames: [], rules: [rule] }] });

describe("router parseConfig", () => {
  const cases: Array<[string, unknown, string, string]> = [
    ["not an object", [], "", "must be an object, got an array"],
    ["an unknown top-level field", { routes: [], extra: 1 }, "extra", "unknown field (expected one of routes, faults)"],
    ["an unknown route kind", { routes: [{ kind: "TCPRoute", namespace: "a", name: "b", parents: [P], rules: [] }] }, "routes[0].kind", 'must be one of HTTPRoute, GRPCRoute (got "TCPRoute")'],
    ["a malformed parent", { routes: [{ kind: "HTTPRoute", namespace: "a", name: "b", parents: ["reviews"], rules: [] }] }, "routes[0].parents[0]", 'must be "<namespace>/<hostname>[:port]" (got "reviews")'],
    ["a parent port out of range", { routes: [{ kind: "HTTPRoute", namespace: "a", name: "b", parents: [`${P}:70000`], rules: [] }] }, "routes[0].parents[0]", "port must be between 1 and 65535 (got 70000)"],
    ["a regular expression that does not compile", withRule({ matches: [{ path: { type: "RegularExpression", value: "([" } }] }), "routes[0].rules[0].matches[0].path.value", "not a valid regular expression"],
    ["a path regex that backtracks exponentially (ReDoS)", withRule({ matches: [{ path: { type: "RegularExpression", value: "/(a+)+" } }] }), "routes[0].rules[0].matches[0].path.value", "nested quantifier"],
    ["a header regex that backtracks exponentially (ReDoS)", withRule({ matches: [{ headers: [{ type: "RegularExpression", name: "x", value: "(x|xx)+" }] }] }), "routes[0].rules[0].matches[0].headers[0].value", "repeated alternation"],
    ["a relative Exact path", withRule({ matches: [{ path: { type: "Exact", value: "foo" } }] }), "routes[0].rules[0].matches[0].path.value", 'must be an absolute path starting with "/"'],
    ["an unknown method", withRule({ matches: [{ method: "BREW" }] }), "routes[0].rules[0].matches[0].method", "must be one of GET, HEAD"],
    ["a Service backend without a port", withRule({ backendRefs: [{ name: "reviews" }] }), "routes[0].rules[0].backendRefs[0].port", "required for a Service backend"],
    ["a negative weight", withRule({ backendRefs: [{ name: "reviews", port: 9080, weight: -1 }] }), "routes[0].rules[0].backendRefs[0].weight", "must be between 0 and 1000000 (got -1)"],
    ["a bad timeout", withRule({ timeouts: { request: "ten seconds" } }), "routes[0].rules[0].timeouts.request", "must be a Gateway API duration"],
    ["a retry code outside 400-599", withRule({ retry: { codes: [200] } }), "routes[0].rules[0].retry.codes[0]", "must be between 400 and 599 (got 200)"],
    ["ReplacePrefixMatch without a single PathPrefix match", withRule({ matches: [{ path: { type: "Exact", value: "/a" } }], filters: [{ type: "URLRewrite", urlRewrite: { path: { type: "ReplacePrefixMatch", replacePrefixMatch: "/b" } } }] }), "routes[0].rules[0].filters[0].urlRewrite.path.type", "ReplacePrefixMatch needs the rule to have exactly one match"],
    ["a redirect status the Gateway API does not allow", withRule({ filters: [{ type: "RequestRedirect", requestRedirect: { statusCode: 300 } }] }), "routes[0].rules[0].filters[0].requestRedirect.statusCode", "must be one of 301, 302, 303, 307, 308"],
    ["a mirror fraction above 1", withRule({ filters: [{ type: "RequestMirror", requestMirror: { backendRef: { name: "s", port: 1 }, fraction: { numerator: 3, denominator: 2 } } }] }), "routes[0].rules[0].filters[0].requestMirror.fraction.numerator", "must be between 0 and 2 (got 3)"],
    ["a gRPC method match naming nothing", withRule({ matches: [{ method: { type: "Exact" } }] }, "GRPCRoute"), "routes[0].rules[0].matches[0].method", "must set service, method or both"],
    ["an HTTP field in a GRPCRoute match", withRule({ matches: [{ path: { value: "/" } }] }, "GRPCRoute"), "routes[0].rules[0].matches[0].path", "unknown field"],
    ["a fault with neither delay nor abort", { routes: [], faults: { "bookinfo/f": {} } }, "faults.bookinfo/f", "needs delay, abort or both"],
    ["a fault abort with both statuses", { routes: [], faults: { "bookinfo/f": { abort: { httpStatus: 503, grpcStatus: 14 } } } }, "faults.bookinfo/f.abort", "needs exactly one of httpStatus, grpcStatus"],
    ["a fault percentage over 100", { routes: [], faults: { "bookinfo/f": { delay: { fixedDelay: "1s", percentage: 101 } } } }, "faults.bookinfo/f.delay.percentage", "must be between 0 and 100 (got 101)"],
  ];
  for (const [name, raw, path, message] of cases) {
    test(name, () => {
      let err: unknown = null;
      try {
        routerPlugin.parseConfig(raw);
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(PluginConfigError);
      expect((err as PluginConfigError).path).toBe(path);
      expect((err as PluginConfigError).message).toContain(message);
    });
  }

  test("what the control plane emits for bookinfo parses", () => {
    const config = routerPlugin.parseConfig({
      routes: [
        {
          kind: "HTTPRoute",
          namespace: "bookinfo",
          name: "reviews",
          parents: [`${P}:9080`],
          hostnames: [],
          rules: [
            { matches: [{ headers: [{ type: "Exact", name: "end-user", value: "jason" }] }], backendRefs: [{ name: "reviews-v2", port: 9080 }] },
            { backendRefs: [{ name: "reviews-v1", port: 9080, weight: 80 }, { name: "reviews-v2", port: 9080, weight: 10 }, { name: "reviews-v3", port: 9080, weight: 10 }] },
          ],
        },
      ],
    });
    expect(config.http.get(P)?.length).toBe(2);
    expect(config.warnings).toEqual([]);
  });
});
