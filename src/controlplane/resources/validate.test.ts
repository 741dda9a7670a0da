import { describe, expect, test } from "bun:test";
import { LIMITS, parseDocuments } from "./parse.ts";
import { issuesOfYaml, validateYaml } from "./validate-yaml.ts";

const check = validateYaml;
const issuesOf = issuesOfYaml;

describe("envelope and metadata", () => {
  test("a namespaced kind defaults to namespace default; server fields are not invented", () => {
    const r = check("apiVersion: v1\nkind: Service\nmetadata: {name: productpage}\nspec: {ports: [{port: 9080}]}\n");
    expect(r.ok).toBe(true);
    if (r.ok) expect(r.resource.metadata).toEqual({ name: "productpage", namespace: "default", labels: {}, annotations: {} });
  });
  test("older apiVersions are accepted and stored as the preferred one", () => {
    const r = check("apiVersion: security.istio.io/v1beta1\nkind: AuthorizationPolicy\nmetadata: {name: deny-all}\nspec: {}\n");
    expect(r.ok && r.resource.apiVersion).toBe("security.istio.io/v1");
  });
  const refused: Array<[string, string, string[]]> = [
    ["unknown kind", "apiVersion: v1\nkind: Pod\nmetadata: {name: x}\n", ['kind: unknown kind "Pod"; known kinds: Namespace, Service, WorkloadEntry, ServiceEntry, AuthorizationPolicy, PeerAuthentication, RequestAuthentication, Gateway, HTTPRoute, GRPCRoute, WasmPlugin, FilterPlugin, HTTPFault']],
    ["wrong apiVersion", "apiVersion: v2\nkind: Namespace\nmetadata: {name: x}\n", ["apiVersion: Namespace takes apiVersion v1"]],
    ["unknown top-level field", "apiVersion: v1\nkind: Namespace\nmetadata: {name: x}\nspce: {}\n", ["spce: unknown field"]],
    ["missing name", "apiVersion: v1\nkind: Namespace\nmetadata: {}\n", ["metadata.name: Invalid input: expected string, received undefined"]],
    ["bad name", "apiVersion: v1\nkind: Namespace\nmetadata: {name: Bad_Name}\n", ["metadata.name: must be a DNS label: at most 63 lower-case letters, digits and '-', starting and ending alphanumeric"]],
    ["namespace on cluster-scoped kind", "apiVersion: v1\nkind: Namespace\nmetadata: {name: x, namespace: y}\n", ["metadata.namespace: Namespace is cluster-scoped and has no namespace"]],
    ["bad label key", "apiVersion: v1\nkind: Namespace\nmetadata: {name: x, labels: {'-bad': v}}\n", [`metadata.labels["-bad"]: key "-bad" must be at most 63 characters of letters, digits, '-', '_', '.', starting and ending alphanumeric`]],
    ["bad dataplane mode", "apiVersion: v1\nkind: Namespace\nmetadata: {name: x, labels: {istio.io/dataplane-mode: sidecar}}\n", ['metadata.labels["istio.io/dataplane-mode"]: must be "ambient" or "none", got "sidecar"']],
    ["spec required", "apiVersion: v1\nkind: Service\nmetadata: {name: x}\n", ["spec: required"]],
    ["not a mapping", "- a\n- b\n", [": a resource must be a mapping (apiVersion, kind, metadata, spec)"]],
  ];
  for (const [name, yaml, want] of refused) test(`refuses: ${name}`, () => expect(issuesOf(yaml)).toEqual(want));
});

