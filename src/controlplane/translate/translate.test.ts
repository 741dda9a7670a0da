import { describe, expect, test } from "bun:test";
import { parseDocuments } from "../resources/parse.ts";
import type { Resource } from "../resources/resource.ts";
import { validateDocument } from "../resources/validate.ts";
import { DEFAULT_TRANSLATE_OPTIONS, snapshotOf } from "./snapshot.ts";
import { translateMesh, viewForNode, type MeshTranslation } from "./ztunnel-view.ts";

/** Validated resources from YAML, creation times in document order (for oldest-wins rules). */
function resources(yaml: string): Resource[] {
  return parseDocuments(yaml).map((doc, i) => {
    const v = validateDocument(doc);
    if (!v.ok) throw new Error(v.issues.map((x) => `${v.ref}: ${x.path}: ${x.message}`).join("\n"));
    return { ...v.resource, metadata: { ...v.resource.metadata, creationTimestamp: new Date(1_700_000_000_000 + i * 1000).toISOString() } };
  });
}

function translate(yaml: string): MeshTranslation {
  return translateMesh(snapshotOf(resources(yaml)), DEFAULT_TRANSLATE_OPTIONS);
}

const ns = (name: string, labels = "") => `apiVersion: v1\nkind: Namespace\nmetadata: {name: ${name}, labels: {${labels}}}\n---\n`;
const we = (name: string, namespace: string, address: string, labels: string, extra = "") =>
  `apiVersion: networking.istio.io/v1\nkind: WorkloadEntry\nmetadata: {name: ${name}, namespace: ${namespace}}\nspec: {address: ${address}, node: node-1, labels: {${labels}}${extra}}\n---\n`;
const svc = (name: string, namespace: string, selector: string, extra = "", ports = "[{name: http, port: 80, targetPort: 8080}]", labels = "") =>
  `apiVersion: v1\nkind: Service\nmetadata: {name: ${name}, namespace: ${namespace}, labels: {${labels}}}\nspec: {selector: {${selector}}, ports: ${ports}${extra}}\n---\n`;
const waypoint = (name: string, namespace: string, labels = "", allowed = "Same") =>
  `apiVersion: gateway.networking.k8s.io/v1\nkind: Gateway\nmetadata: {name: ${name}, namespace: ${namespace}, labels: {${labels}}}\nspec: {gatewayClassName: istio-waypoint, listeners: [{name: mesh, port: 15008, protocol: HBONE, allowedRoutes: {namespaces: {from: ${allowed}}}}]}\n---\n`;

const workload = (t: MeshTranslation, name: string) => {
  const w = t.workloads.find((x) => x.name === name);
  if (!w) throw new Error(`no workload ${name}`);
  return w;
};
const service = (t: MeshTranslation, name: string) => {
  const s = t.services.find((x) => x.name === name);
  if (!s) throw new Error(`no service ${name}`);
  return s;
};

