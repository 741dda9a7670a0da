import { describe, expect, test } from "bun:test";
import { issuesOfYaml, validateYaml } from "../validate-yaml.ts";

const check = validateYaml;
const issuesOf = issuesOfYaml;

function accepted(yaml: string) {
  const r = check(yaml);
  if (!r.ok) throw new Error(r.issues.map((i) => `${i.path}: ${i.message}`).join("\n"));
  return r;
}

const SHA = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";
const GW = "apiVersion: gateway.networking.k8s.io/v1\nkind: Gateway\nmetadata: {name: gw}\n";
const HR = "apiVersion: gateway.networking.k8s.io/v1\nkind: HTTPRoute\nmetadata: {name: r}\n";
const GR = "apiVersion: gateway.networking.k8s.io/v1\nkind: GRPCRoute\nmetadata: {name: r}\n";
const RA = "apiVersion: security.istio.io/v1\nkind: RequestAuthentication\nmetadata: {name: ra}\n";
const WP = "apiVersion: extensions.istio.io/v1alpha1\nkind: WasmPlugin\nmetadata: {name: wp}\n";
const FP = "apiVersion: mesh.dev/v1\nkind: FilterPlugin\nmetadata: {name: fp}\n";

type Refused = Array<[string, string, string[]]>;

/** HTTPRoute rules with the given numbers of path matches. */
function pathRules(...counts: number[]): string {
  return counts.map((n, r) => `  - matches: [${Array.from({ length: n }, (_, i) => `{path: {value: /r${r}/p${i}}}`).join(", ")}]\n`).join("");
}

describe("Gateway", () => {
  test("accepts a waypoint", () => {
    const r = accepted(
      "apiVersion: gateway.networking.k8s.io/v1\nkind: Gateway\nmetadata: {name: waypoint, namespace: bookinfo, labels: {istio.io/waypoint-for: service}}\nspec:\n  gatewayClassName: istio-waypoint\n  listeners:\n  - {name: mesh, port: 15008, protocol: HBONE}\n",
    );
    expect(r.warnings).toEqual([]);
  });
  test("accepts a v1beta1 waypoint with HTTP and HTTPS listeners, addresses and infrastructure", () => {
    const r = accepted(
      "apiVersion: gateway.networking.k8s.io/v1beta1\nkind: Gateway\nmetadata: {name: shared, namespace: istio-system}\nspec:\n  gatewayClassName: istio-waypoint\n  listeners:\n  - name: mesh\n    port: 15008\n    protocol: HBONE\n    allowedRoutes: {namespaces: {from: Selector, selector: {matchLabels: {team: a}, matchExpressions: [{key: env, operator: In, values: [prod]}]}}}\n  - {name: http, port: 80, protocol: HTTP, hostname: '*.example.com', allowedRoutes: {kinds: [{kind: HTTPRoute}, {kind: GRPCRoute}]}}\n  - {name: https, port: 443, protocol: HTTPS, tls: {certificateRefs: [{name: example-cert}]}}\n  addresses: [{value: 10.96.0.20}, {type: Hostname, value: waypoint.example.com}]\n  infrastructure: {labels: {team: a}, annotations: {example.com/owner: platform}}\n",
    );
    expect(r.ok && r.resource.apiVersion).toBe("gateway.networking.k8s.io/v1");
  });
  test("warns when a waypoint has no HBONE listener or allows route kinds it never serves", () => {
    const r = accepted(`${GW}spec: {gatewayClassName: istio-waypoint, listeners: [{name: tcp, port: 9000, protocol: TCP, allowedRoutes: {kinds: [{kind: TCPRoute}]}}]}\n`);
    expect(r.warnings.map((w) => w.path)).toEqual(["spec.listeners", "spec.listeners[0].allowedRoutes.kinds[0]"]);
  });

  const refused: Refused = [
    ["another class", `${GW}spec: {gatewayClassName: istio, listeners: [{name: mesh, port: 15008, protocol: HBONE}]}\n`, [
      'spec.gatewayClassName: mesh serves only waypoints: must be "istio-waypoint", got "istio"',
    ]],
    ["no listeners", `${GW}spec: {gatewayClassName: istio-waypoint, listeners: []}\n`, ["spec.listeners: a Gateway needs at least one listener"]],
    ["UDP listener", `${GW}spec: {gatewayClassName: istio-waypoint, listeners: [{name: dns, port: 53, protocol: UDP}]}\n`, [
      'spec.listeners[0].protocol: Invalid option: expected one of "HBONE"|"HTTP"|"HTTPS"|"TLS"|"TCP"',
    ]],
    ["typo in a listener", `${GW}spec: {gatewayClassName: istio-waypoint, listeners: [{name: mesh, port: 15008, protocol: HBONE, allowedRoute: {}}]}\n`, [
      "spec.listeners[0].allowedRoute: unknown field",
    ]],
    ["listener semantics", `${GW}spec:\n  gatewayClassName: istio-waypoint\n  listeners:\n  - {name: mesh, port: 15008, protocol: HBONE, tls: {mode: Terminate}}\n  - {name: mesh, port: 15008, protocol: HBONE}\n  - {name: tls, port: 443, protocol: TLS, tls: {}}\n  - {name: https, port: 8443, protocol: HTTPS}\n  - {name: https2, port: 9443, protocol: HTTPS, tls: {mode: Passthrough}}\n  - name: tcp\n    port: 9000\n    protocol: TCP\n    hostname: a.example.com\n    allowedRoutes: {namespaces: {from: Selector, selector: {matchExpressions: [{key: env, operator: Exists, values: [x]}, {key: env, operator: In}]}}}\n`, [
      "spec.listeners[1].name: duplicate of spec.listeners[0]",
      "spec.listeners[1]: same port, protocol and hostname as spec.listeners[0]",
      "spec.listeners[0].tls: not allowed for protocol HBONE",
      "spec.listeners[2].tls.mode: required for protocol TLS",
      "spec.listeners[2].tls: mode Terminate needs certificateRefs or options",
      "spec.listeners[3].tls: required for protocol HTTPS",
      "spec.listeners[4].tls.mode: must be Terminate for protocol HTTPS",
      "spec.listeners[5].hostname: not allowed for protocol TCP",
      "spec.listeners[5].allowedRoutes.namespaces.selector.matchExpressions[0].values: must be empty when operator is Exists",
      "spec.listeners[5].allowedRoutes.namespaces.selector.matchExpressions[1].values: required (non-empty) when operator is In",
    ]],
    ["selector missing", `${GW}spec: {gatewayClassName: istio-waypoint, listeners: [{name: mesh, port: 15008, protocol: HBONE, allowedRoutes: {namespaces: {from: Selector}}}]}\n`, [
      "spec.listeners[0].allowedRoutes.namespaces.selector: required when from is Selector",
    ]],
    ["bad addresses", `${GW}spec:\n  gatewayClassName: istio-waypoint\n  listeners: [{name: mesh, port: 15008, protocol: HBONE}]\n  addresses: [{value: 10.0.0.300}, {type: Hostname, value: Bad_Host}, {value: 10.0.0.1}, {type: IPAddress, value: 10.0.0.1}]\n`, [
      'spec.addresses[0].value: "10.0.0.300" is not an IP address',
      'spec.addresses[1].value: "Bad_Host" is not a host name',
      "spec.addresses[3].value: duplicate of spec.addresses[2]",
    ]],
    ["wildcard in the middle of a hostname", `${GW}spec: {gatewayClassName: istio-waypoint, listeners: [{name: http, port: 80, protocol: HTTP, hostname: 'a.*.com'}]}\n`, [
      'spec.listeners[0].hostname: must be a lower-case DNS name, optionally starting with "*."',
    ]],
  ];
  for (const [name, yaml, want] of refused) test(`refuses ${name}`, () => expect(issuesOf(yaml)).toEqual(want));
});

