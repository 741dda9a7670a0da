/**
 * The routing decision, pure: given the compiled config, one request and a random source, which
 * rule matched and what to do — forward (to which backend, with which header changes, rewrites,
 * timeouts, retries and mirrors, after which injected delay), reply locally (redirect, injected
 * abort, a rule that cannot be served), or not found (Envoy's 404 `route_not_found`).
 *
 * A listener port with no route attached at all keeps its default route: the request goes on to the
 * service it was sent to (kind Hostname, group networking.istio.io, as Istio's backendRefs spell
 * it). Random draws, in this order, only when needed: fault delay, fault abort, backend by weight,
 * each mirror by its share.
 */
import type { BackendRef, MatchedRoute, UpstreamSelection } from "../../src/plugin-api/index.ts";
import type { BackendRefTemplate, Candidate, Fault, HeaderOps, Match, RouterConfig, StringMatch, WeightedBackend } from "./config.ts";
import { modifyPath, redirectLocation, underPrefix } from "./url.ts";

export interface RouteRequest {
  readonly method: string;
  readonly scheme: "http" | "https";
  readonly authority: string;
  readonly path: string;
  readonly query: string;
  readonly headers: { get(name: string): string | null };
  /** The listener key ("<namespace>/<hostname>") and port the request was sent to. */
  readonly listener: string;
  readonly port: number;
  readonly grpc: boolean;
}

export type Decision =
  | { readonly action: "not_found"; readonly delayMs: 0 }
  | {
      readonly action: "reply";
      readonly route: MatchedRoute;
      readonly status: number;
      /** For gRPC requests: the grpc-status to send (null: mapped from status). */
      readonly grpcStatus: number | null;
      readonly location: string | null;
      readonly details: string;
      readonly delayMs: number;
    }
  | {
      readonly action: "forward";
      /** null: the listener's default route (no route attached). */
      readonly route: MatchedRoute | null;
      readonly upstream: UpstreamSelection;
      readonly requestHeaders: readonly HeaderOps[];
      readonly responseHeaders: readonly HeaderOps[];
      /** The rewritten path and authority, null: unchanged. */
      readonly path: string | null;
      readonly authority: string | null;
      readonly delayMs: number;
    };

const NOT_FOUND: Decision = { action: "not_found", delayMs: 0 };
const NO_TIMEOUTS = { requestMs: null, backendRequestMs: null } as const;

export function decideRoute(config: RouterConfig, req: RouteRequest, random: () => number): Decision {
  const httpRoutes = config.http.get(req.listener);
  const grpcRoutes = config.grpc.get(req.listener);
  if (httpRoutes === undefined && grpcRoutes === undefined) return defaultRoute(req);
  // GRPCRoutes serve gRPC requests only, and before HTTPRoutes on the same listener.
  const hit = (req.grpc && grpcRoutes ? firstMatch(grpcRoutes, req) : undefined) ?? (httpRoutes ? firstMatch(httpRoutes, req) : undefined);
  if (hit) return apply(hit, req, random);
  // Routes attached to other ports of this service only: this port keeps its default route.
  const onPort = (c: Candidate) => c.port === null || c.port === req.port;
  return httpRoutes?.some(onPort) || grpcRoutes?.some(onPort) ? NOT_FOUND : defaultRoute(req);
}

function defaultRoute(req: RouteRequest): Decision {
  const slash = req.listener.indexOf("/");
  const backend: BackendRef = { group: "networking.istio.io", kind: "Hostname", namespace: req.listener.slice(0, slash), name: req.listener.slice(slash + 1), port: req.port };
  return { action: "forward", route: null, upstream: { backend, weight: { index: 0, weight: 1, total: 1 }, timeouts: NO_TIMEOUTS, retry: null, mirrors: [] }, requestHeaders: [], responseHeaders: [], path: null, authority: null, delayMs: 0 };
}

function firstMatch(candidates: readonly Candidate[], req: RouteRequest): Candidate | undefined {
  let params: URLSearchParams | null = null;
  let grpcPath: { service: string; method: string } | null | undefined;
  for (const c of candidates) {
    if (c.port !== null && c.port !== req.port) continue;
    const m = c.match;
    if (!pathMatches(m, req.path) || (m.method !== null && m.method !== req.method)) continue;
    if (!m.headers.every((h) => valueMatches(h.value, req.headers.get(h.name)))) continue;
    if (m.query.length > 0) {
      params ??= new URLSearchParams(req.query);
      const p = params;
      if (!m.query.every((q) => valueMatches(q.value, p.get(q.name)))) continue;
    }
    if (m.grpc !== null) {
      if (grpcPath === undefined) grpcPath = splitGrpcPath(req.path);
      if (grpcPath === null || !valueMatches(m.grpc.service, grpcPath.service, true) || !valueMatches(m.grpc.method, grpcPath.method, true)) continue;
    }
    return c;
  }
  return undefined;
}