describe("workloads and services", () => {
  const t = translate(
    ns("bookinfo", "istio.io/dataplane-mode: ambient") +
      ns("plain") +
      we("pp-1", "bookinfo", "10.0.2.10", "app: productpage", ", serviceAccount: bookinfo-productpage, ports: {http: 9080}, hostInterface: veth-pp-1") +
      we("pp-2", "bookinfo", "fd00:0:0::a", "app: productpage, version: v2") +
      we("pp-other", "plain", "10.0.3.1", "app: productpage") +
      we("opted-out", "bookinfo", "10.0.2.99", "app: other, istio.io/dataplane-mode: none") +
      svc("productpage", "bookinfo", "app: productpage", ", clusterIP: 10.96.0.20", "[{name: http, port: 9080}, {name: metrics, port: 15020, targetPort: 15020}]") +
      svc("headless", "bookinfo", "", ", clusterIP: None"),
  );
  test("the host interface is carried when given, absent otherwise", () => {
    expect(workload(t, "pp-1").hostInterface).toBe("veth-pp-1");
    expect("hostInterface" in workload(t, "pp-2")).toBe(false);
  });
  test("a service backs the workloads its selector matches, in its namespace only", () => {
    expect(workload(t, "pp-1").services).toEqual({
      "bookinfo/productpage.bookinfo.svc.cluster.local": [
        { servicePort: 9080, targetPort: 9080 },
        { servicePort: 15020, targetPort: 15020 },
      ],
    });
    expect(Object.keys(workload(t, "pp-2").services)).toEqual(["bookinfo/productpage.bookinfo.svc.cluster.local"]);
    expect(workload(t, "pp-other").services).toEqual({});
  });
  test("named ports resolve through the workload's ports; identity fields; canonical addresses", () => {
    expect(workload(t, "pp-1")).toMatchObject({ serviceAccount: "bookinfo-productpage", trustDomain: "cluster.local", node: "node-1", addresses: ["10.0.2.10"] });
    expect(workload(t, "pp-2")).toMatchObject({ serviceAccount: "default", addresses: ["fd00::a"] });
  });
  test("capture follows the namespace label; a workload label overrides it", () => {
    expect([workload(t, "pp-1").captured, workload(t, "pp-other").captured, workload(t, "opted-out").captured]).toEqual([true, false, false]);
  });
  test("services: hostname, VIPs (None skipped), TCP ports", () => {
    expect(service(t, "productpage")).toEqual({
      name: "productpage",
      namespace: "bookinfo",
      hostname: "productpage.bookinfo.svc.cluster.local",
      vips: ["10.96.0.20"],
      ports: [
        { servicePort: 9080, targetPort: 0 },
        { servicePort: 15020, targetPort: 15020 },
      ],
    });
    expect(service(t, "headless").vips).toEqual([]);
  });
  test("output is sorted and deterministic", () => {
    expect(t.workloads.map((w) => `${w.namespace}/${w.name}`)).toEqual(["bookinfo/opted-out", "bookinfo/pp-1", "bookinfo/pp-2", "plain/pp-other"]);
    const again = translate(
      svc("headless", "bookinfo", "", ", clusterIP: None") + ns("plain") + ns("bookinfo", "istio.io/dataplane-mode: ambient") +
        we("opted-out", "bookinfo", "10.0.2.99", "app: other, istio.io/dataplane-mode: none") + we("pp-other", "plain", "10.0.3.1", "app: productpage") +
        we("pp-2", "bookinfo", "fd00:0:0::a", "app: productpage, version: v2") +
        we("pp-1", "bookinfo", "10.0.2.10", "app: productpage", ", serviceAccount: bookinfo-productpage, ports: {http: 9080}, hostInterface: veth-pp-1") +
        svc("productpage", "bookinfo", "app: productpage", ", clusterIP: 10.96.0.20", "[{name: http, port: 9080}, {name: metrics, port: 15020, targetPort: 15020}]"),
    );
    expect(JSON.stringify(again.workloads.map(({ uid: _u, ...w }) => w))).toBe(JSON.stringify(t.workloads.map(({ uid: _u, ...w }) => w)));
  });
});

describe("waypoint binding", () => {
  const cases: Array<[string, string, { svc?: string | null; wl?: string | null; warning?: RegExp }]> = [
    ["namespace label binds services (waypoint-for defaults to service), not workloads", ns("a", "istio.io/use-waypoint: wp") + waypoint("wp", "a"), { svc: "a/wp", wl: null }],
    ["waypoint-for all binds both", ns("a", "istio.io/use-waypoint: wp") + waypoint("wp", "a", "istio.io/waypoint-for: all"), { svc: "a/wp", wl: "a/wp" }],
    ["waypoint-for workload binds workloads only", ns("a", "istio.io/use-waypoint: wp") + waypoint("wp", "a", "istio.io/waypoint-for: workload"), { svc: null, wl: "a/wp" }],
    ["waypoint-for none binds nothing", ns("a", "istio.io/use-waypoint: wp") + waypoint("wp", "a", "istio.io/waypoint-for: none"), { svc: null, wl: null }],
    ["service label overrides the namespace, 'none' opts out", ns("a", "istio.io/use-waypoint: wp") + waypoint("wp", "a") + "SVC_LABELS=istio.io/use-waypoint: none", { svc: null, wl: null }],
    ["service label alone binds", ns("a") + waypoint("wp", "a") + "SVC_LABELS=istio.io/use-waypoint: wp", { svc: "a/wp", wl: null }],
    ["shared waypoint in another namespace admitting All", ns("a", "istio.io/use-waypoint: shared, istio.io/use-waypoint-namespace: infra") + ns("infra") + waypoint("shared", "infra", "", "All"), { svc: "infra/shared", wl: null }],
    ["waypoint in another namespace admitting only Same is not used", ns("a", "istio.io/use-waypoint: shared, istio.io/use-waypoint-namespace: infra") + ns("infra") + waypoint("shared", "infra"), { svc: null, wl: null, warning: /does not admit namespace a/ }],
    ["a missing waypoint stays bound (fail closed) and is reported", ns("a", "istio.io/use-waypoint: ghost"), { svc: "a/ghost", wl: null, warning: /ghost, which does not exist/ }],
  ];
  for (const [name, yaml, want] of cases) {
    test(name, () => {
      const [head, svcLabels] = yaml.split("SVC_LABELS=");
      const t = translate((head ?? "") + we("w1", "a", "10.0.0.1", "app: x") + svc("s1", "a", "app: x", "", undefined, svcLabels ?? ""));
      const ref = (r: { namespace: string; name: string } | undefined) => (r ? `${r.namespace}/${r.name}` : null);
      expect(ref(service(t, "s1").waypoint)).toBe(want.svc ?? null);
      expect(ref(workload(t, "w1").waypoint)).toBe(want.wl ?? null);
      if (want.warning) expect(t.warnings.map((w) => w.message).join("\n")).toMatch(want.warning);
      else expect(t.warnings).toEqual([]);
    });
  }
  test("a waypoint is a service whose endpoints are its replicas, which never use a waypoint and are never captured", () => {
    const t = translate(ns("a", "istio.io/use-waypoint: wp") + waypoint("wp", "a", "istio.io/waypoint-for: all") + we("wp-replica", "a", "10.0.0.50", "gateway.networking.k8s.io/gateway-name: wp"));
    expect(service(t, "wp")).toMatchObject({ hostname: "wp.a.svc.cluster.local", ports: [{ servicePort: 15008, targetPort: 15008 }] });
    expect(workload(t, "wp-replica").services).toEqual({ "a/wp.a.svc.cluster.local": [{ servicePort: 15008, targetPort: 15008 }] });
    expect(workload(t, "wp-replica").waypoint).toBeUndefined();
    expect(workload(t, "wp-replica").captured).toBe(false);
  });
});