describe("HTTPRoute", () => {
  test("accepts bookinfo reviews: header match to v2, weighted v1/v3, timeouts and retries", () => {
    const r = accepted(
      "apiVersion: gateway.networking.k8s.io/v1\nkind: HTTPRoute\nmetadata: {name: reviews, namespace: bookinfo}\nspec:\n  parentRefs:\n  - {group: '', kind: Service, name: reviews, port: 9080}\n  rules:\n  - name: jason\n    matches:\n    - headers: [{name: end-user, value: jason}]\n    backendRefs: [{name: reviews-v2, port: 9080}]\n  - name: split\n    backendRefs:\n    - {name: reviews-v1, port: 9080, weight: 90}\n    - {name: reviews-v3, port: 9080, weight: 10}\n    timeouts: {request: 10s, backendRequest: 2s}\n    retry: {codes: [502, 503], attempts: 3, backoff: 100ms}\n",
    );
    expect(r.ok && (r.resource.spec as { rules: unknown[] }).rules.length).toBe(2);
  });
  test("accepts every filter type used as documented, and a v1beta1 route", () => {
    accepted(
      "apiVersion: gateway.networking.k8s.io/v1beta1\nkind: HTTPRoute\nmetadata: {name: productpage, namespace: bookinfo}\nspec:\n  parentRefs: [{name: waypoint, sectionName: mesh}, {name: waypoint, sectionName: http}]\n  hostnames: [productpage.example.com, '*.bookinfo.example.com']\n  rules:\n  - matches: [{path: {type: PathPrefix, value: /old}}]\n    filters:\n    - {type: RequestRedirect, requestRedirect: {scheme: https, hostname: new.example.com, path: {type: ReplacePrefixMatch, replacePrefixMatch: /new}, statusCode: 308}}\n  - matches: [{path: {type: RegularExpression, value: '^/api/v[0-9]+/.*'}, method: GET, queryParams: [{name: debug, value: '1'}]}]\n    filters:\n    - {type: URLRewrite, urlRewrite: {path: {type: ReplaceFullPath, replaceFullPath: /api}}}\n    - {type: RequestHeaderModifier, requestHeaderModifier: {set: [{name: x-route, value: api}], remove: [x-debug]}}\n    - {type: ResponseHeaderModifier, responseHeaderModifier: {add: [{name: x-served-by, value: waypoint}]}}\n    - {type: RequestMirror, requestMirror: {backendRef: {name: shadow, port: 9080}, fraction: {numerator: 1, denominator: 10}}}\n    - {type: CORS, cors: {allowOrigins: ['https://*.example.com'], allowMethods: [GET, POST], maxAge: 600}}\n    - {type: ExtensionRef, extensionRef: {group: mesh.dev, kind: FilterPlugin, name: tenant-quota}}\n    backendRefs:\n    - name: productpage\n      port: 9080\n      filters: [{type: RequestHeaderModifier, requestHeaderModifier: {add: [{name: x-backend, value: pp}]}}]\n    sessionPersistence: {sessionName: pp, type: Cookie, absoluteTimeout: 1h, cookieConfig: {lifetimeType: Permanent}}\n",
    );
  });

  const refused: Refused = [
    ["bad path values", `${HR}spec:\n  rules:\n  - matches:\n    - path: {type: PathPrefix, value: api}\n    - path: {type: Exact, value: /a//b}\n    - path: {value: /a/%2F}\n    - path: {type: Exact, value: /a/..}\n    - path: {type: Exact, value: '/a b'}\n    - path: {type: RegularExpression, value: '/api/(v1'}\n`, [
      'spec.rules[0].matches[0].path.value: must be an absolute path starting with "/"',
      'spec.rules[0].matches[1].path.value: must not contain "//"',
      'spec.rules[0].matches[2].path.value: must not contain "%2F"',
      'spec.rules[0].matches[3].path.value: must not end with "/.."',
      "spec.rules[0].matches[4].path.value: must contain only URL path characters (RFC 3986) and %-escapes",
      "spec.rules[0].matches[5].path.value: not a valid regular expression: missing )",
    ]],
    ["RE2-only regex syntax", `${HR}spec: {rules: [{matches: [{path: {type: RegularExpression, value: '(?i)/api'}}]}]}\n`, [
      "spec.rules[0].matches[0].path.value: inline flags such as (?i) are RE2 syntax; the router runs JavaScript regular expressions, which have none",
    ]],
    ["bad path type", `${HR}spec: {rules: [{matches: [{path: {type: Prefix, value: /}}]}]}\n`, [
      'spec.rules[0].matches[0].path.type: Invalid option: expected one of "Exact"|"PathPrefix"|"RegularExpression"',
    ]],
    ["duplicate header and query matches, bad header regex", `${HR}spec:\n  rules:\n  - matches:\n    - headers: [{name: X-User, value: a}, {name: x-user, value: b}, {name: x-id, type: RegularExpression, value: '[a-'}]\n      queryParams: [{name: q, value: a}, {name: q, value: b}, {name: Q, value: c}]\n`, [
      "spec.rules[0].matches[0].headers[1].name: duplicate of spec.rules[0].matches[0].headers[0]",
      "spec.rules[0].matches[0].headers[2].value: not a valid regular expression: missing terminating ] for character class",
      "spec.rules[0].matches[0].queryParams[1].name: duplicate of spec.rules[0].matches[0].queryParams[0]",
    ]],
    ["filter config not matching its type", `${HR}spec:\n  rules:\n  - filters:\n    - {type: URLRewrite}\n    - {type: RequestHeaderModifier, responseHeaderModifier: {set: [{name: a, value: b}]}}\n    - {type: RequestHeaderModifier, requestHeaderModifier: {set: [{name: A, value: b}, {name: a, value: c}]}}\n    - {type: RequestRedirect, requestRedirect: {}}\n`, [
      "spec.rules[0].filters[0].urlRewrite: required when type is URLRewrite",
      "spec.rules[0].filters[1].requestHeaderModifier: required when type is RequestHeaderModifier",
      "spec.rules[0].filters[1].responseHeaderModifier: not allowed when type is RequestHeaderModifier",
      "spec.rules[0].filters[2].type: RequestHeaderModifier may appear only once (already at spec.rules[0].filters[1])",
      "spec.rules[0].filters[2].requestHeaderModifier.set[1].name: duplicate of spec.rules[0].filters[2].requestHeaderModifier.set[0]",
      "spec.rules[0].filters: RequestRedirect and URLRewrite cannot be used together",
    ]],
    ["unknown filter type", `${HR}spec: {rules: [{filters: [{type: ExternalAuth}]}]}\n`, [
      'spec.rules[0].filters[0].type: Invalid option: expected one of "RequestHeaderModifier"|"ResponseHeaderModifier"|"RequestMirror"|"RequestRedirect"|"URLRewrite"|"CORS"|"ExtensionRef"',
    ]],
    ["redirect and backendRefs in one rule", `${HR}spec: {rules: [{filters: [{type: RequestRedirect, requestRedirect: {scheme: https}}], backendRefs: [{name: a, port: 80}]}]}\n`, [
      "spec.rules[0].backendRefs: not allowed with a RequestRedirect filter: a rule either redirects or forwards",
    ]],
    ["redirect status code", `${HR}spec: {rules: [{filters: [{type: RequestRedirect, requestRedirect: {statusCode: 304}}]}]}\n`, [
      "spec.rules[0].filters[0].requestRedirect.statusCode: Invalid option: expected one of 301|302|303|307|308",
    ]],
    ["path modifiers", `${HR}spec:\n  rules:\n  - matches: [{path: {type: Exact, value: /a}}]\n    filters: [{type: URLRewrite, urlRewrite: {path: {type: ReplacePrefixMatch, replaceFullPath: /b}}}]\n  - matches: [{path: {value: /a}}, {path: {value: /b}}]\n    filters: [{type: RequestRedirect, requestRedirect: {path: {type: ReplaceFullPath, replaceFullPath: /c}}}]\n`, [
      "spec.rules[0].filters[0].urlRewrite.path.replacePrefixMatch: required when type is ReplacePrefixMatch",
      "spec.rules[0].filters[0].urlRewrite.path.replaceFullPath: not allowed when type is ReplacePrefixMatch",
      "spec.rules[0].filters[0].urlRewrite.path.type: ReplacePrefixMatch needs the rule to have exactly one match, with a PathPrefix path",
    ]],
    ["weight out of range", `${HR}spec: {rules: [{backendRefs: [{name: big, port: 80, weight: 1000001}]}]}\n`, [
      "spec.rules[0].backendRefs[0].weight: Too big: expected number to be <=1000000",
    ]],
    ["Service backend without port", `${HR}spec: {rules: [{backendRefs: [{name: reviews}, {name: ext, group: networking.istio.io, kind: Hostname}]}]}\n`, [
      "spec.rules[0].backendRefs[0].port: required for a Service backend",
    ]],
    ["mirror", `${HR}spec: {rules: [{filters: [{type: RequestMirror, requestMirror: {backendRef: {name: m, port: 80}, percent: 10, fraction: {numerator: 3, denominator: 2}}}]}]}\n`, [
      "spec.rules[0].filters[0].requestMirror: only one of percent, fraction may be set",
      "spec.rules[0].filters[0].requestMirror.fraction.numerator: must not exceed the denominator (2)",
    ]],
    ["CORS wildcard with others", `${HR}spec: {rules: [{filters: [{type: CORS, cors: {allowOrigins: ['*', 'https://a.example.com'], allowMethods: ['*', GET]}}]}]}\n`, [
      'spec.rules[0].filters[0].cors.allowOrigins: "*" must be the only entry',
      'spec.rules[0].filters[0].cors.allowMethods: "*" must be the only entry',
    ]],
    ["timeouts", `${HR}spec:\n  rules:\n  - timeouts: {request: 1s, backendRequest: 1500ms}\n  - timeouts: {request: 0s, backendRequest: 1h}\n`, [
      "spec.rules[0].timeouts.backendRequest: must not be longer than timeouts.request (1s)",
    ]],
    ["durations that are not Gateway API durations", `${HR}spec:\n  rules:\n  - timeouts: {request: 1.5s}\n  - timeouts: {request: 1d}\n  - retry: {backoff: 100000ms}\n`, [
      'spec.rules[0].timeouts.request: must be a Gateway API duration such as "10s", "500ms" or "1h30m"',
      'spec.rules[1].timeouts.request: must be a Gateway API duration such as "10s", "500ms" or "1h30m"',
      'spec.rules[2].retry.backoff: must be a Gateway API duration such as "10s", "500ms" or "1h30m"',
    ]],
    ["retry", `${HR}spec: {rules: [{retry: {codes: [503, 200], attempts: 0}}]}\n`, [
      "spec.rules[0].retry.codes[1]: Too small: expected number to be >=400",
      "spec.rules[0].retry.attempts: Too small: expected number to be >=1",
    ]],
    ["duplicate retry codes and rule names", `${HR}spec: {rules: [{name: a, retry: {codes: [503, 503]}}, {name: a}]}\n`, [
      "spec.rules[1].name: duplicate of spec.rules[0]",
      "spec.rules[0].retry.codes[1]: duplicate of spec.rules[0].retry.codes[0]",
    ]],
    ["session persistence", `${HR}spec: {rules: [{sessionPersistence: {type: Header, cookieConfig: {lifetimeType: Permanent}}}]}\n`, [
      "spec.rules[0].sessionPersistence.cookieConfig: only allowed when type is Cookie",
      "spec.rules[0].sessionPersistence.absoluteTimeout: required when cookieConfig.lifetimeType is Permanent",
    ]],
    ["the same parent twice without sectionName", `${HR}spec: {parentRefs: [{name: waypoint}, {name: waypoint, sectionName: mesh}, {name: waypoint, sectionName: mesh}]}\n`, [
      "spec.parentRefs[0]: needs sectionName or port: several parentRefs name the same parent",
      "spec.parentRefs[2]: duplicate of spec.parentRefs[1]",
    ]],
    ["bad hostnames and empty rules", `${HR}spec: {hostnames: [Reviews.Example.com], rules: []}\n`, [
      'spec.hostnames[0]: must be a lower-case DNS name, optionally starting with "*."',
      "spec.rules: needs at least one rule",
    ]],
    ["too many matches in all rules", `${HR}spec:\n  rules:\n${pathRules(60, 60, 9)}`, ["spec.rules: at most 128 matches in all rules together (got 129)"]],
  ];
  for (const [name, yaml, want] of refused) test(`refuses ${name}`, () => expect(issuesOf(yaml)).toEqual(want));
});

