/**
 * HTTPRoute (gateway.networking.k8s.io/v1) as of Gateway API v1.6, standard channel plus the
 * experimental `retry` and `sessionPersistence` that Istio serves. This module also holds the
 * Gateway API pieces GRPCRoute and Gateway share (names, references, header filters, mirroring,
 * durations) so that all three refuse the same mistakes with the same words.
 *
 * The schema mirrors the Go types' OpenAPI limits (lengths, item counts, patterns); `check` does
 * what upstream's CEL rules do: each filter carries exactly the config its type names, a filter
 * type appears once per list, Exact/PathPrefix paths are clean absolute paths, a Service backend
 * names a port, backendRequest fits inside request, and so on. Regular expressions must compile
 * as JavaScript RegExps (the dialect the router runs), which is stricter than RE2 in places:
 * `(?i)` is refused; and they must pass the router's own hazard check (no exponential
 * backtracking), or the router would refuse the waypoint's whole config.
 */
import { z } from "zod";
import { portNumber, duplicateIssues } from "../common.ts";
import { defineKind } from "../kind.ts";
import type { FieldIssue } from "../issues.ts";
import { regexHazard } from "../../../util/regex-hazard.ts";

// --- Names and references (shared_types.go, object_reference_types.go) ---

const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

export const gatewayGroup = z
  .string()
  .max(253)
  .regex(/^$|^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/, "must be empty (the core group) or a DNS subdomain");
export const refKind = z
  .string()
  .min(1)
  .max(63)
  .regex(/^[a-zA-Z]([-a-zA-Z0-9]*[a-zA-Z0-9])?$/, "must be a kind name: letters, digits and '-', starting with a letter");
export const objectName = z.string().min(1).max(253);
export const namespaceName = z
  .string()
  .min(1)
  .max(63)
  .regex(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/, "must be a DNS label: lower-case letters, digits and '-'");
