import { describe, expect, test } from "bun:test";
import { parseDocuments } from "../resources/parse.ts";
import type { Resource } from "../resources/resource.ts";
import { validateDocument } from "../resources/validate.ts";
import { DEFAULT_TRANSLATE_OPTIONS, snapshotOf, type TranslationWarning } from "./snapshot.ts";
import { parseRouterConfig } from "../../../plugins/router/config.ts";
import { orderChain, portProtocol, waypointsOf } from "./waypoint-view.ts";
import { translateMesh } from "./ztunnel-view.ts";

function resources(yaml: string): Resource[] {
  return parseDocuments(yaml).map((doc, i) => {
    const v = validateDocument(doc);
    if (!v.ok) throw new Error(v.issues.map((x) => `${v.ref}: ${x.path}: ${x.message}`).join("\n"));
    return { ...v.resource, metadata: { ...v.resource.metadata, creationTimestamp: new Date(1_700_000_000_000 + i * 1000).toISOString() } };
  });
}

function waypoints(yaml: string) {
  const snapshot = snapshotOf(resources(yaml));
  const mesh = translateMesh(snapshot, DEFAULT_TRANSLATE_OPTIONS);
  const warnings: TranslationWarning[] = [];
  return { configs: waypointsOf(snapshot, mesh, DEFAULT_TRANSLATE_OPTIONS, (w) => warnings.push(w)), warnings };
}

const BASE = `
apiVersion: v1
kind: Namespace
metadata: {name: bookinfo, labels: {istio.io/dataplane-mode: ambient}}
---
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: waypoint, namespace: bookinfo, labels: {istio.io/waypoint-for: all}}
spec: {gatewayClassName: istio-waypoint, listeners: [{name: mesh, port: 15008, protocol: HBONE}]}
---
apiVersion: v1
kind: Service
metadata: {name: reviews, namespace: bookinfo, labels: {istio.io/use-waypoint: waypoint}}
spec: {selector: {app: reviews}, clusterIP: 10.96.0.30, ports: [{name: http, port: 9080}, {name: grpc-api, port: 9090, targetPort: 19090}, {name: db, port: 5432, appProtocol: tcp}]}
---
apiVersion: v1
kind: Service
metadata: {name: ratings, namespace: bookinfo}
spec: {selector: {app: ratings}, ports: [{name: http, port: 9080}]}
---
apiVersion: networking.istio.io/v1
kind: WorkloadEntry
metadata: {name: reviews-v1, namespace: bookinfo}
spec: {address: 10.0.2.30, node: node-2, labels: {app: reviews}}
---
apiVersion: networking.istio.io/v1
kind: WorkloadEntry
metadata: {name: db, namespace: bookinfo, labels: {istio.io/use-waypoint: waypoint}}
spec: {address: 10.0.2.50, node: node-2, labels: {app: db}}
---
`;

const POLICIES = `
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: only-get, namespace: bookinfo}
spec:
  targetRefs: [{kind: Gateway, group: gateway.networking.k8s.io, name: waypoint}]
  action: ALLOW
  rules: [{to: [{operation: {methods: [GET]}}]}]
---
apiVersion: security.istio.io/v1
kind: RequestAuthentication
metadata: {name: jwt, namespace: bookinfo}
spec:
  targetRefs: [{kind: Service, group: "", name: reviews}]
  jwtRules: [{issuer: "https://issuer.example", jwksUri: "https://issuer.example/jwks"}]
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: reviews-split, namespace: bookinfo}
spec:
  parentRefs: [{group: "", kind: Service, name: reviews, port: 9080}]
  rules: [{backendRefs: [{name: reviews, port: 9080, weight: 90}, {name: ratings, port: 9080, weight: 10}]}]
---
apiVersion: mesh.dev/v1
kind: FilterPlugin
metadata: {name: quota, namespace: bookinfo}
spec:
  targetRefs: [{kind: Gateway, name: waypoint}]
  module: /opt/mesh/plugins/quota.js
  sha256: 9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08
  phase: AUTHZ
  priority: 5
---
apiVersion: extensions.istio.io/v1alpha1
kind: WasmPlugin
metadata: {name: stats, namespace: bookinfo}
spec:
  targetRefs: [{kind: Gateway, group: gateway.networking.k8s.io, name: waypoint}]
  url: file:///opt/mesh/stats.wasm
  phase: AUTHN
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: ratings-deny, namespace: bookinfo}
spec:
  targetRefs: [{kind: Service, group: "", name: ratings}]
  action: DENY
  rules: [{to: [{operation: {paths: ["/admin"]}}]}]
`;