describe("GRPCRoute", () => {
  test("accepts a method-routed gRPC service with a canary header and a regex fallback", () => {
    accepted(
      "apiVersion: gateway.networking.k8s.io/v1\nkind: GRPCRoute\nmetadata: {name: greeter, namespace: grpc}\nspec:\n  parentRefs: [{group: '', kind: Service, name: greeter, port: 50051}]\n  hostnames: [greeter.grpc.svc.cluster.local]\n  rules:\n  - matches:\n    - method: {service: helloworld.Greeter, method: SayHello}\n      headers: [{name: x-canary, value: 'true'}]\n    backendRefs: [{name: greeter-v2, port: 50051}]\n  - matches: [{method: {type: RegularExpression, service: 'helloworld\\..*'}}]\n    filters: [{type: RequestHeaderModifier, requestHeaderModifier: {add: [{name: x-via, value: waypoint}]}}]\n    backendRefs: [{name: greeter-v1, port: 50051, weight: 1}]\n",
    );
  });

  const refused: Refused = [
    ["method matches", `${GR}spec:\n  rules:\n  - matches:\n    - method: {type: Exact}\n    - method: {type: RegularExpression}\n    - method: {service: hello-world.Greeter, method: Say.Hello}\n    - method: {type: RegularExpression, method: 'Say(Hello'}\n`, [
      "spec.rules[0].matches[0].method: must set service, method or both",
      "spec.rules[0].matches[1].method: must set service, method or both",
      'spec.rules[0].matches[2].method.service: "hello-world.Greeter" is not a gRPC service name (dot-separated identifiers, e.g. helloworld.Greeter)',
      'spec.rules[0].matches[2].method.method: "Say.Hello" is not a gRPC method name (an identifier, e.g. SayHello)',
      "spec.rules[0].matches[3].method.method: not a valid regular expression: missing )",
    ]],
    ["HTTP-only filters", `${GR}spec: {rules: [{filters: [{type: URLRewrite, urlRewrite: {}}]}]}\n`, [
      'spec.rules[0].filters[0].type: Invalid option: expected one of "RequestHeaderModifier"|"ResponseHeaderModifier"|"RequestMirror"|"ExtensionRef"',
      "spec.rules[0].filters[0].urlRewrite: unknown field",
    ]],
    ["filter semantics and backends", `${GR}spec:\n  rules:\n  - filters:\n    - {type: RequestMirror, requestMirror: {backendRef: {name: mirror}}}\n    - {type: ExtensionRef, extensionRef: {group: example.com, kind: Filter, name: f}, requestHeaderModifier: {}}\n    - {type: ResponseHeaderModifier, responseHeaderModifier: {}}\n    - {type: ResponseHeaderModifier, responseHeaderModifier: {}}\n    backendRefs: [{name: greeter}]\n`, [
      "spec.rules[0].filters[0].requestMirror.backendRef.port: required for a Service backend",
      "spec.rules[0].filters[1].requestHeaderModifier: not allowed when type is ExtensionRef",
      "spec.rules[0].filters[3].type: ResponseHeaderModifier may appear only once (already at spec.rules[0].filters[2])",
      "spec.rules[0].backendRefs[0].port: required for a Service backend",
    ]],
    ["v1beta1 (GRPCRoute went from v1alpha2 to v1)", "apiVersion: gateway.networking.k8s.io/v1beta1\nkind: GRPCRoute\nmetadata: {name: r}\nspec: {}\n", [
      "apiVersion: GRPCRoute takes apiVersion gateway.networking.k8s.io/v1",
    ]],
  ];
  for (const [name, yaml, want] of refused) test(`refuses ${name}`, () => expect(issuesOf(yaml)).toEqual(want));
});

