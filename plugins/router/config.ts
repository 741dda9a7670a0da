/**
 * The router's config, as the control plane emits it (src/controlplane/translate/waypoint-view.ts):
 *
 *   { routes: [{ kind: "HTTPRoute" | "GRPCRoute", namespace, name, parents: ["<ns>/<hostname>[:port]"],
 *                hostnames, rules }],          // oldest route first
 *     faults?: { "<ns>/<name>": Fault } }     // mesh.dev HTTPFault, referenced by ExtensionRef
 *
 * parseConfig checks the shape the router relies on and compiles it once per config version:
 * regular expressions compiled (anchored: a full match, as Envoy), durations in milliseconds,
 * defaults filled in (backend group "", kind Service, the route's namespace; weight 1; redirect
 * 302), and every match of every rule flattened into a candidate list per listener, sorted by
 * Gateway API precedence (./precedence.ts). Anything else wrong is refused with its field path.
 * A filter the router cannot run (CORS, an ExtensionRef that resolves to nothing) does not refuse
 * the config: that rule answers 500, as the Gateway API requires, and a warning is kept.
 */
import {
  at,
  PluginConfigError,
  readArray,
  readDuration,
  readEnum,
  readInt,
  readNumber,
  readObject,
  readOptional,
  readRegExp,
  readString,
  type BackendRef,
  type ConfigObject,
  type RetryPolicy,
} from "../../src/plugin-api/index.ts";
import { byPrecedence } from "./precedence.ts";

export type RouteKind = "HTTPRoute" | "GRPCRoute";

export type StringMatch = { readonly exact: string } | { readonly regex: RegExp };

export type PathMatch = { readonly type: "Exact" | "PathPrefix"; readonly value: string } | { readonly type: "RegularExpression"; readonly value: string; readonly regex: RegExp };

export interface HeaderMatch {
  /** Lower case. */
  readonly name: string;
  readonly value: StringMatch;
}

/** One entry of a rule's `matches` (HTTPRoute and GRPCRoute alike; unused parts are empty). */
export interface Match {
  readonly path: PathMatch;
  readonly method: string | null;
  readonly headers: readonly HeaderMatch[];
  readonly query: readonly HeaderMatch[];
  /** GRPCRoute: service and method (null: any). */
  readonly grpc: { readonly service: StringMatch | null; readonly method: StringMatch | null; readonly serviceLength: number; readonly methodLength: number } | null;
}

export interface HeaderOps {
  readonly set: ReadonlyArray<readonly [string, string]>;
  readonly add: ReadonlyArray<readonly [string, string]>;
  readonly remove: readonly string[];
}

export interface PathModifier {
  readonly type: "ReplaceFullPath" | "ReplacePrefixMatch";
  readonly value: string;
}

export interface Redirect {
  readonly scheme: "http" | "https" | null;
  readonly hostname: string | null;
  readonly port: number | null;
  readonly path: PathModifier | null;
  readonly statusCode: number;
}

export interface Mirror {
  readonly backend: BackendRefTemplate;
  /** Share of requests mirrored, 0–1. */
  readonly share: number;
}

export interface Fault {
  readonly delay: { readonly ms: number; readonly percentage: number } | null;
  readonly abort: { readonly httpStatus: number | null; readonly grpcStatus: number | null; readonly percentage: number } | null;
}

/** What a filters list (of a rule or of one backendRef) does. */
export interface Filters {
  readonly requestHeaders: HeaderOps | null;
  readonly responseHeaders: HeaderOps | null;
  readonly redirect: Redirect | null;
  readonly rewrite: { readonly hostname: string | null; readonly path: PathModifier | null } | null;
  readonly mirrors: readonly Mirror[];
  readonly fault: Fault | null;
  /** Why this rule cannot be served (answers 500), e.g. an unresolved ExtensionRef. */
  readonly unsupported: string | null;
}

