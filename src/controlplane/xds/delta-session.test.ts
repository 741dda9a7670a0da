import { describe, expect, test } from "bun:test";
import { MeshError } from "../../errors/mesh-error.ts";
import { checkSubscriptionBounds, DeltaSession, MAX_NAME_CHARS, MAX_SUBSCRIBED_NAMES, type DeltaRequest, type DeltaResponse } from "./delta-session.ts";
import { ResourceEncoder, type ResourceIndex } from "./resources.ts";

const T = "type.googleapis.com/mesh.xds.v1.Workload";
const OTHER = "type.googleapis.com/mesh.xds.v1.Service";
const encoder = new ResourceEncoder();

function index(items: Record<string, string>, type = T): ResourceIndex {
  return new Map([[type, new Map(Object.entries(items).map(([name, content]) => [name, encoder.encode(type, name, new TextEncoder().encode(content))]))]]);
}

function req(partial: Partial<DeltaRequest>): DeltaRequest {
  return { typeUrl: T, subscribe: [], unsubscribe: [], initialVersions: {}, responseNonce: "", ...partial };
}

const names = (r: DeltaResponse) => r.resources.map((x) => x.name);

describe("DeltaSession", () => {
  test("wildcard: everything first, then only changes and removals", () => {
    const s = new DeltaSession([T]);
    const v1 = index({ a: "1", b: "1" });
    const first = s.onRequest(req({}), v1, "v1");
    expect(first.responses.map(names)).toEqual([["a", "b"]]);
    expect(first.responses[0]?.nonce).toBe("1");
    expect(s.onRequest(req({ responseNonce: "1" }), v1, "v1")).toEqual({ responses: [], acked: { typeUrl: T, nonce: "1" } });
    expect(s.onUpdate(v1, "v1")).toEqual([]);
    const v2 = s.onUpdate(index({ a: "2", c: "1" }), "v2");
    expect(v2.map((r) => [names(r), r.removed, r.systemVersion])).toEqual([[["a", "c"], ["b"], "v2"]]);
  });

  test("a reconnecting client sends its versions and gets only what differs", () => {
    const current = index({ a: "1", b: "2", c: "3" });
    const a = current.get(T)?.get("a")?.version as string;
    const s = new DeltaSession([T]);
    const out = s.onRequest(req({ initialVersions: { a, b: "stale", gone: "x" } }), current, "v");
    expect(out.responses.map((r) => [names(r), r.removed])).toEqual([[["b", "c"], ["gone"]]]);
  });

  test("an up-to-date reconnect still gets one (empty) response, so it knows it is in sync", () => {
    const current = index({ a: "1" });
    const s = new DeltaSession([T]);
    const out = s.onRequest(req({ initialVersions: { a: current.get(T)?.get("a")?.version as string } }), current, "v");
    expect(out.responses.map((r) => [names(r), r.removed])).toEqual([[[], []]]);
  });

  test("named subscriptions: only what was asked for; unsubscribing forgets silently", () => {
    const s = new DeltaSession([T]);
    const current = index({ a: "1", b: "1", c: "1" });
    expect(s.onRequest(req({ subscribe: ["a"] }), current, "v").responses.map(names)).toEqual([["a"]]);
    expect(s.onRequest(req({ subscribe: ["b", "zzz"], responseNonce: "1" }), current, "v").responses.map(names)).toEqual([["b"]]);
    expect(s.onRequest(req({ unsubscribe: ["a"] }), current, "v").responses).toEqual([]);
    expect(s.onUpdate(index({ a: "2", b: "2", c: "2" }), "v2").map(names)).toEqual([["b"]]);
  });

  test("a NACK is recorded with the resources it covered and not retried until they change", () => {
    const s = new DeltaSession([T]);
    s.onRequest(req({}), index({ a: "1" }), "v1");
    const v2 = index({ a: "bad", b: "1" });
    const push = s.onUpdate(v2, "v2");
    const out = s.onRequest(req({ responseNonce: push[0]?.nonce as string, errorDetail: { code: 3, message: "a: bad port" } }), v2, "v2");
    expect(out.nacked).toEqual({ typeUrl: T, nonce: push[0]?.nonce as string, message: "a: bad port", resources: ["a", "b"] });
    expect(out.responses).toEqual([]);
    expect(s.onUpdate(v2, "v2")).toEqual([]);
    expect(s.onUpdate(index({ a: "fixed", b: "1" }), "v3").map(names)).toEqual([["a"]]);
  });

  test("types are independent, and unknown types are refused", () => {
    const s = new DeltaSession([T, OTHER]);
    const both: ResourceIndex = new Map([...index({ a: "1" }), ...index({ x: "1" }, OTHER)]);
    expect(s.onRequest(req({}), both, "v").responses.map(names)).toEqual([["a"]]);
    expect(s.onRequest(req({ typeUrl: OTHER }), both, "v").responses.map(names)).toEqual([["x"]]);
    expect(s.subscribedTypes).toEqual([T, OTHER]);
    expect(s.onRequest(req({ typeUrl: "type.googleapis.com/envoy.config.cluster.v3.Cluster" }), both, "v").nacked?.message).toContain("not served");
  });

  test("large pushes are split below the size limit; removals and the version ride on the last part", () => {
    const s = new DeltaSession([T], 200);
    s.onRequest(req({}), index({ old: "x" }), "v1");
    const big = Object.fromEntries(Array.from({ length: 10 }, (_, i) => [`r${i}`, "x".repeat(50)]));
    const out = s.onUpdate(index(big), "v2");
    expect(out.length).toBeGreaterThan(3);
    for (const r of out) expect(r.resources.reduce((n, x) => n + x.size, 0)).toBeLessThanOrEqual(200);
    expect(out.flatMap(names)).toHaveLength(10);
    expect(out.map((r) => r.removed)).toEqual([...Array(out.length - 1).fill([]), ["old"]]);
    expect(out.map((r) => r.systemVersion)).toEqual([...Array(out.length - 1).fill(""), "v2"]);
    expect(new Set(out.map((r) => r.nonce)).size).toBe(out.length);
  });

  test("with a delta, only the names it lists are diffed; without one, everything is", () => {
    const s = new DeltaSession([T, OTHER]);
    s.onRequest(req({}), index({ a: "1", b: "1", c: "1" }), "v1");
    const next = index({ a: "2", b: "2" });
    const delta = new Map([[T, { changed: new Set(["a"]), removed: new Set(["c"]) }]]);
    expect(s.onUpdate(next, "v2", delta).map((r) => [names(r), r.removed])).toEqual([[["a"], ["c"]]]);
    // "b" changed too but the delta did not say so; a full diff finds it.
    expect(s.onUpdate(next, "v2").map((r) => [names(r), r.removed])).toEqual([[["b"], []]]);
    // A name both changed and then removed is reported once.
    const again = new Map([[T, { changed: new Set(["a"]), removed: new Set(["a"]) }]]);
    expect(s.onUpdate(index({ b: "2" }), "v3", again).map((r) => r.removed)).toEqual([["a"]]);
  });
});