describe("RequestAuthentication", () => {
  test("accepts JWTs from a JWKS URL and from an inline JWKS, on a waypoint", () => {
    accepted(
      "apiVersion: security.istio.io/v1\nkind: RequestAuthentication\nmetadata: {name: jwt-example, namespace: bookinfo}\nspec:\n  targetRefs: [{kind: Gateway, group: gateway.networking.k8s.io, name: waypoint}]\n  jwtRules:\n  - issuer: testing@secure.istio.io\n    jwksUri: https://raw.githubusercontent.com/istio/istio/release-1.24/security/tools/jwt/samples/jwks.json\n    audiences: [bookinfo]\n    fromHeaders: [{name: Authorization, prefix: 'Bearer '}]\n    fromParams: [access_token]\n    outputClaimToHeaders: [{header: x-jwt-sub, claim: sub}]\n    forwardOriginalToken: true\n    timeout: 5s\n  - issuer: inline.example.com\n    jwks: '{\"keys\":[{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU\",\"y\":\"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0\"}]}'\n    timeout: 1.5s\n",
    );
  });
  test("warns of a plain-http jwksUri outside the mesh (waypoints refuse it); a mesh service's is fine", () => {
    expect(accepted(`${RA}spec: {jwtRules: [{issuer: a, jwksUri: 'http://keys.example.com/jwks'}]}\n`).warnings).toEqual([
      { path: "spec.jwtRules[0].jwksUri", message: "plain http:// to a host outside the mesh: waypoints fetch keys only over https:// or from a mesh service (*.svc…), so they refuse this rule and fail its requests closed (500)" },
    ]);
    expect(accepted(`${RA}spec: {jwtRules: [{issuer: a, jwksUri: 'http://keys.auth.svc.cluster.local:8080/jwks'}]}\n`).warnings).toEqual([]);
  });
  test("accepts the old jwks_uri spelling with a warning", () => {
    const r = accepted(`${RA}spec: {jwtRules: [{issuer: a, jwks_uri: 'https://a.example.com/jwks'}]}\n`);
    expect(r.warnings).toEqual([{ path: "spec.jwtRules[0].jwks_uri", message: "old spelling of jwksUri; accepted, but write jwksUri" }]);
  });

  const refused: Refused = [
    ["issuer missing", `${RA}spec: {jwtRules: [{jwksUri: 'https://a.example.com/jwks'}]}\n`, ["spec.jwtRules[0].issuer: Invalid input: expected string, received undefined"]],
    ["key sources, URLs, JWKS and timeouts", `${RA}spec:\n  selector: {matchLabels: {app: x}}\n  targetRef: {kind: Service, name: x}\n  jwtRules:\n  - {issuer: a, jwksUri: 'ftp://keys.example.com/jwks', jwks: '{\"keys\": 1}', timeout: 0.5ms}\n  - {issuer: b, jwks_uri: not a url}\n  - {issuer: c, jwks: '[]', timeout: 5 s}\n  - {issuer: d, jwks: '{\"keys\": [1]}', timeout: '0'}\n`, [
      "spec: only one of selector, targetRef, targetRefs may be set (got selector, targetRef)",
      "spec.jwtRules[0]: only one of jwksUri, jwks may be set (got jwksUri, jwks)",
      'spec.jwtRules[0].jwksUri: "ftp://keys.example.com/jwks" must be an http:// or https:// URL',
      'spec.jwtRules[0].jwks: must be a JSON Web Key Set: an object with a "keys" array',
      'spec.jwtRules[0].timeout: must be a duration of at least 1ms, such as "5s" or "500ms" (got "0.5ms")',
      'spec.jwtRules[1].jwks_uri: "not a url" is not a URL',
      'spec.jwtRules[2].jwks: must be a JSON Web Key Set: an object with a "keys" array',
      'spec.jwtRules[2].timeout: must be a duration of at least 1ms, such as "5s" or "500ms" (got "5 s")',
      'spec.jwtRules[3].jwks: "keys" must hold JSON Web Key objects',
      'spec.jwtRules[3].timeout: must be a duration of at least 1ms, such as "5s" or "500ms" (got "0")',
    ]],
    ["inline JWKS that is not JSON", `${RA}spec: {jwtRules: [{issuer: a, jwks: 'keys: []'}]}\n`, [
      "spec.jwtRules[0].jwks: not valid JSON: JSON Parse error: Unexpected identifier \"keys\"",
    ]],
    ["claim header with spaces, empty audience", `${RA}spec: {jwtRules: [{issuer: a, audiences: [''], outputClaimToHeaders: [{header: x jwt, claim: sub}]}]}\n`, [
      "spec.jwtRules[0].audiences[0]: must not be empty",
      "spec.jwtRules[0].outputClaimToHeaders[0].header: must be letters, digits, '-' and '_'",
    ]],
    ["a target in another namespace", `${RA}spec: {targetRefs: [{kind: Gateway, group: gateway.networking.k8s.io, name: waypoint, namespace: other}]}\n`, [
      "spec.targetRefs[0].namespace: cross-namespace references are not supported: the target is in the policy's namespace",
    ]],
    ["typo (jwksURI)", `${RA}spec: {jwtRules: [{issuer: a, jwksURI: 'https://a.example.com/jwks'}]}\n`, ["spec.jwtRules[0].jwksURI: unknown field"]],
  ];
  for (const [name, yaml, want] of refused) test(`refuses ${name}`, () => expect(issuesOf(yaml)).toEqual(want));
});

