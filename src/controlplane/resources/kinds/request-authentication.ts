/**
 * RequestAuthentication (security.istio.io/v1): which JWTs a workload or waypoint accepts — the
 * issuer, the audiences, where the keys come from (a JWKS URL or an inline JWKS), where the token
 * is read from, and what of it is passed upstream. A request with an invalid token is refused; one
 * with no token passes (an AuthorizationPolicy decides whether that is allowed).
 *
 * Checks follow Istio's: one of selector/targetRef/targetRefs; one of jwksUri/jwks; jwksUri an
 * http(s) URL; inline jwks a JSON object with a `keys` array; timeout a duration of at least 1ms.
 * `jwks_uri`, the spelling of Istio's first docs, is accepted as Istio's CRD does (altName) and
 * warned about; read the URI with `jwksUriOf`.
 */
import { z } from "zod";
import { matchLabelsSelector, nonEmptyString, selectorVersusTargets, targetRef } from "../common.ts";
import { defineKind } from "../kind.ts";
import type { FieldIssue } from "../issues.ts";

const nonEmptyStrings = z.array(z.string().min(1, "must not be empty")).optional();

export const jwtRule = z.strictObject({
  issuer: nonEmptyString,
  audiences: nonEmptyStrings,
  jwksUri: z.string().min(1).max(2048).optional(),
  jwks_uri: z.string().min(1).max(2048).optional(),
  jwks: z.string().optional(),
  fromHeaders: z.array(z.strictObject({ name: nonEmptyString, prefix: z.string().optional() })).optional(),
  fromParams: nonEmptyStrings,
  fromCookies: nonEmptyStrings,
  outputPayloadToHeader: z.string().optional(),
  forwardOriginalToken: z.boolean().optional(),
  outputClaimToHeaders: z
    .array(
      z.strictObject({
        header: z.string().min(1).regex(/^[-_A-Za-z0-9]+$/, "must be letters, digits, '-' and '_'"),
        claim: nonEmptyString,
      }),
    )
    .optional(),
  timeout: z.string().optional(),
  spaceDelimitedClaims: z.array(z.string().min(1, "must not be empty")).max(64).optional(),
});
export type JwtRule = z.infer<typeof jwtRule>;

export const requestAuthenticationSpec = z.strictObject({
  selector: matchLabelsSelector.optional(),
  targetRef: targetRef.optional(),
  targetRefs: z.array(targetRef).max(16).optional(),
  jwtRules: z.array(jwtRule).max(4096).optional(),
});
export type RequestAuthenticationSpec = z.infer<typeof requestAuthenticationSpec>;

export function jwksUriOf(rule: JwtRule): string | undefined {
  return rule.jwksUri ?? rule.jwks_uri;
}

const GO_DURATION_PART = /(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|μs|ms|s|m|h)/g;
const GO_UNIT_MS: Record<string, number> = { ns: 1e-6, us: 1e-3, "µs": 1e-3, "μs": 1e-3, ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** Milliseconds of a Go duration (`5s`, `1.5s`, `100ms`, `1m30s`), as Istio's duration fields take; null if not one. */
export function goDurationMs(text: string): number | null {
  if (text === "0") return 0;
  if (!/^((\d+(\.\d*)?|\.\d+)(ns|us|µs|μs|ms|s|m|h))+$/.test(text)) return null;
  let ms = 0;
  for (const m of text.matchAll(GO_DURATION_PART)) ms += Number(m[1]) * (GO_UNIT_MS[m[2] as string] as number);
  return ms;
}

function urlProblem(uri: string): string | null {
  let url: URL;
  try {
    url = new URL(uri);
  } catch {
    return `"${uri}" is not a URL`;
  }
  if (url.protocol !== "https:" && url.protocol !== "http:") return `"${uri}" must be an http:// or https:// URL`;
  return url.hostname === "" ? `"${uri}" has no host` : null;
}

/** What plugins/jwt/config.ts refuses: a JWKS fetched in clear text from outside the mesh (where nothing encrypts it). */
function plainHttpOutsideMesh(uri: string | undefined): boolean {
  if (uri === undefined || !URL.canParse(uri)) return false;
  const url = new URL(uri);
  return url.protocol === "http:" && !/\.svc(\.|$)/.test(url.hostname);
}

function jwksProblem(jwks: string): string | null {
  let value: unknown;
  try {
    value = JSON.parse(jwks);
  } catch (err) {
    return `not valid JSON: ${(err as Error).message}`;
  }
  const keys = typeof value === "object" && value !== null && !Array.isArray(value) ? (value as { keys?: unknown }).keys : undefined;
  if (!Array.isArray(keys)) return 'must be a JSON Web Key Set: an object with a "keys" array';
  return keys.every((k) => typeof k === "object" && k !== null && !Array.isArray(k)) ? null : '"keys" must hold JSON Web Key objects';
}

function ruleIssues(rule: JwtRule, at: string): FieldIssue[] {
  const issues: FieldIssue[] = [];
  const uriFields = (["jwksUri", "jwks_uri"] as const).filter((f) => rule[f] !== undefined);
  const keySources = [...uriFields, ...(rule.jwks !== undefined ? ["jwks"] : [])];
  if (keySources.length > 1) issues.push({ path: at, message: `only one of jwksUri, jwks may be set (got ${keySources.join(", ")})` });
  for (const field of uriFields) {
    const problem = urlProblem(rule[field] as string);
    if (problem) issues.push({ path: `${at}.${field}`, message: problem });
  }
  if (rule.jwks !== undefined) {
    const problem = jwksProblem(rule.jwks);
    if (problem) issues.push({ path: `${at}.jwks`, message: problem });
  }
  if (rule.timeout !== undefined) {
    const ms = goDurationMs(rule.timeout);
    if (ms === null || ms < 1) issues.push({ path: `${at}.timeout`, message: `must be a duration of at least 1ms, such as "5s" or "500ms" (got "${rule.timeout}")` });
  }
  return issues;
}

export const requestAuthenticationKind = defineKind<RequestAuthenticationSpec>({
  kind: "RequestAuthentication",
  plural: "requestauthentications",
  shortNames: ["ra"],
  apiVersions: ["security.istio.io/v1", "security.istio.io/v1beta1"],
  namespaced: true,
  spec: requestAuthenticationSpec,
  check: (spec) => {
    const issues: FieldIssue[] = [...selectorVersusTargets(spec)];
    (spec.jwtRules ?? []).forEach((rule, i) => issues.push(...ruleIssues(rule, `spec.jwtRules[${i}]`)));
    return issues;
  },
  warn: (spec) =>
    (spec.jwtRules ?? []).flatMap((rule, i) => [
      ...(rule.jwks_uri !== undefined ? [{ path: `spec.jwtRules[${i}].jwks_uri`, message: "old spelling of jwksUri; accepted, but write jwksUri" }] : []),
      ...(plainHttpOutsideMesh(jwksUriOf(rule)) ? [{ path: `spec.jwtRules[${i}].${rule.jwksUri !== undefined ? "jwksUri" : "jwks_uri"}`, message: "plain http:// to a host outside the mesh: waypoints fetch keys only over https:// or from a mesh service (*.svc…), so they refuse this rule and fail its requests closed (500)" }] : []),
    ]),
});