describe("subscription bounds", () => {
  const T = "type.googleapis.com/mesh.xds.v1.Workload";
  const names = (n: number, prefix = "ns/w-") => Array.from({ length: n }, (_, i) => `${prefix}${i}`);
  const versions = (n: number) => Object.fromEntries(names(n).map((n) => [n, "v"]));
  const outcome = (f: () => void): string => {
    try {
      f();
      return "ok";
    } catch (err) {
      return MeshError.from(err).code;
    }
  };
  test.each([
    ["a wildcard subscription", { subscribe: [] }, new Set<string>(), true, 0, "ok"],
    ["names up to the bound", { subscribe: names(MAX_SUBSCRIBED_NAMES) }, new Set<string>(), true, 0, "ok"],
    ["one name past the bound", { subscribe: names(MAX_SUBSCRIBED_NAMES + 1) }, new Set<string>(), true, 0, "resource_exhausted"],
    ["past the bound over several requests", { subscribe: ["ns/new"] }, new Set(names(MAX_SUBSCRIBED_NAMES)), false, 0, "resource_exhausted"],
    ["names it has already do not count again", { subscribe: names(MAX_SUBSCRIBED_NAMES) }, new Set(names(MAX_SUBSCRIBED_NAMES)), false, 0, "ok"],
    ["repeats in one request count once", { subscribe: [...names(MAX_SUBSCRIBED_NAMES), ...names(MAX_SUBSCRIBED_NAMES)] }, new Set<string>(), true, 0, "ok"],
    ["a name too long", { subscribe: ["x".repeat(MAX_NAME_CHARS + 1)] }, new Set<string>(), true, 0, "invalid_argument"],
    ["initial versions up to what exists plus the bound", { initialVersions: versions(MAX_SUBSCRIBED_NAMES + 500) }, new Set<string>(), true, 500, "ok"],
    ["initial versions past it", { initialVersions: versions(MAX_SUBSCRIBED_NAMES + 501) }, new Set<string>(), true, 500, "resource_exhausted"],
    ["initial versions are only read on the first request", { initialVersions: versions(MAX_SUBSCRIBED_NAMES + 501) }, new Set<string>(), false, 500, "ok"],
  ] as const)("%s", (_name, req, have, first, known, want) => {
    expect(outcome(() => checkSubscriptionBounds({ typeUrl: T, subscribe: [], initialVersions: {}, ...req }, have, first, known))).toBe(want);
  });

  test("a session refuses a flood of named subscriptions before keeping it", () => {
    const s = new DeltaSession([T]);
    const current = new Map([[T, new Map()]]);
    s.onRequest({ typeUrl: T, subscribe: names(5000), unsubscribe: [], initialVersions: {}, responseNonce: "" }, current, "1");
    s.onRequest({ typeUrl: T, subscribe: names(5000, "ns/x-"), unsubscribe: [], initialVersions: {}, responseNonce: "" }, current, "1");
    expect(() => s.onRequest({ typeUrl: T, subscribe: names(200_000, "ns/y-"), unsubscribe: [], initialVersions: {}, responseNonce: "" }, current, "1")).toThrow(/more than 10000 Workload names subscribed/);
  });
});