describe("WasmPlugin", () => {
  test("accepts a pinned OCI plugin with config, env and a traffic match", () => {
    accepted(
      "apiVersion: extensions.istio.io/v1alpha1\nkind: WasmPlugin\nmetadata: {name: basic-auth, namespace: bookinfo}\nspec:\n  targetRefs: [{kind: Gateway, group: gateway.networking.k8s.io, name: waypoint}]\n  url: oci://ghcr.io/istio-ecosystem/wasm-extensions/basic_auth:1.12.0\n  sha256: 1ef0c9a92b0420cf25f7fe5d481b231464bc88f486ca3b9c83ed5cc21d2f6210\n  imagePullPolicy: IfNotPresent\n  phase: AUTHN\n  priority: 10\n  failStrategy: FAIL_OPEN\n  pluginConfig:\n    basic_auth_rules: [{prefix: /productpage, request_methods: [GET, POST], credentials: ['ok:test']}]\n  vmConfig: {env: [{name: POD_NAME, valueFrom: HOST}, {name: TRUST_DOMAIN, value: cluster.local}]}\n  match: [{mode: SERVER, ports: [{number: 9080}]}]\n  type: HTTP\n",
    );
  });
  test("a url without a scheme is an OCI reference; an unpinned remote module is warned about", () => {
    expect(accepted(`${WP}spec: {url: 'ghcr.io/example/filter:v1', sha256: ''}\n`).warnings).toEqual([
      { path: "spec.sha256", message: "not set: the module fetched from the url is not pinned and may change" },
    ]);
    expect(accepted(`${WP}spec: {url: 'file:///opt/filters/openid.wasm'}\n`).warnings).toEqual([]);
  });

  const refused: Refused = [
    ["url missing", `${WP}spec: {phase: AUTHN}\n`, ["spec.url: Invalid input: expected string, received undefined"]],
    ["url schemes", `${WP}spec: {url: 'fake://example.com'}\n`, ["spec.url: scheme must be one of file://, http://, https://, oci:// (got fake://)"]],
    ["url with no host", `${WP}spec: {url: '#%blah$#@'}\n`, ['spec.url: "#%blah$#@" names no host']],
    ["sha256 not hex", `${WP}spec: {url: 'http://test', sha256: foo}\n`, ["spec.sha256: must be 64 lower-case hex digits"]],
    ["bad enums", `${WP}spec: {url: 'http://test', phase: ROUTE, failStrategy: FAIL_SOMETIMES}\n`, [
      'spec.phase: Invalid option: expected one of "UNSPECIFIED_PHASE"|"AUTHN"|"AUTHZ"|"STATS"',
      'spec.failStrategy: Invalid option: expected one of "FAIL_CLOSE"|"FAIL_OPEN"|"FAIL_RELOAD"',
    ]],
    ["env and ports", `${WP}spec:\n  url: http://test\n  selector: {matchLabels: {app: a}}\n  targetRefs: [{kind: Service, name: a}]\n  vmConfig: {env: [{name: A, valueFrom: HOST, value: x}, {name: A}]}\n  match: [{ports: [{number: 80}, {number: 80}]}]\n`, [
      "spec: only one of selector, targetRef, targetRefs may be set (got selector, targetRefs)",
      "spec.vmConfig.env[1].name: duplicate of spec.vmConfig.env[0]",
      "spec.vmConfig.env[0].value: only allowed when valueFrom is INLINE",
      "spec.match[0].ports[1].number: duplicate of spec.match[0].ports[0]",
    ]],
    ["pluginConfig that JSON cannot carry", `${WP}spec: {url: 'http://test', pluginConfig: {a: .nan, b: [1, .inf], __proto__: {polluted: true}}}\n`, [
      "spec.pluginConfig.a: must be a finite number (got NaN)",
      "spec.pluginConfig.b[1]: must be a finite number (got Infinity)",
      'spec.pluginConfig.__proto__: the key "__proto__" is not allowed',
    ]],
    ["pluginConfig not a mapping", `${WP}spec: {url: 'http://test', pluginConfig: [a]}\n`, ["spec.pluginConfig: must be a mapping (a JSON object)"]],
  ];
  for (const [name, yaml, want] of refused) test(`refuses ${name}`, () => expect(issuesOf(yaml)).toEqual(want));
});