/** A backend whose port may come from the request (non-Service kinds without a port). */
export type BackendRefTemplate = Omit<BackendRef, "port"> & { readonly port: number | null };

export interface WeightedBackend {
  readonly ref: BackendRefTemplate;
  readonly weight: number;
  readonly filters: Filters;
}

export interface Rule {
  readonly index: number;
  readonly name: string | null;
  readonly filters: Filters;
  /** Only the backends with weight > 0. */
  readonly backends: readonly WeightedBackend[];
  readonly declaredBackends: number;
  readonly totalWeight: number;
  readonly timeouts: { readonly requestMs: number | null; readonly backendRequestMs: number | null };
  readonly retry: RetryPolicy | null;
}

export interface Route {
  readonly kind: RouteKind;
  readonly namespace: string;
  readonly name: string;
  /** Position in the config: older routes come first and win ties. */
  readonly age: number;
}

/** One match of one rule of one route, attached to one listener (and maybe one port). */
export interface Candidate {
  readonly route: Route;
  readonly rule: Rule;
  readonly matchIndex: number;
  readonly match: Match;
  readonly port: number | null;
}

export interface RouterConfig {
  /** Per listener key, the HTTPRoute candidates in precedence order. */
  readonly http: ReadonlyMap<string, readonly Candidate[]>;
  /** Per listener key, the GRPCRoute candidates in precedence order (tried first for gRPC requests). */
  readonly grpc: ReadonlyMap<string, readonly Candidate[]>;
  readonly warnings: readonly string[];
}

const NO_FILTERS: Filters = { requestHeaders: null, responseHeaders: null, redirect: null, rewrite: null, mirrors: [], fault: null, unsupported: null };
const HTTP_METHODS = ["GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH"] as const;
const FAULT_KIND = "HTTPFault";
const MESH_GROUP = "mesh.dev";

export function parseRouterConfig(raw: unknown): RouterConfig {
  const top = readObject(raw, "", ["routes", "faults"]);
  const faults = new Map<string, Fault>();
  const faultObj = readOptional(top, "faults", "", readObject, {});
  for (const [key, v] of Object.entries(faultObj)) faults.set(key, parseFault(v, at("faults", key)));
  const warnings: string[] = [];
  const http = new Map<string, Candidate[]>();
  const grpc = new Map<string, Candidate[]>();
  readArray(top.routes ?? [], "routes").forEach((r, age) => {
    const path = at("routes", age);
    const o = readObject(r, path, ["kind", "namespace", "name", "parents", "hostnames", "rules"]);
    const route: Route = {
      kind: readEnum(o.kind, at(path, "kind"), ["HTTPRoute", "GRPCRoute"] as const),
      namespace: readString(o.namespace, at(path, "namespace"), { min: 1 }),
      name: readString(o.name, at(path, "name"), { min: 1 }),
      age,
    };
    readOptional(o, "hostnames", path, (v, p) => readArray(v, p).map((h, i) => readString(h, at(p, i)))); // checked; ignored for Service parents (GAMMA)
    const ctx: RuleContext = { route, faults, warn: (w) => warnings.push(w) };
    const rules = readArray(o.rules ?? [], at(path, "rules")).map((rule, i) => parseRule(rule, at(at(path, "rules"), i), i, ctx));
    const target = route.kind === "GRPCRoute" ? grpc : http;
    readArray(o.parents, at(path, "parents")).forEach((p, i) => {
      const { listener, port } = parseParent(readString(p, at(at(path, "parents"), i), { min: 1 }), at(at(path, "parents"), i));
      const list = target.get(listener) ?? [];
      for (const rule of rules) rule.matches.forEach((match, matchIndex) => list.push({ route, rule: rule.rule, matchIndex, match, port }));
      target.set(listener, list);
    });
  });
  for (const list of [...http.values(), ...grpc.values()]) list.sort(byPrecedence);
  return { http, grpc, warnings };
}

