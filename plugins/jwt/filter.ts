/**
 * The jwt filter (Istio RequestAuthentication on a waypoint): finds each rule's tokens, verifies
 * them (./verify.ts), and then either refuses the request as Envoy's jwt_authn does — 401 (403
 * for a token whose audience is not allowed) with the reason as body and a `www-authenticate:
 * Bearer realm="<url>"` header (`, error="invalid_token"` unless the token was missing) — or
 * passes it on with `ctx.auth` set from the verified token (null when none was presented: an
 * AuthorizationPolicy's requestPrincipals decides), the token header removed unless
 * `forwardOriginalToken`, and the payload and claims copied to the configured headers.
 *
 * The output headers are removed from every request first, so a client cannot hand the upstream
 * a claim header of its own by sending no token. CORS preflights (OPTIONS with Origin and
 * Access-Control-Request-Method) pass unchecked, as Istio configures Envoy.
 */
import type { Filter, PluginFetch, PluginHost, RequestContext } from "../../src/plugin-api/index.ts";
import type { JwtConfig, JwtRule } from "./config.ts";
import { extractTokens } from "./extract.ts";
import type { Jwks } from "./jwks.ts";
import type { JwksPolicy, RemoteJwks } from "./remote-jwks.ts";
import { detailsOf, STATUS, type Status } from "./status.ts";
import { VerifiedCache } from "./verified-cache.ts";
import { authOf, combine, verifyRule, type KeysFor, type RuleResult } from "./verify.ts";

export interface JwksAccess {
  /** The shared cache entry for a URI (kept across config versions). */
  readonly remote: (uri: string) => RemoteJwks;
  /** How a jwksUri outside the mesh is fetched (HTTPS, the waypoint's trust roots). */
  readonly fetchOutside: PluginFetch;
  readonly policy: JwksPolicy;
}

/** A claim by its `.`-separated path, as a header value: strings as they are, numbers and booleans printed, lists of those joined with ",". */
export function claimValue(claims: Readonly<Record<string, unknown>>, path: readonly string[]): string | null {
  let v: unknown = claims;
  for (const p of path) {
    if (typeof v !== "object" || v === null || Array.isArray(v)) return null;
    v = (v as Record<string, unknown>)[p];
  }
  const scalar = (x: unknown) => (typeof x === "string" ? x : typeof x === "number" || typeof x === "boolean" ? String(x) : null);
  if (Array.isArray(v)) {
    const parts = v.map(scalar);
    return parts.every((p) => p !== null) ? parts.join(",") : null;
  }
  return scalar(v);
}

const headerSafe = (v: string) => !/[\r\n\0]/.test(v);

function isCorsPreflight(ctx: RequestContext): boolean {
  const h = ctx.request.headers;
  return ctx.request.method === "OPTIONS" && h.has("origin") && h.has("access-control-request-method");
}

function refuse(ctx: RequestContext, status: Status): void {
  const code = status === STATUS.audienceNotAllowed ? 403 : 401;
  const realm = `${ctx.request.scheme}://${ctx.request.authority}${ctx.request.path}`.replace(/"/g, "%22");
  const wwwAuthenticate = `Bearer realm="${realm}"${status === STATUS.missing ? "" : ', error="invalid_token"'}`;
  if (ctx.grpc) {
    ctx.respond(200, { headers: { "content-type": "application/grpc", "grpc-status": code === 403 ? "7" : "16", "grpc-message": status, "www-authenticate": wwwAuthenticate }, details: detailsOf(status) });
    return;
  }
  ctx.respond(code, { headers: { "content-type": "text/plain", "www-authenticate": wwwAuthenticate }, body: status, details: detailsOf(status) });
}

function applyOutputs(ctx: RequestContext, rule: JwtRule, result: Extract<RuleResult, { ok: true }>): void {
  const headers = ctx.request.headers;
  for (const { found, token } of result.tokens) {
    if (!rule.forwardOriginalToken && found.header !== null) headers.delete(found.header);
    if (rule.outputPayloadToHeader !== null) headers.set(rule.outputPayloadToHeader, token.payloadSegment);
    for (const o of rule.outputClaimToHeaders) {
      const value = claimValue(token.claims, o.claim);
      if (value !== null && headerSafe(value)) headers.set(o.header, value);
    }
  }
}

export function createJwtFilter(config: JwtConfig, host: PluginHost, jwks: JwksAccess): Filter {
  const allowed = host.metrics.counter("jwt_authn_allowed_total", "Requests the jwt filter passed (a valid token, or none)");
  const denied = host.metrics.counter("jwt_authn_denied_total", "Requests the jwt filter refused, by reason", ["reason"]);
  const outputHeaders = [...new Set(config.rules.flatMap((r) => [...(r.outputPayloadToHeader === null ? [] : [r.outputPayloadToHeader]), ...r.outputClaimToHeaders.map((o) => o.header)]))];
  const verified = new VerifiedCache();
  const keysFor: KeysFor = async (rule, unknownKid) => {
    const source = rule.keys;
    if (source.kind === "inline") return source.jwks;
    const keys: Jwks | null = await jwks.remote(source.uri).keys({ fetch: source.viaMesh ? host.fetch : jwks.fetchOutside, now: () => host.clock.now(), log: host.log, timeoutMs: source.timeoutMs, policy: jwks.policy }, unknownKid);
    return keys ?? STATUS.jwksFetchFail;
  };

  return async function jwt(ctx, next) {
    for (const h of outputHeaders) ctx.request.headers.delete(h);
    if (config.rules.length === 0 || isCorsPreflight(ctx)) return next();
    const results: RuleResult[] = [];
    const env = { nowS: Math.floor(host.clock.now() / 1000), keysFor, verified };
    for (const rule of config.rules) results.push(await verifyRule(rule, extractTokens(rule, ctx.request), env));
    const verdict = combine(results);
    if (verdict !== "ok") {
      denied.inc({ reason: verdict });
      return refuse(ctx, verdict);
    }
    allowed.inc();
    config.rules.forEach((rule, i) => {
      const r = results[i] as RuleResult;
      if (!r.ok) return;
      applyOutputs(ctx, rule, r);
      const first = r.tokens[0];
      if (ctx.auth === null && first) ctx.auth = authOf(rule, first.token);
    });
    await next();
  };
}