describe("FilterPlugin", () => {
  test("accepts a pinned plugin and fills in the defaults", () => {
    const r = accepted(`${FP}spec:\n  targetRefs: [{kind: Gateway, group: gateway.networking.k8s.io, name: waypoint}, {kind: Service, name: reviews}]\n  module: /opt/mesh/plugins/tenant-quota.js\n  sha256: ${SHA}\n`);
    expect(r.ok && r.resource.spec).toEqual({
      targetRefs: [{ kind: "Gateway", group: "gateway.networking.k8s.io", name: "waypoint" }, { kind: "Service", name: "reviews" }],
      module: "/opt/mesh/plugins/tenant-quota.js",
      sha256: SHA,
      config: {},
      phase: "AUTHZ",
      priority: 0,
      failurePolicy: "FailClosed",
    });
  });
  test("accepts every field", () => {
    accepted(`${FP}spec:\n  targetRefs: [{kind: Gateway, name: waypoint}]\n  module: /opt/mesh/plugins/rewrite.ts\n  sha256: ${SHA}\n  config: {limit: 100, tenants: {a: {burst: 5}}}\n  phase: ROUTE\n  priority: -5\n  failurePolicy: FailOpen\n  timeout: 50ms\n`);
  });

  const refused: Refused = [
    ["no targets, module or digest", `${FP}spec: {targetRefs: []}\n`, [
      "spec.targetRefs: needs at least one target: the Gateway (waypoint) or Service the plugin applies to",
      "spec.module: Invalid input: expected string, received undefined",
      "spec.sha256: Invalid input: expected string, received undefined",
    ]],
    ["upper-case digest, unknown phase and policy", `${FP}spec: {targetRefs: [{kind: Gateway, name: w}], module: /p.js, sha256: ${SHA.toUpperCase()}, phase: LOG, failurePolicy: Ignore}\n`, [
      "spec.sha256: must be the module's SHA-256: 64 lower-case hex digits",
      'spec.phase: Invalid option: expected one of "AUTHN"|"AUTHZ"|"STATS"|"ROUTE"',
      'spec.failurePolicy: Invalid option: expected one of "FailOpen"|"FailClosed"',
    ]],
    ["targets, module path and timeout", `${FP}spec:\n  targetRefs: [{kind: Gateway, group: '', name: w}, {kind: Gateway, name: w}, {kind: Service, group: core, name: s}]\n  module: /opt/../etc/plugin.js\n  sha256: ${SHA}\n  timeout: 0s\n`, [
      "spec.targetRefs[0].group: must be gateway.networking.k8s.io for kind Gateway",
      'spec.targetRefs[2].group: must be "" (the core group) for kind Service',
      "spec.targetRefs[1]: duplicate of spec.targetRefs[0]",
      'spec.module: must be normalized: no empty, "." or ".." segments',
      "spec.timeout: must be longer than 0 (leave it out for no bound)",
    ]],
    ["relative module", `${FP}spec: {targetRefs: [{kind: Service, name: s}], module: plugins/p.ts, sha256: ${SHA}}\n`, ["spec.module: must be an absolute path"]],
    ["a Wasm module", `${FP}spec: {targetRefs: [{kind: Service, name: s}], module: /opt/p.wasm, sha256: ${SHA}}\n`, ["spec.module: must name a .ts or .js file"]],
    ["ServiceEntry target", `${FP}spec: {targetRefs: [{kind: ServiceEntry, name: s}], module: /opt/p.js, sha256: ${SHA}}\n`, [
      'spec.targetRefs[0].kind: Invalid option: expected one of "Gateway"|"Service"',
    ]],
  ];
  for (const [name, yaml, want] of refused) test(`refuses ${name}`, () => expect(issuesOf(yaml)).toEqual(want));
});