describe("kinds", () => {
  const ok: Array<[string, string]> = [
    ["Namespace ambient", "apiVersion: v1\nkind: Namespace\nmetadata: {name: bookinfo, labels: {istio.io/dataplane-mode: ambient}}\n"],
    ["Service", "apiVersion: v1\nkind: Service\nmetadata: {name: productpage, namespace: bookinfo}\nspec:\n  selector: {app: productpage}\n  clusterIP: 10.96.0.10\n  ports: [{name: http, port: 9080, targetPort: 9080}]\n"],
    ["WorkloadEntry", "apiVersion: networking.istio.io/v1\nkind: WorkloadEntry\nmetadata: {name: pp-1, namespace: bookinfo}\nspec: {address: 10.0.2.7, labels: {app: productpage}, serviceAccount: bookinfo-productpage, node: node-2}\n"],
    ["WorkloadEntry with its host interface", "apiVersion: networking.istio.io/v1\nkind: WorkloadEntry\nmetadata: {name: pp-1, namespace: bookinfo}\nspec: {address: 10.0.2.7, node: node-2, hostInterface: veth1a2b3c}\n"],
    ["ServiceEntry", "apiVersion: networking.istio.io/v1\nkind: ServiceEntry\nmetadata: {name: ext}\nspec: {hosts: [api.example.com], addresses: [240.0.0.1/32], ports: [{number: 443, name: https, protocol: TLS}], resolution: DNS}\n"],
    ["AuthorizationPolicy ALLOW by principal", "apiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\nmetadata: {name: productpage-viewer, namespace: bookinfo}\nspec:\n  selector: {matchLabels: {app: productpage}}\n  action: ALLOW\n  rules:\n  - from: [{source: {principals: [cluster.local/ns/default/sa/sleep]}}]\n    to: [{operation: {ports: ['9080'], methods: [GET]}}]\n    when: [{key: source.ip, values: [10.0.0.0/8]}, {key: 'request.headers[x-user]', values: [alice]}]\n"],
    ["AuthorizationPolicy CUSTOM", "apiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\nmetadata: {name: ext-authz}\nspec: {action: CUSTOM, provider: {name: opa}, rules: [{to: [{operation: {paths: [/admin/*]}}]}]}\n"],
    ["PeerAuthentication STRICT", "apiVersion: security.istio.io/v1\nkind: PeerAuthentication\nmetadata: {name: default, namespace: istio-system}\nspec: {mtls: {mode: STRICT}}\n"],
  ];
  for (const [name, yaml] of ok) {
    test(`accepts ${name}`, () => {
      const r = check(yaml);
      if (!r.ok) throw new Error(r.issues.map((i) => `${i.path}: ${i.message}`).join("\n"));
    });
  }

  const refused: Array<[string, string, string[]]> = [
    ["Service without ports", "apiVersion: v1\nkind: Service\nmetadata: {name: x}\nspec: {ports: []}\n", ["spec.ports: a Service needs at least one port"]],
    ["Service bad VIP and unnamed ports", "apiVersion: v1\nkind: Service\nmetadata: {name: x}\nspec: {clusterIP: 10.96.0.300, ports: [{port: 80}, {port: 80}]}\n", [
      'spec.clusterIP: "10.96.0.300" is not an IP address',
      "spec.ports[0].name: required when a Service has more than one port",
      "spec.ports[1].port: duplicate of spec.ports[0] (TCP/80)",
      "spec.ports[1].name: required when a Service has more than one port",
    ]],
    ["Service port out of range", "apiVersion: v1\nkind: Service\nmetadata: {name: x}\nspec: {ports: [{port: 70000}]}\n", ["spec.ports[0].port: Too big: expected number to be <=65535"]],
    ["WorkloadEntry without node, bad address", "apiVersion: networking.istio.io/v1\nkind: WorkloadEntry\nmetadata: {name: w}\nspec: {address: not-an-ip}\n", ["spec.node: Invalid input: expected string, received undefined"]],
    ["WorkloadEntry bad host interface", "apiVersion: networking.istio.io/v1\nkind: WorkloadEntry\nmetadata: {name: w}\nspec: {address: 10.0.0.1, node: n1, hostInterface: 'eth0 -j ACCEPT'}\n", ["spec.hostInterface: must be a network interface name on the node (1-15 of letters, digits, '_', '-', '.', '@')"]],
    ["WorkloadEntry bad address", "apiVersion: networking.istio.io/v1\nkind: WorkloadEntry\nmetadata: {name: w}\nspec: {address: not-an-ip, node: n1}\n", ['spec.address: "not-an-ip" is not an IP address']],
    ["AuthorizationPolicy typo in a field", "apiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\nmetadata: {name: p}\nspec: {rules: [{from: [{source: {principal: [a]}}]}]}\n", ["spec.rules[0].from[0].source.principal: unknown field"]],
    ["AuthorizationPolicy wrong type", "apiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\nmetadata: {name: p}\nspec: {rules: [{from: [{source: {principals: cluster.local/ns/default/sa/sleep}}]}]}\n", ["spec.rules[0].from[0].source.principals: Invalid input: expected array, received string"]],
    ["AuthorizationPolicy bad action", "apiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\nmetadata: {name: p}\nspec: {action: PERMIT}\n", ['spec.action: Invalid option: expected one of "ALLOW"|"DENY"|"AUDIT"|"CUSTOM"']],
    ["AuthorizationPolicy semantic problems", "apiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\nmetadata: {name: p}\nspec:\n  action: CUSTOM\n  selector: {matchLabels: {a: b}}\n  targetRefs: [{kind: Gateway, name: wp}]\n  rules:\n  - from: [{source: {}}, {source: {ipBlocks: [10.0.0.0/33]}}]\n    to: [{operation: {ports: [http], paths: ['/a*b']}}]\n    when: [{key: source.colour, values: [x]}, {key: destination.port}]\n", [
      "spec: only one of selector, targetRef, targetRefs may be set (got selector, targetRefs)",
      "spec.provider: required when action is CUSTOM",
      "spec.rules[0].from[0].source: must set at least one field",
      'spec.rules[0].from[1].source.ipBlocks[0]: "10.0.0.0/33" is not an IP address or CIDR block',
      'spec.rules[0].to[0].operation.ports[0]: "http" is not a port number',
      'spec.rules[0].to[0].operation.paths[0]: "/a*b": "*" is allowed only at the start or end',
      'spec.rules[0].when[0].key: unknown key "source.colour"',
      "spec.rules[0].when[1]: needs values or notValues",
    ]],
    ["PeerAuthentication port-level without selector", "apiVersion: security.istio.io/v1\nkind: PeerAuthentication\nmetadata: {name: p}\nspec: {portLevelMtls: {'8080': {mode: DISABLE}}}\n", ["spec.portLevelMtls: needs a selector: port-level settings apply to selected workloads only"]],
  ];
  for (const [name, yaml, want] of refused) test(`refuses ${name}`, () => expect(issuesOf(yaml)).toEqual(want));

  test("non-TCP service ports are accepted with a warning", () => {
    const r = check("apiVersion: v1\nkind: Service\nmetadata: {name: dns}\nspec: {ports: [{port: 53, protocol: UDP}]}\n");
    expect(r.ok && r.warnings.map((w) => w.path)).toEqual(["spec.ports[0].protocol"]);
  });
});