/** "<ns>/<hostname>[:port]" → the listener key and the port (null: every port). */
function parseParent(text: string, path: string): { listener: string; port: number | null } {
  const m = /^([^/]+\/[^/:]+)(?::(\d{1,5}))?$/.exec(text);
  if (!m) throw new PluginConfigError(path, `must be "<namespace>/<hostname>[:port]" (got ${JSON.stringify(text)})`);
  const port = m[2] === undefined ? null : Number(m[2]);
  if (port !== null && (port < 1 || port > 65535)) throw new PluginConfigError(path, `port must be between 1 and 65535 (got ${port})`);
  return { listener: m[1] as string, port };
}

interface RuleContext {
  readonly route: Route;
  readonly faults: ReadonlyMap<string, Fault>;
  readonly warn: (message: string) => void;
}

function parseRule(raw: unknown, path: string, index: number, ctx: RuleContext): { rule: Rule; matches: Match[] } {
  const grpc = ctx.route.kind === "GRPCRoute";
  const o = readObject(raw, path, ["name", "matches", "filters", "backendRefs", "timeouts", "retry", "sessionPersistence"]);
  const rawMatches = readOptional(o, "matches", path, readArray);
  const matches = rawMatches === undefined || rawMatches.length === 0 ? [DEFAULT_MATCH] : rawMatches.map((m, i) => (grpc ? parseGrpcMatch : parseHttpMatch)(m, at(at(path, "matches"), i)));
  const prefix = matches.length === 1 && matches[0]?.path.type === "PathPrefix" ? matches[0].path.value : null;
  const filters = parseFilters(o.filters, at(path, "filters"), prefix, ctx);
  const declared = readOptional(o, "backendRefs", path, readArray, []);
  const backends = declared.map((b, i) => parseBackend(b, at(at(path, "backendRefs"), i), prefix, ctx)).filter((b) => b.weight > 0);
  const t = readOptional(o, "timeouts", path, (v, p) => readObject(v, p, ["request", "backendRequest"]), {});
  const nonZero = (ms: number | undefined) => (ms === undefined || ms === 0 ? null : ms);
  const name = readOptional(o, "name", path, readString) ?? null;
  if (filters.unsupported) ctx.warn(`${ctx.route.kind} ${ctx.route.namespace}/${ctx.route.name} rule ${name ?? index}: ${filters.unsupported}; its requests get 500`);
  return {
    matches,
    rule: {
      index,
      name,
      filters,
      backends,
      declaredBackends: declared.length,
      totalWeight: backends.reduce((n, b) => n + b.weight, 0),
      timeouts: { requestMs: nonZero(readOptional(t, "request", at(path, "timeouts"), readDuration)), backendRequestMs: nonZero(readOptional(t, "backendRequest", at(path, "timeouts"), readDuration)) },
      retry: readOptional(o, "retry", path, parseRetry) ?? null,
    },
  };
}

const DEFAULT_MATCH: Match = { path: { type: "PathPrefix", value: "/" }, method: null, headers: [], query: [], grpc: null };

function parseStringMatch(type: unknown, value: unknown, path: string): StringMatch {
  const t = type === undefined ? "Exact" : readEnum(type, at(path, "type"), ["Exact", "RegularExpression"] as const);
  return t === "Exact" ? { exact: readString(value, at(path, "value"), { min: 1 }) } : { regex: readRegExp(value, at(path, "value")) };
}

function parseHeaderMatches(raw: unknown, path: string, lower: boolean): HeaderMatch[] {
  if (raw === undefined) return [];
  const seen = new Set<string>();
  const out: HeaderMatch[] = [];
  readArray(raw, path, 16).forEach((h, i) => {
    const p = at(path, i);
    const o = readObject(h, p, ["type", "name", "value"]);
    const name = readString(o.name, at(p, "name"), { min: 1 });
    const key = lower ? name.toLowerCase() : name;
    // Gateway API: of several entries with one name, only the first counts.
    if (seen.has(key)) return;
    seen.add(key);
    out.push({ name: key, value: parseStringMatch(o.type, o.value, p) });
  });
  return out;
}