describe("authorization at L4", () => {
  const base = ns("istio-system") + ns("bookinfo") + we("pp", "bookinfo", "10.0.2.10", "app: productpage") + we("ratings", "bookinfo", "10.0.2.11", "app: ratings");
  const ap = (name: string, namespace: string, body: string) => `apiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\nmetadata: {name: ${name}, namespace: ${namespace}}\nspec: ${body}\n---\n`;

  test("scope: selector → the selected workloads; no selector → the namespace; root namespace → everyone", () => {
    const t = translate(
      base +
        ap("only-pp", "bookinfo", "{selector: {matchLabels: {app: productpage}}, rules: [{from: [{source: {principals: [cluster.local/ns/bookinfo/sa/sleep]}}]}]}") +
        ap("ns-wide", "bookinfo", "{action: DENY, rules: [{from: [{source: {namespaces: [evil]}}]}]}") +
        ap("mesh-wide", "istio-system", "{action: DENY, rules: [{from: [{source: {ipBlocks: [203.0.113.0/24]}}]}]}"),
    );
    expect(workload(t, "pp").authorizationPolicies).toEqual(["bookinfo/ns-wide", "bookinfo/only-pp", "istio-system/mesh-wide"]);
    expect(workload(t, "ratings").authorizationPolicies).toEqual(["bookinfo/ns-wide", "istio-system/mesh-wide"]);
    expect(t.authorizations.map((a) => `${a.name}:${a.scope}:${a.action}`)).toEqual(["ns-wide:namespace:deny", "only-pp:workload:allow", "mesh-wide:global:deny"]);
  });

  test("an ALLOW rule needing L7 matches nothing at L4; other rules stay", () => {
    const t = translate(base + ap("p", "bookinfo", "{rules: [{to: [{operation: {methods: [GET], ports: ['9080']}}]}, {from: [{source: {principals: [a/b/c]}}]}]}"));
    expect(t.authorizations[0]?.rules).toEqual([{ from: [{ principals: ["a/b/c"], notPrincipals: [], namespaces: [], notNamespaces: [], ipBlocks: [], notIpBlocks: [] }], to: [], when: [] }]);
    expect(t.warnings.map((w) => w.message)).toEqual([
      "rule 0 uses L7 fields (methods) a ztunnel cannot check: as an ALLOW rule it matches nothing at L4; attach the policy to a waypoint to enforce it",
    ]);
  });

  test("a DENY rule loses its L7 parts and so denies more", () => {
    const t = translate(base + ap("p", "bookinfo", "{action: DENY, rules: [{to: [{operation: {paths: [/admin], ports: ['9080']}}], when: [{key: 'request.headers[x-env]', values: [prod]}, {key: source.namespace, values: [test]}]}]}"));
    expect(t.authorizations[0]?.rules).toEqual([{ from: [], to: [{ ports: [9080], notPorts: [] }], when: [{ key: "source.namespace", values: ["test"], notValues: [] }] }]);
    expect(t.warnings[0]?.message).toContain("paths, when request.headers[x-env]");
    expect(t.warnings[0]?.message).toContain("applies to more traffic than written");
  });

  test("serviceAccounts become principals in the trust domain", () => {
    const t = translate(base + ap("p", "bookinfo", "{rules: [{from: [{source: {serviceAccounts: [bookinfo/sleep]}}]}]}"));
    expect(t.authorizations[0]?.rules[0]?.from[0]?.principals).toEqual(["cluster.local/ns/bookinfo/sa/sleep"]);
  });

  test("waypoint-attached, AUDIT and CUSTOM policies are not ztunnel policies", () => {
    const t = translate(
      base +
        ap("at-waypoint", "bookinfo", "{targetRefs: [{kind: Gateway, group: gateway.networking.k8s.io, name: wp}], rules: [{to: [{operation: {methods: [GET]}}]}]}") +
        ap("audit", "bookinfo", "{action: AUDIT, rules: [{}]}") +
        ap("custom", "bookinfo", "{action: CUSTOM, provider: {name: opa}, rules: [{}]}"),
    );
    expect(t.authorizations).toEqual([]);
    expect(t.warnings.map((w) => w.resource)).toEqual(["AuthorizationPolicy bookinfo/audit", "AuthorizationPolicy bookinfo/custom"]);
  });

  test("allow-nothing and allow-everything policies keep their meaning", () => {
    const t = translate(base + ap("deny-all", "bookinfo", "{}") + ap("allow-all", "bookinfo", "{rules: [{}]}"));
    expect(t.authorizations.map((a) => [a.name, a.rules.length])).toEqual([["allow-all", 1], ["deny-all", 0]]);
  });

  test("a ztunnel receives only the authorizations its own workloads use", () => {
    const t = translate(
      base + we("elsewhere", "other", "10.9.9.9", "app: x", ", node: node-9").replace("node: node-1, labels: {app: x}, node: node-9", "node: node-9, labels: {app: x}") +
        ap("only-pp", "bookinfo", "{selector: {matchLabels: {app: productpage}}, rules: [{}]}") +
        ap("other-ns", "other", "{rules: [{}]}"),
    );
    expect(viewForNode(t, "node-1").authorizations.map((a) => a.name)).toEqual(["only-pp"]);
    expect(viewForNode(t, "node-9").authorizations.map((a) => a.name)).toEqual(["other-ns"]);
    expect(viewForNode(t, "node-1").workloads).toHaveLength(3);
  });
});