function pathMatches(m: Match, path: string): boolean {
  const p = m.path;
  if (p.type === "Exact") return path === p.value;
  if (p.type === "PathPrefix") return underPrefix(path, p.value);
  return "regex" in p && p.regex.test(path);
}

/** `nullMeansAny`: a gRPC match part left out matches every service or method. */
function valueMatches(want: StringMatch | null, got: string | null, nullMeansAny = false): boolean {
  if (want === null) return nullMeansAny;
  if (got === null) return false;
  return "exact" in want ? got === want.exact : want.regex.test(got);
}

/** "/pkg.Service/Method" → its parts; null when the path is not a gRPC method path. */
function splitGrpcPath(path: string): { service: string; method: string } | null {
  const slash = path.indexOf("/", 1);
  if (!path.startsWith("/") || slash === -1 || slash === path.length - 1 || path.indexOf("/", slash + 1) !== -1) return null;
  return { service: path.slice(1, slash), method: path.slice(slash + 1) };
}

function apply(c: Candidate, req: RouteRequest, random: () => number): Decision {
  const { rule } = c;
  const route: MatchedRoute = { kind: c.route.kind, namespace: c.route.namespace, name: c.route.name, rule: rule.index, ruleName: rule.name };
  const reply = (status: number, details: string, delayMs = 0, grpcStatus: number | null = null, location: string | null = null): Decision => ({ action: "reply", route, status, grpcStatus, location, details, delayMs });
  if (rule.filters.unsupported) return reply(500, "unsupported_filter");
  const prefix = c.match.path.value;
  if (rule.filters.redirect) return reply(rule.filters.redirect.statusCode, "redirect", 0, null, redirectLocation(rule.filters.redirect, req, prefix));

  const fault = drawFault(rule.filters.fault, random);
  if (fault.abort) return reply(fault.abort.httpStatus ?? 200, "fault_filter_abort", fault.delayMs, fault.abort.grpcStatus);
  if (rule.declaredBackends === 0) return reply(503, "no_backend", fault.delayMs);
  if (rule.backends.length === 0) return reply(500, "no_backend_weight", fault.delayMs);

  const index = pickWeighted(rule.backends, rule.totalWeight, random);
  const chosen = rule.backends[index] as WeightedBackend;
  if (chosen.filters.unsupported) return reply(500, "unsupported_filter", fault.delayMs);
  const mirrors: BackendRef[] = [];
  for (const m of [...rule.filters.mirrors, ...chosen.filters.mirrors]) if (m.share >= 1 || random() < m.share) mirrors.push(resolve(m.backend, req.port));
  const rewrite = chosen.filters.rewrite ?? rule.filters.rewrite;
  return {
    action: "forward",
    route,
    upstream: { backend: resolve(chosen.ref, req.port), weight: { index, weight: chosen.weight, total: rule.totalWeight }, timeouts: rule.timeouts, retry: rule.retry, mirrors },
    requestHeaders: ops(rule.filters.requestHeaders, chosen.filters.requestHeaders),
    responseHeaders: ops(rule.filters.responseHeaders, chosen.filters.responseHeaders),
    path: rewrite?.path ? modifyPath(req.path, rewrite.path, prefix) : null,
    authority: rewrite?.hostname ?? null,
    delayMs: fault.delayMs,
  };
}

function drawFault(fault: Fault | null, random: () => number): { delayMs: number; abort: Fault["abort"] } {
  if (fault === null) return { delayMs: 0, abort: null };
  const delayMs = fault.delay !== null && random() * 100 < fault.delay.percentage ? fault.delay.ms : 0;
  const abort = fault.abort !== null && random() * 100 < fault.abort.percentage ? fault.abort : null;
  return { delayMs, abort };
}

/** Index of a backend drawn with probability weight/total. */
export function pickWeighted(backends: readonly WeightedBackend[], total: number, random: () => number): number {
  if (backends.length === 1) return 0;
  let draw = random() * total;
  for (let i = 0; i < backends.length; i++) {
    draw -= (backends[i] as WeightedBackend).weight;
    if (draw < 0) return i;
  }
  return backends.length - 1;
}

function resolve(ref: BackendRefTemplate, port: number): BackendRef {
  return ref.port === null ? { ...ref, port } : (ref as BackendRef);
}

function ops(a: HeaderOps | null, b: HeaderOps | null): readonly HeaderOps[] {
  return a && b ? [a, b] : a ? [a] : b ? [b] : [];
}