function parseHttpMatch(raw: unknown, path: string): Match {
  const o = readObject(raw, path, ["path", "headers", "queryParams", "method"]);
  let pathMatch: PathMatch = DEFAULT_MATCH.path;
  if (o.path !== undefined) {
    const p = readObject(o.path, at(path, "path"), ["type", "value"]);
    const type = p.type === undefined ? "PathPrefix" : readEnum(p.type, at(at(path, "path"), "type"), ["Exact", "PathPrefix", "RegularExpression"] as const);
    const valuePath = at(at(path, "path"), "value");
    if (type === "RegularExpression") pathMatch = { type, value: readString(p.value, valuePath), regex: readRegExp(p.value, valuePath) };
    else {
      const value = p.value === undefined ? "/" : readString(p.value, valuePath, { min: 1, pattern: /^\//, what: 'an absolute path starting with "/"' });
      pathMatch = { type, value: type === "PathPrefix" && value.length > 1 ? value.replace(/\/+$/, "") || "/" : value };
    }
  }
  return {
    path: pathMatch,
    method: readOptional(o, "method", path, (v, p) => readEnum(v, p, HTTP_METHODS)) ?? null,
    headers: parseHeaderMatches(o.headers, at(path, "headers"), true),
    query: parseHeaderMatches(o.queryParams, at(path, "queryParams"), false),
    grpc: null,
  };
}

function parseGrpcMatch(raw: unknown, path: string): Match {
  const o = readObject(raw, path, ["method", "headers"]);
  let grpc: Match["grpc"] = null;
  if (o.method !== undefined) {
    const mp = at(path, "method");
    const m = readObject(o.method, mp, ["type", "service", "method"]);
    if (m.service === undefined && m.method === undefined) throw new PluginConfigError(mp, "must set service, method or both");
    const part = (field: "service" | "method") => (m[field] === undefined ? null : parseStringMatch(m.type, m[field], at(mp, field)));
    grpc = {
      service: part("service"),
      method: part("method"),
      serviceLength: typeof m.service === "string" ? m.service.length : 0,
      methodLength: typeof m.method === "string" ? m.method.length : 0,
    };
  }
  return { path: DEFAULT_MATCH.path, method: null, headers: parseHeaderMatches(o.headers, at(path, "headers"), true), query: [], grpc };
}

function parseBackendRef(raw: unknown, path: string, ctx: RuleContext, extra: readonly string[] = []): { ref: BackendRefTemplate; o: ConfigObject } {
  const o = readObject(raw, path, ["group", "kind", "name", "namespace", "port", ...extra]);
  const ref: BackendRefTemplate = {
    group: readOptional(o, "group", path, readString, ""),
    kind: readOptional(o, "kind", path, (v, p) => readString(v, p, { min: 1 }), "Service"),
    namespace: readOptional(o, "namespace", path, (v, p) => readString(v, p, { min: 1 }), ctx.route.namespace),
    name: readString(o.name, at(path, "name"), { min: 1 }),
    port: readOptional(o, "port", path, (v, p) => readInt(v, p, 1, 65535)) ?? null,
  };
  if (ref.group === "" && ref.kind === "Service" && ref.port === null) throw new PluginConfigError(at(path, "port"), "required for a Service backend");
  return { ref, o };
}

function parseBackend(raw: unknown, path: string, prefix: string | null, ctx: RuleContext): WeightedBackend {
  const { ref, o } = parseBackendRef(raw, path, ctx, ["weight", "filters"]);
  return { ref, weight: readOptional(o, "weight", path, (v, p) => readInt(v, p, 0, 1_000_000), 1), filters: parseFilters(o.filters, at(path, "filters"), prefix, ctx) };
}

function parseHeaderOps(raw: unknown, path: string): HeaderOps {
  const o = readObject(raw, path, ["set", "add", "remove"]);
  const pairs = (key: "set" | "add") =>
    readOptional(o, key, path, readArray, []).map((h, i) => {
      const p = at(at(path, key), i);
      const e = readObject(h, p, ["name", "value"]);
      return [readString(e.name, at(p, "name"), { min: 1 }).toLowerCase(), readString(e.value, at(p, "value"))] as const;
    });
  return { set: pairs("set"), add: pairs("add"), remove: readOptional(o, "remove", path, readArray, []).map((h, i) => readString(h, at(at(path, "remove"), i), { min: 1 }).toLowerCase()) };
}

function parsePathModifier(raw: unknown, path: string, prefix: string | null): PathModifier {
  const o = readObject(raw, path, ["type", "replaceFullPath", "replacePrefixMatch"]);
  const type = readEnum(o.type, at(path, "type"), ["ReplaceFullPath", "ReplacePrefixMatch"] as const);
  const field = type === "ReplaceFullPath" ? "replaceFullPath" : "replacePrefixMatch";
  if (type === "ReplacePrefixMatch" && prefix === null) throw new PluginConfigError(at(path, "type"), "ReplacePrefixMatch needs the rule to have exactly one match, with a PathPrefix path");
  return { type, value: readString(o[field], at(path, field)) };
}

function parseFilters(raw: unknown, path: string, prefix: string | null, ctx: RuleContext): Filters {
  if (raw === undefined) return NO_FILTERS;
  let out: { -readonly [K in keyof Filters]: Filters[K] } = { ...NO_FILTERS, mirrors: [] };
  readArray(raw, path, 16).forEach((f, i) => {
    const p = at(path, i);
    const o = readObject(f, p, ["type", "requestHeaderModifier", "responseHeaderModifier", "requestMirror", "requestRedirect", "urlRewrite", "cors", "extensionRef"]);
    const type = readEnum(o.type, at(p, "type"), ["RequestHeaderModifier", "ResponseHeaderModifier", "RequestMirror", "RequestRedirect", "URLRewrite", "CORS", "ExtensionRef"] as const);
    switch (type) {
      case "RequestHeaderModifier":
        out.requestHeaders = parseHeaderOps(o.requestHeaderModifier, at(p, "requestHeaderModifier"));
        break;
      case "ResponseHeaderModifier":
        out.responseHeaders = parseHeaderOps(o.responseHeaderModifier, at(p, "responseHeaderModifier"));
        break;
      case "RequestMirror": {
        const mp = at(p, "requestMirror");
        const m = readObject(o.requestMirror, mp, ["backendRef", "percent", "fraction"]);
        let share = readOptional(m, "percent", mp, (v, q) => readInt(v, q, 0, 100), 100) / 100;
        if (m.fraction !== undefined) {
          const fr = readObject(m.fraction, at(mp, "fraction"), ["numerator", "denominator"]);
          const denominator = readOptional(fr, "denominator", at(mp, "fraction"), (v, q) => readInt(v, q, 1), 100);
          share = readInt(fr.numerator, at(at(mp, "fraction"), "numerator"), 0, denominator) / denominator;
        }
        out.mirrors = [...out.mirrors, { backend: parseBackendRef(m.backendRef, at(mp, "backendRef"), ctx).ref, share }];
        break;
      }
      case "RequestRedirect": {
        const rp = at(p, "requestRedirect");
        const r = readObject(o.requestRedirect, rp, ["scheme", "hostname", "path", "port", "statusCode"]);
        out.redirect = {
          scheme: readOptional(r, "scheme", rp, (v, q) => readEnum(v, q, ["http", "https"] as const)) ?? null,
          hostname: readOptional(r, "hostname", rp, (v, q) => readString(v, q, { min: 1 })) ?? null,
          port: readOptional(r, "port", rp, (v, q) => readInt(v, q, 1, 65535)) ?? null,
          path: readOptional(r, "path", rp, (v, q) => parsePathModifier(v, q, prefix)) ?? null,
          statusCode: readOptional(r, "statusCode", rp, (v, q) => Number(readEnum(String(v), q, ["301", "302", "303", "307", "308"] as const)), 302),
        };
        break;
      }
      case "URLRewrite": {
        const up = at(p, "urlRewrite");
        const u = readObject(o.urlRewrite, up, ["hostname", "path"]);
        out.rewrite = { hostname: readOptional(u, "hostname", up, (v, q) => readString(v, q, { min: 1 })) ?? null, path: readOptional(u, "path", up, (v, q) => parsePathModifier(v, q, prefix)) ?? null };
        break;
      }
      case "CORS":
        out.unsupported ??= `filter ${p} (CORS) is not supported by the router`;
        break;
      case "ExtensionRef": {
        const ep = at(p, "extensionRef");
        const e = readObject(o.extensionRef, ep, ["group", "kind", "name"]);
        const ref = `${readString(e.group, at(ep, "group"))}/${readString(e.kind, at(ep, "kind"))} ${ctx.route.namespace}/${readString(e.name, at(ep, "name"), { min: 1 })}`;
        const fault = e.group === MESH_GROUP && e.kind === FAULT_KIND ? ctx.faults.get(`${ctx.route.namespace}/${String(e.name)}`) : undefined;
        if (fault) out.fault = fault;
        else out.unsupported ??= `filter ${p} refers to ${ref}, which ${e.group === MESH_GROUP && e.kind === FAULT_KIND ? "is not in the config's faults" : "the router does not serve"}`;
        break;
      }
    }
  });
  if (out.redirect && out.rewrite) out = { ...out, unsupported: out.unsupported ?? `filters ${path}: RequestRedirect and URLRewrite cannot be combined` };
  return out;
}

function parseRetry(raw: unknown, path: string): RetryPolicy {
  const o = readObject(raw, path, ["codes", "attempts", "backoff"]);
  return {
    attempts: readOptional(o, "attempts", path, (v, p) => readInt(v, p, 0, 100), 2),
    codes: readOptional(o, "codes", path, readArray, []).map((c, i) => readInt(c, at(at(path, "codes"), i), 400, 599)),
    backoffMs: readOptional(o, "backoff", path, readDuration, 25),
  };
}

/** A mesh.dev HTTPFault: Istio's VirtualService fault (delay, abort), with percentages 0–100. */
function parseFault(raw: unknown, path: string): Fault {
  const o = readObject(raw, path, ["delay", "abort"]);
  const percentage = (obj: ConfigObject, p: string) => readOptional(obj, "percentage", p, (v, q) => readNumber(v, q, 0, 100), 100);
  const delay = readOptional(o, "delay", path, (v, p) => {
    const d = readObject(v, p, ["fixedDelay", "percentage"]);
    return { ms: readDuration(d.fixedDelay, at(p, "fixedDelay")), percentage: percentage(d, p) };
  });
  const abort = readOptional(o, "abort", path, (v, p) => {
    const a = readObject(v, p, ["httpStatus", "grpcStatus", "percentage"]);
    const httpStatus = readOptional(a, "httpStatus", p, (s, q) => readInt(s, q, 200, 599)) ?? null;
    const grpcStatus = readOptional(a, "grpcStatus", p, (s, q) => readInt(s, q, 1, 16)) ?? null;
    if ((httpStatus === null) === (grpcStatus === null)) throw new PluginConfigError(p, "needs exactly one of httpStatus, grpcStatus");
    return { httpStatus, grpcStatus, percentage: percentage(a, p) };
  });
  if (!delay && !abort) throw new PluginConfigError(path, "needs delay, abort or both");
  return { delay: delay ?? null, abort: abort ?? null };
}