describe("route regexes that backtrack exponentially (the waypoint's router would refuse its whole config)", () => {
  const NESTED = 'nested quantifier at offset 4: a repeated group that itself repeats (like "(a+)+") can take exponential time; rewrite it without nesting';
  const ALTERNATION = 'repeated alternation at offset 6: a group with "|" that repeats (like "(a|aa)*") can take exponential time; rewrite it without repetition';
  const cases: Array<[string, string, string]> = [
    ["HTTPRoute path", `${HR}spec: {rules: [{matches: [{path: {type: RegularExpression, value: '/(a+)+'}}]}]}\n`, `spec.rules[0].matches[0].path.value: ${NESTED.replace("offset 4", "offset 5")}`],
    ["HTTPRoute header", `${HR}spec: {rules: [{matches: [{headers: [{name: x-id, type: RegularExpression, value: '(a*)*'}]}]}]}\n`, `spec.rules[0].matches[0].headers[0].value: ${NESTED}`],
    ["HTTPRoute query parameter", `${HR}spec: {rules: [{matches: [{queryParams: [{name: q, type: RegularExpression, value: '(x|xx)+'}]}]}]}\n`, `spec.rules[0].matches[0].queryParams[0].value: ${ALTERNATION}`],
    ["GRPCRoute service", `${GR}spec: {rules: [{matches: [{method: {type: RegularExpression, service: '(a+)+'}}]}]}\n`, `spec.rules[0].matches[0].method.service: ${NESTED}`],
    ["GRPCRoute method", `${GR}spec: {rules: [{matches: [{method: {type: RegularExpression, method: '(x|xx)+'}}]}]}\n`, `spec.rules[0].matches[0].method.method: ${ALTERNATION}`],
    ["GRPCRoute header", `${GR}spec: {rules: [{matches: [{headers: [{name: x-id, type: RegularExpression, value: '(a*)*'}]}]}]}\n`, `spec.rules[0].matches[0].headers[0].value: ${NESTED}`],
  ];
  for (const [where, yaml, want] of cases) test(`refuses one in a ${where} with its field path`, () => expect(issuesOf(yaml)).toEqual([want]));

  test("accepts safe patterns in every regex field", () => {
    accepted(`${HR}spec: {rules: [{matches: [{path: {type: RegularExpression, value: '/api/v[0-9]+/.*'}, headers: [{name: x-id, type: RegularExpression, value: '(ab){2}'}], queryParams: [{name: q, type: RegularExpression, value: '(a|b)'}]}]}]}\n`);
    accepted(`${GR}spec: {rules: [{matches: [{method: {type: RegularExpression, service: 'grpc\\.health\\.v1\\..*', method: '(?:Check)+'}, headers: [{name: x-id, type: RegularExpression, value: '(a)+'}]}]}]}\n`);
  });
});