describe("peer authentication", () => {
  const pa = (name: string, namespace: string, body: string) => `apiVersion: security.istio.io/v1\nkind: PeerAuthentication\nmetadata: {name: ${name}, namespace: ${namespace}}\nspec: ${body}\n---\n`;
  const base = ns("istio-system") + ns("a") + ns("b") + we("w-a", "a", "10.0.0.1", "app: x") + we("w-b", "b", "10.0.0.2", "app: x") + we("w-b2", "b", "10.0.0.3", "app: y");
  const cases: Array<[string, string, Record<string, [string, Record<number, string>]>]> = [
    ["default is permissive", "", { "w-a": ["permissive", {}], "w-b": ["permissive", {}] }],
    ["mesh-wide STRICT", pa("default", "istio-system", "{mtls: {mode: STRICT}}"), { "w-a": ["strict", {}], "w-b": ["strict", {}] }],
    [
      "namespace beats mesh, workload beats namespace, UNSET inherits, ports override",
      pa("default", "istio-system", "{mtls: {mode: STRICT}}") +
        pa("ns", "b", "{mtls: {mode: PERMISSIVE}}") +
        pa("wl", "b", "{selector: {matchLabels: {app: y}}, mtls: {mode: UNSET}, portLevelMtls: {'8080': {mode: DISABLE}}}"),
      { "w-a": ["strict", {}], "w-b": ["permissive", {}], "w-b2": ["permissive", { 8080: "disable" }] },
    ],
    ["the oldest of two namespace policies wins", pa("first", "a", "{mtls: {mode: STRICT}}") + pa("second", "a", "{mtls: {mode: DISABLE}}"), { "w-a": ["strict", {}] }],
  ];
  for (const [name, yaml, want] of cases) {
    test(name, () => {
      const t = translate(base + yaml);
      for (const [w, [mode, ports]] of Object.entries(want)) {
        expect([workload(t, w).mtlsMode, workload(t, w).portMtlsModes]).toEqual([mode as "strict", ports as Record<number, "strict">]);
      }
    });
  }
});
