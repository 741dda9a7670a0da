/**
 * What the filter chain costs per request, in process and without I/O: a RequestContext built
 * from a request with three headers, run through three pass-through filters and the router
 * (bookinfo's reviews route: a header match, a prefix match with a header change, an 80/10/10
 * split), ending in a terminal that answers at once:
 *
 *   node_modules/.bin/bun run bench/tools/plugin-chain-cost.ts [--requests 200000] [--timeouts]
 *
 * `--timeouts` gives two of the pass-through filters a 50ms timeout (one timer per filter run).
 * Prints µs per request and requests/s on one core, after 20,000 warm-up requests. A figure for
 * comparisons on one machine in one run, not an assertion.
 */
import { parseArgs } from "node:util";
import { buildChain, definePlugin, recordingHost, RequestContext, type ChainSpec } from "../../src/plugin-api/index.ts";
import { routerPlugin } from "../../plugins/router/index.ts";

const { values } = parseArgs({ options: { requests: { type: "string", default: "200000" }, timeouts: { type: "boolean", default: false } } });
const N = Number(values.requests);
const P = "bookinfo/reviews.bookinfo.svc.cluster.local";
const host = recordingHost({ seed: 1 });
const pass = definePlugin({ name: "pass", version: "1", parseConfig: () => ({}), create: () => async function pass(_ctx, next) { await next(); } });
const router = {
  routes: [
    {
      kind: "HTTPRoute",
      namespace: "bookinfo",
      name: "reviews",
      parents: [P],
      hostnames: [],
      rules: [
        { matches: [{ headers: [{ name: "end-user", value: "jason" }] }], backendRefs: [{ name: "reviews-v2", port: 9080 }] },
        { matches: [{ path: { type: "PathPrefix", value: "/api" } }], filters: [{ type: "RequestHeaderModifier", requestHeaderModifier: { set: [{ name: "x-api", value: "1" }] } }], backendRefs: [{ name: "reviews-v3", port: 9080 }] },
        { backendRefs: [{ name: "reviews-v1", port: 9080, weight: 80 }, { name: "reviews-v2", port: 9080, weight: 10 }, { name: "reviews-v3", port: 9080, weight: 10 }] },
      ],
    },
  ],
};
const timeout = values.timeouts ? { timeoutMs: 50 } : {};
const specs: ChainSpec[] = [
  { name: "a", plugin: pass, config: {}, failurePolicy: "FailClosed", ...timeout },
  { name: "b", plugin: pass, config: {}, failurePolicy: "FailOpen", ...timeout },
  { name: "c", plugin: pass, config: {}, failurePolicy: "FailClosed" },
  { name: "router", plugin: routerPlugin, config: router, failurePolicy: "FailClosed" },
];
const { chain } = buildChain(specs, async (ctx) => ctx.respond(200), host);
const headers = { "user-agent": "curl/8", accept: "*/*", "x-request-id": "abc" };

async function once(): Promise<void> {
  const ctx = new RequestContext({ request: { method: "GET", authority: "reviews:9080", path: "/reviews/1", headers }, destination: { listener: P, hostname: "reviews", port: 9080 }, log: host.log, metrics: host.metrics });
  await chain(ctx);
  if (ctx.response?.status !== 200) throw new Error(`unexpected status ${ctx.response?.status}`);
}

for (let i = 0; i < 20_000; i++) await once();
const t0 = performance.now();
for (let i = 0; i < N; i++) await once();
const ms = performance.now() - t0;
console.log(`${values.timeouts ? "two timed filters" : "no timeouts"}: ${((ms * 1000) / N).toFixed(2)} µs/request, ${Math.round(N / (ms / 1000))} requests/s on one core`);