describe("HTTPFault", () => {
  const HF = "apiVersion: mesh.dev/v1\nkind: HTTPFault\nmetadata: {name: flaky, namespace: bookinfo}\n";
  test("accepts a delay, an abort, both, fractional shares and a gRPC status", () => {
    const r = accepted(`${HF}spec:\n  delay: {fixedDelay: 2s, percentage: 50}\n  abort: {httpStatus: 503, percentage: 10}\n`);
    expect(r.ok && r.resource.spec).toEqual({ delay: { fixedDelay: "2s", percentage: 50 }, abort: { httpStatus: 503, percentage: 10 } });
    for (const spec of ["{delay: {fixedDelay: 1h30m500ms}}", "{abort: {grpcStatus: 14, percentage: 0.1}}", "{abort: {httpStatus: 200, percentage: 100}}", "{delay: {fixedDelay: 0s, percentage: 0}}"]) {
      accepted(`${HF}spec: ${spec}\n`);
    }
  });

  const refused: Refused = [
    ["an empty fault", `${HF}spec: {}\n`, ["spec: needs delay, abort or both"]],
    ["an abort with both statuses, or none", `${HF}spec: {abort: {httpStatus: 503, grpcStatus: 14}}\n`, ["spec.abort: needs exactly one of httpStatus, grpcStatus"]],
    ["an abort with a share only", `${HF}spec: {abort: {percentage: 10}}\n`, ["spec.abort: needs exactly one of httpStatus, grpcStatus"]],
    ["statuses out of range", `${HF}spec: {abort: {httpStatus: 199}}\n`, ["spec.abort.httpStatus: Too small: expected number to be >=200"]],
    ["a gRPC OK", `${HF}spec: {abort: {grpcStatus: 0}}\n`, ["spec.abort.grpcStatus: Too small: expected number to be >=1"]],
    ["a fractional status", `${HF}spec: {abort: {httpStatus: 503.5}}\n`, ["spec.abort.httpStatus: Invalid input: expected int, received number"]],
    ["shares over 100 or negative", `${HF}spec: {delay: {fixedDelay: 1s, percentage: 101}, abort: {httpStatus: 503, percentage: -1}}\n`, [
      "spec.delay.percentage: Too big: expected number to be <=100",
      "spec.abort.percentage: Too small: expected number to be >=0",
    ]],
    ["a delay without its duration", `${HF}spec: {delay: {percentage: 5}}\n`, ["spec.delay.fixedDelay: Invalid input: expected string, received undefined"]],
    ["a Go duration", `${HF}spec: {delay: {fixedDelay: 1.5s}}\n`, ['spec.delay.fixedDelay: must be a Gateway API duration such as "10s", "500ms" or "1h30m"']],
    ["Istio's field names", `${HF}spec: {delay: {fixedDelay: 1s, percent: 5}, abort: {httpStatus: 503, percentage: {value: 5}}}\n`, [
      "spec.delay.percent: unknown field",
      "spec.abort.percentage: Invalid input: expected number, received object",
    ]],
  ];
  for (const [name, yaml, want] of refused) test(`refuses ${name}`, () => expect(issuesOf(yaml)).toEqual(want));
});