describe("waypoint translation", () => {
  test("listeners: the services and workloads bound to the waypoint (waypoint-for all), with per-port protocols", () => {
    const { configs } = waypoints(BASE);
    expect(configs).toHaveLength(1);
    const w = configs[0];
    expect(w).toMatchObject({ namespace: "bookinfo", name: "waypoint", hbonePort: 15008, waypointFor: "all" });
    expect(w?.listeners).toEqual([
      { kind: "workload", key: "bookinfo/db", hostname: "", addresses: ["10.0.2.50"], ports: [] },
      {
        kind: "service",
        key: "bookinfo/reviews.bookinfo.svc.cluster.local",
        hostname: "reviews.bookinfo.svc.cluster.local",
        addresses: ["10.96.0.30"],
        ports: [
          { port: 9080, targetPort: 0, protocol: "http" },
          { port: 9090, targetPort: 19090, protocol: "grpc" },
          { port: 5432, targetPort: 0, protocol: "tcp" },
        ],
      },
    ]);
    expect(w?.filters).toEqual([]);
    // With the default waypoint-for (service), a workload's own binding is not taken.
    const serviceOnly = waypoints(BASE.replace("labels: {istio.io/waypoint-for: all}", "labels: {}")).configs[0];
    expect(serviceOnly?.listeners.map((l) => l.key)).toEqual(["bookinfo/reviews.bookinfo.svc.cluster.local"]);
  });

  test("the chain: jwt, AUTHN plugins, authz, AUTHZ plugins by priority, router; targets per Service or the whole waypoint", () => {
    const { configs, warnings } = waypoints(BASE + POLICIES);
    const chain = configs[0]?.filters.map((f) => [f.plugin, f.source, f.phase, f.targets]);
    expect(chain).toEqual([
      ["jwt", "RequestAuthentication bookinfo/jwt", "authn", ["bookinfo/reviews.bookinfo.svc.cluster.local"]],
      ["wasm", "WasmPlugin bookinfo/stats", "authn", []],
      ["authz", "AuthorizationPolicy bookinfo/only-get", "authz", []],
      ["module", "FilterPlugin bookinfo/quota", "authz", []],
      ["router", "HTTPRoute bookinfo/reviews-split", "route", []],
    ]);
    const router = configs[0]?.filters.find((f) => f.plugin === "router");
    expect(router?.config).toMatchObject({ routes: [{ kind: "HTTPRoute", name: "reviews-split", parents: ["bookinfo/reviews.bookinfo.svc.cluster.local:9080"] }] });
    const authz = configs[0]?.filters.find((f) => f.plugin === "authz");
    expect(authz?.config).toMatchObject({ action: "ALLOW", rules: [{ to: [{ operation: { methods: ["GET"] } }] }], trustDomain: "cluster.local" });
    // A policy for a Service no waypoint fronts is reported, not enforced anywhere silently.
    expect(warnings.map((w) => `${w.resource}: ${w.message}`)).toEqual([
      "AuthorizationPolicy bookinfo/ratings-deny: targets Service bookinfo/ratings, which no waypoint fronts (label it istio.io/use-waypoint): not enforced",
    ]);
  });

  test("references to things that are not there are reported", () => {
    const { warnings } = waypoints(`${BASE}
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: ghost, namespace: bookinfo}
spec: {targetRefs: [{kind: Gateway, group: gateway.networking.k8s.io, name: ingress}], action: DENY, rules: [{}]}
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: lost, namespace: bookinfo}
spec: {parentRefs: [{group: "", kind: Service, name: nope}]}
---
apiVersion: extensions.istio.io/v1alpha1
kind: WasmPlugin
metadata: {name: sel, namespace: bookinfo}
spec: {selector: {matchLabels: {app: reviews}}, url: file:///x.wasm}
`);
    expect(warnings.map((w) => w.resource).sort()).toEqual(["AuthorizationPolicy bookinfo/ghost", "HTTPRoute bookinfo/lost", "WasmPlugin bookinfo/sel"]);
  });

  test("the router gets the HTTPFaults its routes name (route namespace); a missing one is reported and its rule answers 500", () => {
    const { configs, warnings } = waypoints(`${BASE}
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: reviews-faulty, namespace: bookinfo}
spec:
  parentRefs: [{group: "", kind: Service, name: reviews, port: 9080}]
  rules:
  - matches: [{path: {value: /slow}}]
    backendRefs: [{name: reviews, port: 9080, filters: [{type: ExtensionRef, extensionRef: {group: mesh.dev, kind: HTTPFault, name: slow}}]}]
  - matches: [{path: {value: /ghost}}]
    filters: [{type: ExtensionRef, extensionRef: {group: mesh.dev, kind: HTTPFault, name: ghost}}]
    backendRefs: [{name: reviews, port: 9080}]
  - filters: [{type: ExtensionRef, extensionRef: {group: mesh.dev, kind: HTTPFault, name: flaky}}]
    backendRefs: [{name: reviews, port: 9080}]
---
apiVersion: gateway.networking.k8s.io/v1
kind: GRPCRoute
metadata: {name: api, namespace: bookinfo}
spec:
  parentRefs: [{group: "", kind: Service, name: reviews, port: 9090}]
  rules: [{filters: [{type: ExtensionRef, extensionRef: {group: mesh.dev, kind: HTTPFault, name: unavailable}}], backendRefs: [{name: reviews, port: 9090}]}]
---
apiVersion: mesh.dev/v1
kind: HTTPFault
metadata: {name: flaky, namespace: bookinfo}
spec: {abort: {httpStatus: 503, percentage: 50}}
---
apiVersion: mesh.dev/v1
kind: HTTPFault
metadata: {name: slow, namespace: bookinfo}
spec: {delay: {fixedDelay: 2s}}
---
apiVersion: mesh.dev/v1
kind: HTTPFault
metadata: {name: unavailable, namespace: bookinfo}
spec: {abort: {grpcStatus: 14, percentage: 10}}
---
apiVersion: mesh.dev/v1
kind: HTTPFault
metadata: {name: unused, namespace: bookinfo}
spec: {abort: {httpStatus: 500}}
---
apiVersion: mesh.dev/v1
kind: HTTPFault
metadata: {name: ghost, namespace: other}
spec: {abort: {httpStatus: 500}}
`);
    const router = configs[0]?.filters.find((f) => f.plugin === "router");
    expect((router?.config as { faults?: unknown }).faults).toEqual({
      "bookinfo/slow": { delay: { fixedDelay: "2s" } },
      "bookinfo/flaky": { abort: { httpStatus: 503, percentage: 50 } },
      "bookinfo/unavailable": { abort: { grpcStatus: 14, percentage: 10 } },
    });
    expect(warnings).toEqual([{ resource: "HTTPRoute bookinfo/reviews-faulty", message: "spec.rules[1].filters[0] refers to HTTPFault bookinfo/ghost, which does not exist: that rule answers 500" }]);
    // The waypoint's router takes the config as it is: faults on their rules, the ghost's rule unsupported.
    const parsed = parseRouterConfig(router?.config);
    const rules = (parsed.http.get("bookinfo/reviews.bookinfo.svc.cluster.local") ?? []).filter((c) => c.route.name === "reviews-faulty").map((c) => c.rule).sort((a, b) => a.index - b.index);
    expect(rules.map((r) => [r.index, r.filters.fault?.abort?.httpStatus ?? null, r.backends[0]?.filters.fault?.delay?.ms ?? null, r.filters.unsupported !== null])).toEqual([
      [0, null, 2000, false],
      [1, null, null, true],
      [2, 503, null, false],
    ]);
    expect(parsed.grpc.get("bookinfo/reviews.bookinfo.svc.cluster.local")?.[0]?.rule.filters.fault?.abort?.grpcStatus).toBe(14);
  });

  test("a waypoint whose routes name no HTTPFault gets no faults", () => {
    const { configs } = waypoints(`${BASE}${POLICIES}---
apiVersion: mesh.dev/v1
kind: HTTPFault
metadata: {name: unused, namespace: bookinfo}
spec: {abort: {httpStatus: 500}}
`);
    const router = configs[0]?.filters.find((f) => f.plugin === "router");
    expect(router?.config).not.toHaveProperty("faults");
  });

  test.each([
    [{ name: "http-web" }, "http"],
    [{ name: "http2" }, "http2"],
    [{ name: "grpc" }, "grpc"],
    [{ name: "web", appProtocol: "kubernetes.io/h2c" }, "http2"],
    [{ name: "http", appProtocol: "tcp" }, "tcp"],
    [{ name: "tcp-db" }, "tcp"],
    [{ name: "web" }, "auto"],
    [{}, "auto"],
  ])("port protocol %p → %s", (port, want) => expect(portProtocol(port)).toBe(want as never));

  test("chain order is total: phase, built-in first, priority, source", () => {
    const f = (plugin: "jwt" | "authz" | "router" | "wasm" | "module", phase: "authn" | "authz" | "stats" | "route", priority: number, source: string) => ({ plugin, phase, priority, source, targets: [], config: {} });
    const ordered = orderChain([f("module", "route", 0, "c"), f("router", "route", 0, "r"), f("wasm", "stats", 1, "b"), f("wasm", "stats", 1, "a"), f("module", "authz", 9, "m"), f("authz", "authz", 0, "z")]);
    expect(ordered.map((x) => x.source)).toEqual(["z", "m", "a", "b", "r", "c"]);
  });
});
