/**
 * Trust boundaries of the router, fuzzed with a seeded generator: a mutated config is either used
 * or refused with a PluginConfigError (never a TypeError), and arbitrary request bytes always get
 * a decision (never a throw).
 */
import { describe, expect, test } from "bun:test";
import { PluginConfigError, seededRandom } from "../../src/plugin-api/index.ts";
import { parseRouterConfig } from "./config.ts";
import { decideRoute } from "./decide.ts";

const P = "bookinfo/reviews.bookinfo.svc.cluster.local";
const FULL = {
  routes: [
    {
      kind: "HTTPRoute",
      namespace: "bookinfo",
      name: "reviews",
      parents: [P, `${P}:9080`],
      hostnames: ["reviews"],
      rules: [
        {
          name: "jason",
          matches: [{ path: { type: "PathPrefix", value: "/r" }, method: "GET", headers: [{ type: "RegularExpression", name: "end-user", value: "ja.on" }], queryParams: [{ name: "q", value: "1" }] }],
          filters: [
            { type: "RequestHeaderModifier", requestHeaderModifier: { set: [{ name: "a", value: "b" }], add: [{ name: "c", value: "d" }], remove: ["e"] } },
            { type: "URLRewrite", urlRewrite: { hostname: "x", path: { type: "ReplacePrefixMatch", replacePrefixMatch: "/v2" } } },
            { type: "RequestMirror", requestMirror: { backendRef: { name: "shadow", port: 1 }, fraction: { numerator: 1, denominator: 2 } } },
            { type: "ExtensionRef", extensionRef: { group: "mesh.dev", kind: "HTTPFault", name: "f" } },
          ],
          backendRefs: [{ name: "v1", port: 9080, weight: 80, filters: [{ type: "ResponseHeaderModifier", responseHeaderModifier: { add: [{ name: "x", value: "y" }] } }] }, { name: "v2", port: 9080, weight: 20 }],
          timeouts: { request: "10s", backendRequest: "2s" },
          retry: { codes: [503], attempts: 3, backoff: "100ms" },
        },
        { matches: [{ path: { type: "Exact", value: "/old" } }], filters: [{ type: "RequestRedirect", requestRedirect: { scheme: "https", hostname: "n", port: 8443, statusCode: 301, path: { type: "ReplaceFullPath", replaceFullPath: "/new" } } }] },
      ],
    },
    { kind: "GRPCRoute", namespace: "bookinfo", name: "g", parents: [P], hostnames: [], rules: [{ matches: [{ method: { type: "Exact", service: "a.B", method: "C" }, headers: [{ name: "h", value: "v" }] }], backendRefs: [{ name: "g", port: 9090 }] }] },
  ],
  faults: { "bookinfo/f": { delay: { fixedDelay: "1s", percentage: 50 }, abort: { httpStatus: 503, percentage: 10 } } },
};

const ODD: unknown[] = [null, undefined, 0, -1, 1.5, 1e9, "", "x", "/", "((", "(a+)+", true, [], {}, [null], { type: "Exact" }, "a".repeat(5000)];

/** Every [container, key] in a JSON tree. */
function slots(v: unknown, out: Array<[Record<string | number, unknown>, string | number]> = []): typeof out {
  if (v !== null && typeof v === "object") {
    for (const k of Object.keys(v)) {
      const key = Array.isArray(v) ? Number(k) : k;
      out.push([v as Record<string | number, unknown>, key]);
      slots((v as Record<string | number, unknown>)[key], out);
    }
  }
  return out;
}

describe("router fuzz", () => {
  test("mutated configs are used or refused with a field path, never crash (3,000 seeded mutations)", () => {
    expect(() => parseRouterConfig(FULL)).not.toThrow();
    const random = seededRandom(1204);
    const pick = <T>(xs: readonly T[]): T => xs[Math.floor(random() * xs.length)] as T;
    let refused = 0;
    for (let i = 0; i < 3000; i++) {
      const config = structuredClone(FULL);
      for (let n = 1 + Math.floor(random() * 3); n > 0; n--) {
        const [container, key] = pick(slots(config));
        if (random() < 0.2) {
          if (Array.isArray(container)) container.splice(key as number, 1);
          else delete container[key];
        }
        else container[key] = pick(ODD);
      }
      try {
        const parsed = parseRouterConfig(config);
        decideRoute(parsed, { method: "GET", scheme: "http", authority: "reviews", path: "/r/1", query: "q=1", headers: { get: () => "jason" }, listener: P, port: 9080, grpc: false }, random);
      } catch (err) {
        if (!(err instanceof PluginConfigError)) throw new Error(`mutation ${i} crashed: ${String(err)}\n${JSON.stringify(config).slice(0, 2000)}`);
        refused++;
      }
    }
    expect(refused).toBeGreaterThan(0);
  });

  test("arbitrary request bytes always get a decision (5,000 seeded requests)", () => {
    const config = parseRouterConfig(FULL);
    const random = seededRandom(42);
    const text = (max: number) => Array.from({ length: Math.floor(random() * max) }, () => String.fromCharCode(Math.floor(random() * 0x300))).join("");
    const actions = new Set<string>();
    for (let i = 0; i < 5000; i++) {
      const header = text(40);
      const d = decideRoute(config, { method: pick(["GET", "POST", text(8)]), scheme: "http", authority: text(30), path: (random() < 0.5 ? "/r" : "/") + text(60), query: text(40), headers: { get: () => (random() < 0.5 ? null : header) }, listener: random() < 0.9 ? P : text(20), port: random() < 0.9 ? 9080 : 1, grpc: random() < 0.3 }, random);
      actions.add(d.action);
    }
    expect(actions.has("forward") && actions.has("not_found")).toBe(true);
    function pick<T>(xs: readonly T[]): T {
      return xs[Math.floor(random() * xs.length)] as T;
    }
  });
});