export const sectionName = z.string().min(1).max(253).regex(DNS_SUBDOMAIN, "must be a DNS subdomain: lower-case letters, digits, '-' and '.'");
/** A route or listener hostname; a leading "*." wildcard is allowed. */
export const hostname = z
  .string()
  .min(1)
  .max(253)
  .regex(/^(\*\.)?[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/, 'must be a lower-case DNS name, optionally starting with "*."');
/** A hostname with no wildcard (redirects, rewrites). */
export const preciseHostname = z.string().min(1).max(253).regex(DNS_SUBDOMAIN, "must be a lower-case DNS name without wildcards");
export const headerName = z
  .string()
  .min(1)
  .max(256)
  .regex(/^[A-Za-z0-9!#$%&'*+\-.^_`|~]+$/, "must be an HTTP header name (RFC 7230 token characters)");

export const parentRef = z.strictObject({
  group: gatewayGroup.optional(),
  kind: refKind.optional(),
  namespace: namespaceName.optional(),
  name: objectName,
  sectionName: sectionName.optional(),
  port: portNumber.optional(),
});
export type ParentRef = z.infer<typeof parentRef>;

export const backendObjectRef = {
  group: gatewayGroup.optional(),
  kind: refKind.optional(),
  name: objectName,
  namespace: namespaceName.optional(),
  port: portNumber.optional(),
};
export const backendObjectReference = z.strictObject(backendObjectRef);
export type BackendObjectReference = z.infer<typeof backendObjectReference>;

export const localObjectReference = z.strictObject({ group: gatewayGroup, kind: refKind, name: objectName });

/** Secrets and other object references with defaults for group ("") and kind. */
export const secretObjectReference = z.strictObject({
  group: gatewayGroup.optional(),
  kind: refKind.optional(),
  name: objectName,
  namespace: namespaceName.optional(),
});

// --- Durations (GEP-2257) ---

const GATEWAY_DURATION = /^([0-9]{1,5}(h|m|s|ms)){1,4}$/;
const UNIT_MS: Record<string, number> = { h: 3_600_000, m: 60_000, s: 1000, ms: 1 };

/** A Gateway API Duration: one to four `<1-5 digits><h|m|s|ms>` parts, e.g. `10s`, `500ms`, `1h30m`. */
export const gatewayDuration = z.string().regex(GATEWAY_DURATION, 'must be a Gateway API duration such as "10s", "500ms" or "1h30m"');

/** Milliseconds of a string that passed `gatewayDuration`. */
export function gatewayDurationMs(d: string): number {
  let ms = 0;
  for (const m of d.matchAll(/(\d+)(ms|h|m|s)/g)) ms += Number(m[1]) * (UNIT_MS[m[2] as string] as number);
  return ms;
}

// --- Matches ---

const stringMatchType = z.enum(["Exact", "RegularExpression"]);

export const headerMatch = z.strictObject({
  type: stringMatchType.optional(),
  name: headerName,
  value: z.string().min(1).max(4096),
});

const pathMatch = z.strictObject({
  type: z.enum(["Exact", "PathPrefix", "RegularExpression"]).optional(),
  value: z.string().max(1024).optional(),
});

const queryParamMatch = z.strictObject({
  type: stringMatchType.optional(),
  name: headerName,
  value: z.string().min(1).max(1024),
});

const httpMethod = z.enum(["GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH"]);

const httpRouteMatch = z.strictObject({
  path: pathMatch.optional(),
  headers: z.array(headerMatch).max(16).optional(),
  queryParams: z.array(queryParamMatch).max(16).optional(),
  method: httpMethod.optional(),
});

// --- Filters ---

const httpHeader = z.strictObject({ name: headerName, value: z.string().min(1).max(4096) });

export const headerFilter = z.strictObject({
  set: z.array(httpHeader).max(16).optional(),
  add: z.array(httpHeader).max(16).optional(),
  remove: z.array(headerName).max(16).optional(),
});
export type HeaderFilter = z.infer<typeof headerFilter>;

export const requestMirror = z.strictObject({
  backendRef: backendObjectReference,
  percent: z.number().int().min(0).max(100).optional(),
  fraction: z.strictObject({ numerator: z.number().int().min(0), denominator: z.number().int().min(1).optional() }).optional(),
});

const pathModifier = z.strictObject({
  type: z.enum(["ReplaceFullPath", "ReplacePrefixMatch"]),
  replaceFullPath: z.string().max(1024).optional(),
  replacePrefixMatch: z.string().max(1024).optional(),
});

const requestRedirect = z.strictObject({
  scheme: z.enum(["http", "https"]).optional(),
  hostname: preciseHostname.optional(),
  path: pathModifier.optional(),
  port: portNumber.optional(),
  statusCode: z.literal([301, 302, 303, 307, 308]).optional(),
});

const urlRewrite = z.strictObject({ hostname: preciseHostname.optional(), path: pathModifier.optional() });

const corsOrigin = z
  .string()
  .min(1)
  .max(253)
  .regex(/(^\*$)|(^(http(s)?):\/\/(((\*\.)?([a-zA-Z0-9-]+\.)*[a-zA-Z0-9-]+|\*)(:([0-9]{1,5}))?)$)/, 'must be "*" or scheme://host[:port], e.g. "https://*.example.com"');

const cors = z.strictObject({
  allowOrigins: z.array(corsOrigin).max(64).optional(),
  allowCredentials: z.boolean().optional(),
  allowMethods: z.array(z.enum([...httpMethod.options, "*"])).max(9).optional(),
  allowHeaders: z.array(headerName).max(64).optional(),
  exposeHeaders: z.array(headerName).max(64).optional(),
  maxAge: z.number().int().min(1).optional(),
});

/** The config field each filter type carries. */
const FILTER_FIELD = {
  RequestHeaderModifier: "requestHeaderModifier",
  ResponseHeaderModifier: "responseHeaderModifier",
  RequestMirror: "requestMirror",
  RequestRedirect: "requestRedirect",
  URLRewrite: "urlRewrite",
  CORS: "cors",
  ExtensionRef: "extensionRef",
} as const;
type FilterType = keyof typeof FILTER_FIELD;
/** Filter types that may appear at most once in one filters list. */
const ONCE = new Set<string>(["RequestHeaderModifier", "ResponseHeaderModifier", "RequestRedirect", "URLRewrite", "CORS"]);

export const httpRouteFilter = z.strictObject({
  type: z.enum(["RequestHeaderModifier", "ResponseHeaderModifier", "RequestMirror", "RequestRedirect", "URLRewrite", "CORS", "ExtensionRef"]),
  requestHeaderModifier: headerFilter.optional(),
  responseHeaderModifier: headerFilter.optional(),
  requestMirror: requestMirror.optional(),
  requestRedirect: requestRedirect.optional(),
  urlRewrite: urlRewrite.optional(),
  cors: cors.optional(),
  extensionRef: localObjectReference.optional(),
});
export type HTTPRouteFilter = z.infer<typeof httpRouteFilter>;

// --- Rules ---

const httpBackendRef = z.strictObject({
  ...backendObjectRef,
  weight: z.number().int().min(0).max(1_000_000).optional(),
  filters: z.array(httpRouteFilter).max(16).optional(),
});

/** Session persistence as released in v1.6 (experimental channel). */
export const sessionPersistence = z.strictObject({
  sessionName: z.string().max(128).optional(),
  absoluteTimeout: gatewayDuration.optional(),
  type: z.enum(["Cookie", "Header"]).optional(),
  cookieConfig: z.strictObject({ lifetimeType: z.enum(["Permanent", "Session"]).optional() }).optional(),
});
export type SessionPersistence = z.infer<typeof sessionPersistence>;

const httpRouteRule = z.strictObject({
  name: sectionName.optional(),
  matches: z.array(httpRouteMatch).max(64).optional(),
  filters: z.array(httpRouteFilter).max(16).optional(),
  backendRefs: z.array(httpBackendRef).max(16).optional(),
  timeouts: z.strictObject({ request: gatewayDuration.optional(), backendRequest: gatewayDuration.optional() }).optional(),
  retry: z
    .strictObject({
      codes: z.array(z.number().int().min(400).max(599)).optional(),
      attempts: z.number().int().min(1).optional(),
      backoff: gatewayDuration.optional(),
    })
    .optional(),
  sessionPersistence: sessionPersistence.optional(),
});
export type HTTPRouteRule = z.infer<typeof httpRouteRule>;

export const httpRouteSpec = z.strictObject({
  parentRefs: z.array(parentRef).max(32).optional(),
  hostnames: z.array(hostname).max(16).optional(),
  rules: z.array(httpRouteRule).min(1, "needs at least one rule").max(16).optional(),
});
export type HTTPRouteSpec = z.infer<typeof httpRouteSpec>;

// --- Checks shared by the route kinds ---

/**
 * A regular expression the router can compile and will accept, or why not. Every route regex the
 * control plane accepts goes through here, and here through the plugin API's own hazard check
 * (src/util/regex-hazard.ts): a pattern the router refuses would fail the waypoint's whole config.
 */
export function regexProblem(source: string): string | null {
  if (/\(\?[A-Za-z]+\)/.test(source)) return "inline flags such as (?i) are RE2 syntax; the router runs JavaScript regular expressions, which have none";
  try {
    new RegExp(source);
  } catch (err) {
    return `not a valid regular expression: ${(err as Error).message.replace(/^Invalid regular expression: (\/.*\/[a-z]*: )?/, "")}`;
  }
  return regexHazard(source);
}

/** Two references to one parent must tell apart the listeners they mean (sectionName or port). */
export function parentRefIssues(refs: readonly ParentRef[] | undefined): FieldIssue[] {
  const issues: FieldIssue[] = [];
  const parent = (p: ParentRef) => `${p.group ?? "gateway.networking.k8s.io"}/${p.kind ?? "Gateway"}/${p.namespace ?? ""}/${p.name}`;
  const byParent = new Map<string, number[]>();
  (refs ?? []).forEach((p, i) => byParent.set(parent(p), [...(byParent.get(parent(p)) ?? []), i]));
  for (const indexes of byParent.values()) {
    if (indexes.length < 2) continue;
    for (const i of indexes) {
      const p = (refs ?? [])[i] as ParentRef;
      if (!p.sectionName && p.port === undefined) {
        issues.push({ path: `spec.parentRefs[${i}]`, message: "needs sectionName or port: several parentRefs name the same parent" });
      }
    }
  }
  issues.push(...duplicateIssues(refs, "spec.parentRefs", (p) => `${parent(p)}/${p.sectionName ?? ""}/${p.port ?? ""}`));
  return issues;
}

/** A core Service backend must say which port (group "" and kind Service are the defaults). */
export function backendRefIssues(ref: BackendObjectReference, at: string): FieldIssue[] {
  const isService = (ref.group ?? "") === "" && (ref.kind ?? "Service") === "Service";
  return isService && ref.port === undefined ? [{ path: `${at}.port`, message: "required for a Service backend" }] : [];
}

function headerFilterIssues(f: HeaderFilter, at: string): FieldIssue[] {
  const lower = (h: { name: string }) => h.name.toLowerCase();
  return [
    ...duplicateIssues(f.set, `${at}.set`, lower, ".name"),
    ...duplicateIssues(f.add, `${at}.add`, lower, ".name"),
    ...duplicateIssues(f.remove, `${at}.remove`, (h) => h.toLowerCase()),
  ];
}

function pathModifierIssues(p: z.infer<typeof pathModifier> | undefined, at: string, onePrefixMatch: boolean): FieldIssue[] {
  if (!p) return [];
  const issues: FieldIssue[] = [];
  const own = p.type === "ReplaceFullPath" ? "replaceFullPath" : "replacePrefixMatch";
  const other = p.type === "ReplaceFullPath" ? "replacePrefixMatch" : "replaceFullPath";
  if (p[own] === undefined) issues.push({ path: `${at}.${own}`, message: `required when type is ${p.type}` });
  if (p[other] !== undefined) issues.push({ path: `${at}.${other}`, message: `not allowed when type is ${p.type}` });
  if (p.type === "ReplacePrefixMatch" && !onePrefixMatch) {
    issues.push({ path: `${at}.type`, message: "ReplacePrefixMatch needs the rule to have exactly one match, with a PathPrefix path" });
  }
  return issues;
}

/** The filter shape common to HTTPRoute and GRPCRoute: only the fields each may carry. */
type AnyFilter = { readonly type: string } & Partial<Record<(typeof FILTER_FIELD)[FilterType], unknown>>;

/**
 * One filters list: each filter has the config its type names and no other, some types at most
 * once, redirect and rewrite not together. `onePrefixMatch`: whether the rule has exactly one
 * match and it is a PathPrefix one (what ReplacePrefixMatch needs).
 */
export function filterIssues(filters: readonly AnyFilter[] | undefined, at: string, onePrefixMatch = false): FieldIssue[] {
  const issues: FieldIssue[] = [];
  const firstOfType = new Map<string, number>();
  (filters ?? []).forEach((f, i) => {
    const p = `${at}[${i}]`;
    const own = FILTER_FIELD[f.type as FilterType];
    if (f[own] === undefined) issues.push({ path: `${p}.${own}`, message: `required when type is ${f.type}` });
    for (const field of Object.values(FILTER_FIELD)) {
      if (field !== own && f[field] !== undefined) issues.push({ path: `${p}.${field}`, message: `not allowed when type is ${f.type}` });
    }
    const first = firstOfType.get(f.type);
    if (first === undefined) firstOfType.set(f.type, i);
    else if (ONCE.has(f.type)) issues.push({ path: `${p}.type`, message: `${f.type} may appear only once (already at ${at}[${first}])` });
    if (f.type === "RequestHeaderModifier" && f.requestHeaderModifier) issues.push(...headerFilterIssues(f.requestHeaderModifier as HeaderFilter, `${p}.requestHeaderModifier`));
    if (f.type === "ResponseHeaderModifier" && f.responseHeaderModifier) issues.push(...headerFilterIssues(f.responseHeaderModifier as HeaderFilter, `${p}.responseHeaderModifier`));
    if (f.type === "RequestMirror" && f.requestMirror) {
      const m = f.requestMirror as z.infer<typeof requestMirror>;
      issues.push(...backendRefIssues(m.backendRef, `${p}.requestMirror.backendRef`));
      if (m.percent !== undefined && m.fraction) issues.push({ path: `${p}.requestMirror`, message: "only one of percent, fraction may be set" });
      if (m.fraction && m.fraction.numerator > (m.fraction.denominator ?? 100)) {
        issues.push({ path: `${p}.requestMirror.fraction.numerator`, message: `must not exceed the denominator (${m.fraction.denominator ?? 100})` });
      }
    }
    if (f.type === "RequestRedirect" && f.requestRedirect) {
      issues.push(...pathModifierIssues((f.requestRedirect as z.infer<typeof requestRedirect>).path, `${p}.requestRedirect.path`, onePrefixMatch));
    }
    if (f.type === "URLRewrite" && f.urlRewrite) {
      issues.push(...pathModifierIssues((f.urlRewrite as z.infer<typeof urlRewrite>).path, `${p}.urlRewrite.path`, onePrefixMatch));
    }
    if (f.type === "CORS" && f.cors) {
      const c = f.cors as z.infer<typeof cors>;
      for (const field of ["allowOrigins", "allowMethods", "allowHeaders"] as const) {
        const values = c[field] ?? [];
        if (values.length > 1 && values.includes("*")) issues.push({ path: `${p}.cors.${field}`, message: '"*" must be the only entry' });
      }
    }
  });
  if (firstOfType.has("RequestRedirect") && firstOfType.has("URLRewrite")) {
    issues.push({ path: at, message: "RequestRedirect and URLRewrite cannot be used together" });
  }
  return issues;
}

export function headerMatchIssues(headers: ReadonlyArray<z.infer<typeof headerMatch>> | undefined, at: string): FieldIssue[] {
  const issues = duplicateIssues(headers, at, (h) => h.name.toLowerCase(), ".name");
  (headers ?? []).forEach((h, i) => {
    const problem = h.type === "RegularExpression" ? regexProblem(h.value) : null;
    if (problem) issues.push({ path: `${at}[${i}].value`, message: problem });
  });
  return issues;
}

const PATH_CHARS = /^(?:[-A-Za-z0-9/._~!$&'()*+,;=:@]|[%][0-9a-fA-F]{2})+$/;

/** What is wrong with an Exact or PathPrefix path value, if anything (upstream's CEL rules, first failing). */
export function pathValueProblem(value: string): string | null {
  if (!value.startsWith("/")) return 'must be an absolute path starting with "/"';
  for (const bad of ["//", "/./", "/../", "%2f", "%2F", "#"]) if (value.includes(bad)) return `must not contain "${bad}"`;
  for (const bad of ["/..", "/."]) if (value.endsWith(bad)) return `must not end with "${bad}"`;
  if (!PATH_CHARS.test(value)) return "must contain only URL path characters (RFC 3986) and %-escapes";
  return null;
}

function sessionPersistenceIssues(s: SessionPersistence | undefined, at: string): FieldIssue[] {
  if (!s) return [];
  const issues: FieldIssue[] = [];
  if (s.cookieConfig && (s.type ?? "Cookie") !== "Cookie") issues.push({ path: `${at}.cookieConfig`, message: "only allowed when type is Cookie" });
  if (s.cookieConfig?.lifetimeType === "Permanent" && s.absoluteTimeout === undefined) {
    issues.push({ path: `${at}.absoluteTimeout`, message: "required when cookieConfig.lifetimeType is Permanent" });
  }
  return issues;
}

const MAX_MATCHES = 128;

/** Rule names, when given, are unique within a route; matches are bounded; sessionPersistence is consistent. */
export function ruleCommonIssues(
  rules: ReadonlyArray<{ name?: string; matches?: readonly unknown[]; sessionPersistence?: SessionPersistence }> | undefined,
): FieldIssue[] {
  const issues = duplicateIssues(rules, "spec.rules", (r) => r.name, ".name");
  const total = (rules ?? []).reduce((n, r) => n + (r.matches?.length ?? 0), 0);
  if (total > MAX_MATCHES) issues.push({ path: "spec.rules", message: `at most ${MAX_MATCHES} matches in all rules together (got ${total})` });
  (rules ?? []).forEach((r, i) => issues.push(...sessionPersistenceIssues(r.sessionPersistence, `spec.rules[${i}].sessionPersistence`)));
  return issues;
}

function httpRuleIssues(rule: HTTPRouteRule, at: string): FieldIssue[] {
  const issues: FieldIssue[] = [];
  (rule.matches ?? []).forEach((m, j) => {
    const p = `${at}.matches[${j}]`;
    if (m.path) {
      const type = m.path.type ?? "PathPrefix";
      const value = m.path.value ?? "/";
      const problem = type === "RegularExpression" ? regexProblem(value) : pathValueProblem(value);
      if (problem) issues.push({ path: `${p}.path.value`, message: problem });
    }
    issues.push(...headerMatchIssues(m.headers, `${p}.headers`));
    issues.push(...duplicateIssues(m.queryParams, `${p}.queryParams`, (q) => q.name, ".name"));
    (m.queryParams ?? []).forEach((q, k) => {
      const problem = q.type === "RegularExpression" ? regexProblem(q.value) : null;
      if (problem) issues.push({ path: `${p}.queryParams[${k}].value`, message: problem });
    });
  });
  const matches = rule.matches ?? [{}];
  const onePrefixMatch = matches.length === 1 && (matches[0]?.path?.type ?? "PathPrefix") === "PathPrefix";
  issues.push(...filterIssues(rule.filters, `${at}.filters`, onePrefixMatch));
  const redirects = (rule.filters ?? []).some((f) => f.type === "RequestRedirect");
  if (redirects && (rule.backendRefs?.length ?? 0) > 0) {
    issues.push({ path: `${at}.backendRefs`, message: "not allowed with a RequestRedirect filter: a rule either redirects or forwards" });
  }
  (rule.backendRefs ?? []).forEach((b, j) => {
    issues.push(...backendRefIssues(b, `${at}.backendRefs[${j}]`));
    issues.push(...filterIssues(b.filters, `${at}.backendRefs[${j}].filters`, onePrefixMatch));
  });
  const t = rule.timeouts;
  if (t?.request !== undefined && t.backendRequest !== undefined) {
    const request = gatewayDurationMs(t.request);
    if (request !== 0 && gatewayDurationMs(t.backendRequest) > request) {
      issues.push({ path: `${at}.timeouts.backendRequest`, message: `must not be longer than timeouts.request (${t.request})` });
    }
  }
  issues.push(...duplicateIssues(rule.retry?.codes, `${at}.retry.codes`, String));
  return issues;
}

export const httpRouteKind = defineKind<HTTPRouteSpec>({
  kind: "HTTPRoute",
  plural: "httproutes",
  apiVersions: ["gateway.networking.k8s.io/v1", "gateway.networking.k8s.io/v1beta1"],
  namespaced: true,
  spec: httpRouteSpec,
  check: (spec) => {
    const issues: FieldIssue[] = [...parentRefIssues(spec.parentRefs), ...ruleCommonIssues(spec.rules)];
    (spec.rules ?? []).forEach((rule, i) => issues.push(...httpRuleIssues(rule, `spec.rules[${i}]`)));
    return issues;
  },
});