describe("parseDocuments", () => {
  test("multi-document files, empty documents and Lists", () => {
    const docs = parseDocuments("---\na: 1\n---\n---\nkind: List\nitems: [{b: 2}, {c: 3}]\n");
    expect(docs).toEqual([{ a: 1 }, { b: 2 }, { c: 3 }]);
  });
  test("JSON is YAML", () => expect(parseDocuments('{"kind":"Namespace"}')).toEqual([{ kind: "Namespace" }]));
  const bad: Array<[string, string, RegExp]> = [
    ["syntax error names the document", "a: 1\n---\nb: [1\n", /document 2\): not valid YAML/],
    ["duplicate keys", "a: 1\na: 2\n", /not valid YAML/],
    ["a syntax error names its line and column (1-based)", "a: 1\nb: c: d\n", /\(document 1\): not valid YAML: Nested mappings are not allowed in compact mappings at line 2, column 4/],
    ["alias bomb", "a: &a [x,x,x,x,x,x,x,x,x,x]\nb: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a,*a]\nc: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b,*b]\nd: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c,*c]\ne: [*d,*d,*d,*d,*d,*d,*d,*d,*d,*d]\n", /alias/i],
    ["deep nesting", "a: " + "[".repeat(100) + "]".repeat(100) + "\n", /nested deeper than 64/],
    ["too large", "a: " + "x".repeat(4 * 1024 * 1024 + 1), /larger than/],
    // Empty documents count: 1,001 of them used to pass (and 1M took 11.7 s and 2.1 GB).
    ["1,001 empty documents (---)", "---\n".repeat(1001), /more than 1000 documents/],
    ["1,001 empty documents (...)", "...\n".repeat(1001) + "a: 1\n", /more than 1000 documents/],
    ["empty documents and a List that add up past the limit", "---\n".repeat(999) + "---\nkind: List\nitems: [{a: 1}, {b: 2}]\n", /more than 1000 documents/],
    ["more YAML tokens than the budget", "[" + "a,".repeat(LIMITS.maxTokens) + "a]", /more than 200000 YAML tokens/],
  ];
  for (const [name, text, why] of bad) test(`refuses ${name}`, () => expect(() => parseDocuments(text, "f.yaml")).toThrow(why));
  test("1,000 documents, empty ones included, are accepted", () => {
    expect(parseDocuments("---\n".repeat(999) + "---\na: 1\n")).toEqual([{ a: 1 }]);
  });
  test("a 4 MiB body of --- lines is refused in well under a second", () => {
    const text = "---\n".repeat(LIMITS.maxBytes / 4);
    const started = performance.now();
    expect(() => parseDocuments(text, "body")).toThrow(/more than 1000 documents/);
    expect(performance.now() - started).toBeLessThan(300);
  });
});
