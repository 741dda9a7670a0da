import { describe, expect, test } from "bun:test";
import { recordingHost, RequestContext } from "../plugin-api/index.ts";
import type { FilterConfigView, WaypointConfigView, WaypointListener } from "../state/view.ts";
import { ListenerChains, mergeJwtFilters } from "./chains.ts";

const listener: WaypointListener = { kind: "service", key: "bookinfo/reviews.bookinfo.svc.cluster.local", hostname: "reviews.bookinfo.svc.cluster.local", addresses: ["10.96.0.30"], ports: [{ port: 9080, targetPort: 0, protocol: "http" }] };
const other: WaypointListener = { ...listener, key: "bookinfo/ratings.bookinfo.svc.cluster.local", hostname: "ratings.bookinfo.svc.cluster.local" };
const router: FilterConfigView = { plugin: "router", source: "HTTPRoute bookinfo/reviews", phase: "route", priority: 0, targets: [], config: { routes: [] } };
const authz: FilterConfigView = { plugin: "authz", source: "AuthorizationPolicy bookinfo/deny-all", phase: "authz", priority: 0, targets: [listener.key], config: { action: "DENY", rules: [{}] } };
const config = (filters: FilterConfigView[]): WaypointConfigView => ({ namespace: "bookinfo", name: "waypoint", hbonePort: 15008, waypointFor: "service", listeners: [listener, other], filters });

async function run(chains: ListenerChains, c: WaypointConfigView, l: WaypointListener) {
  const host = recordingHost();
  const ctx = new RequestContext({ request: { method: "GET", authority: l.hostname, path: "/" }, destination: { listener: l.key, hostname: l.hostname, port: 9080 }, log: host.log, metrics: host.metrics });
  await chains.for(c, l).chain(ctx);
  return ctx;
}

describe("listener chains", () => {
  test("the router forwards to the terminal stage (no route attached: the listener's default)", async () => {
    let reached = 0;
    const chains = new ListenerChains(recordingHost(), async (ctx) => {
      reached++;
      ctx.respond(200);
    });
    const ctx = await run(chains, config([router]), listener);
    expect(reached).toBe(1);
    expect(ctx.upstream?.backend).toMatchObject({ kind: "Hostname", namespace: "bookinfo", name: "reviews.bookinfo.svc.cluster.local", port: 9080 });
  });
  test("a filter whose plugin this waypoint lacks fails its listener's requests closed, never skipped", async () => {
    const host = recordingHost();
    let reached = 0;
    const chains = new ListenerChains(host, async (ctx) => {
      reached++;
      ctx.respond(200);
    });
    const c = config([authz, router]);
    expect((await run(chains, c, listener)).response?.status).toBe(500);
    expect(chains.for(c, listener).refusals[0]?.message).toContain("plugin authz (for AuthorizationPolicy bookinfo/deny-all) is not available");
    // Another listener, not targeted by the policy, is served.
    expect((await run(chains, c, other)).response?.status).toBe(200);
    expect(reached).toBe(1);
  });
  test("a chain is built once per config version and listener", () => {
    const chains = new ListenerChains(recordingHost(), async () => {});
    const c = config([router]);
    expect(chains.for(c, listener)).toBe(chains.for(c, listener));
    expect(chains.for(config([router]), listener)).not.toBe(chains.for(c, listener));
  });
});

describe("RequestAuthentications on a listener (Istio merges them into one jwt filter)", () => {
  const ra = (name: string, issuer: string): FilterConfigView => ({ plugin: "jwt", source: `RequestAuthentication bookinfo/${name}`, phase: "authn", priority: 0, targets: [], config: { jwtRules: [{ issuer, jwks: '{"keys":[{"kty":"oct","k":"eA"}]}' }] } });
  test("one stays as it is; several become one, in the first's place, with every rule in order", () => {
    expect(mergeJwtFilters([ra("a", "A"), router])).toEqual([ra("a", "A"), router]);
    const merged = mergeJwtFilters([ra("a", "A"), ra("b", "B"), router]);
    expect(merged.map((f) => [f.plugin, f.source])).toEqual([["jwt", "RequestAuthentication bookinfo/a, RequestAuthentication bookinfo/b"], ["router", "HTTPRoute bookinfo/reviews"]]);
    expect((merged[0]?.config.jwtRules as { issuer: string }[]).map((r) => r.issuer)).toEqual(["A", "B"]);
  });
  test("the jwt plugin is built in: a request without a token passes, a malformed one is 401", async () => {
    const chains = new ListenerChains(recordingHost(), async (ctx) => ctx.respond(200));
    const c = config([ra("a", "A"), ra("b", "B"), router]);
    expect(chains.for(c, listener).refusals).toEqual([]);
    expect((await run(chains, c, listener)).response?.status).toBe(200);
    const host = recordingHost();
    const ctx = new RequestContext({ request: { method: "GET", authority: listener.hostname, path: "/", headers: { authorization: "Bearer not-a-jwt" } }, destination: { listener: listener.key, hostname: listener.hostname, port: 9080 }, log: host.log, metrics: host.metrics });
    await chains.for(c, listener).chain(ctx);
    expect(ctx.response?.status).toBe(401);
  });
});
