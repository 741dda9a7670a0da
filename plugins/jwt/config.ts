/**
 * The jwt plugin's config: what the control plane emits for the RequestAuthentications that
 * apply to a listener, `{ jwtRules: [...] }` (Istio's JWTRule fields), checked and given Istio's
 * defaults — token from `Authorization: Bearer …` or the `access_token` query parameter when no
 * location is named, the original token removed before the upstream, the JWKS fetch timeout 5s.
 *
 * One deliberate difference from Istio: a `jwksUri` over plain `http://` is accepted only for a
 * mesh service (host `*.svc…`, fetched through the mesh, which encrypts it); keys fetched in
 * clear text across any other network could be swapped by anyone on the path.
 */
import { at, PluginConfigError, readArray, readBoolean, readObject, readOptional, readString, type ConfigObject } from "../../src/plugin-api/index.ts";
import { parseJwks, type Jwks } from "./jwks.ts";
import type { Status } from "./status.ts";

export interface HeaderLocation {
  readonly name: string;
  readonly prefix: string;
}

export type KeySource = { readonly kind: "inline"; readonly jwks: Jwks | Status } | { readonly kind: "remote"; readonly uri: string; readonly viaMesh: boolean; readonly timeoutMs: number };

export interface JwtRule {
  readonly issuer: string;
  /** Normalized (no http(s):// scheme, no trailing "/"), as jwt_verify_lib compares them; empty: any. */
  readonly audiences: readonly string[];
  readonly keys: KeySource;
  readonly fromHeaders: readonly HeaderLocation[];
  readonly fromParams: readonly string[];
  readonly fromCookies: readonly string[];
  readonly forwardOriginalToken: boolean;
  readonly outputPayloadToHeader: string | null;
  readonly outputClaimToHeaders: readonly { readonly header: string; readonly claim: readonly string[] }[];
}

export interface JwtConfig {
  readonly rules: readonly JwtRule[];
}

const RULE_FIELDS = ["issuer", "audiences", "jwksUri", "jwks_uri", "jwks", "fromHeaders", "fromParams", "fromCookies", "outputPayloadToHeader", "forwardOriginalToken", "outputClaimToHeaders", "timeout", "spaceDelimitedClaims"];
const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
const DEFAULT_TIMEOUT_MS = 5000;
const GO_DURATION = /^((\d+(\.\d*)?|\.\d+)(ns|us|µs|ms|s|m|h))+$/;
const GO_UNIT_MS: Readonly<Record<string, number>> = { ns: 1e-6, us: 1e-3, "µs": 1e-3, ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** Istio's audience comparison: `https://a.example/` and `a.example` are the same audience. */
export const normalizeAudience = (a: string) => a.replace(/^https?:\/\//, "").replace(/\/$/, "");

/** A host reached through the mesh (a Kubernetes-style service name), not the open network. */
export const isMeshHost = (hostname: string) => /\.svc(\.|$)/.test(hostname);

const strings = (v: unknown, path: string) => readArray(v, path, 64).map((s, i) => readString(s, at(path, i), { min: 1, max: 256 }));
const headerName = (v: unknown, path: string) => readString(v, path, { min: 1, max: 128, pattern: HEADER_NAME, what: "an HTTP header name" });

function readGoDuration(v: unknown, path: string): number {
  const text = readString(v, path);
  if (!GO_DURATION.test(text)) throw new PluginConfigError(path, `must be a duration such as "5s" or "500ms" (got ${JSON.stringify(text)})`);
  let ms = 0;
  for (const m of text.matchAll(/(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|ms|s|m|h)/g)) ms += Number(m[1]) * (GO_UNIT_MS[m[2] as string] as number);
  if (ms < 1) throw new PluginConfigError(path, "must be at least 1ms");
  return Math.ceil(ms);
}

function readKeys(o: ConfigObject, path: string): KeySource {
  const uriField = o.jwksUri !== undefined ? "jwksUri" : o.jwks_uri !== undefined ? "jwks_uri" : null;
  if (uriField !== null && o.jwks !== undefined) throw new PluginConfigError(path, "only one of jwksUri, jwks may be set");
  if (uriField === null) {
    const text = readOptional(o, "jwks", path, (v, p) => readString(v, p, { min: 1 }));
    if (text === undefined) throw new PluginConfigError(path, "one of jwksUri, jwks must be set (this waypoint does not discover keys from the issuer)");
    return { kind: "inline", jwks: parseJwks(text) };
  }
  const uriPath = at(path, uriField);
  const uri = readString(o[uriField], uriPath, { min: 1, max: 2048 });
  let url: URL;
  try {
    url = new URL(uri);
  } catch {
    throw new PluginConfigError(uriPath, `"${uri}" is not a URL`);
  }
  const viaMesh = isMeshHost(url.hostname);
  if (url.protocol !== "https:" && !(url.protocol === "http:" && viaMesh)) throw new PluginConfigError(uriPath, `"${uri}" must be an https:// URL (plain http:// only for a mesh service, *.svc…, whose traffic the mesh encrypts)`);
  return { kind: "remote", uri, viaMesh, timeoutMs: readOptional(o, "timeout", path, readGoDuration, DEFAULT_TIMEOUT_MS) };
}

function readRule(raw: unknown, path: string): JwtRule {
  const o = readObject(raw, path, RULE_FIELDS);
  const fromHeaders = readOptional(o, "fromHeaders", path, (v, p) => readArray(v, p, 16).map((h, i) => {
    const hp = at(p, i);
    const ho = readObject(h, hp, ["name", "prefix"]);
    return { name: headerName(ho.name, at(hp, "name")).toLowerCase(), prefix: readOptional(ho, "prefix", hp, (x, xp) => readString(x, xp, { max: 256 }), "") };
  }), []);
  const fromParams = readOptional(o, "fromParams", path, strings, []);
  const fromCookies = readOptional(o, "fromCookies", path, strings, []);
  const noLocation = fromHeaders.length === 0 && fromParams.length === 0 && fromCookies.length === 0;
  return {
    issuer: readString(o.issuer, at(path, "issuer"), { min: 1, max: 1024 }),
    audiences: readOptional(o, "audiences", path, strings, []).map(normalizeAudience),
    keys: readKeys(o, path),
    fromHeaders: noLocation ? [{ name: "authorization", prefix: "Bearer " }] : fromHeaders,
    fromParams: noLocation ? ["access_token"] : fromParams,
    fromCookies,
    forwardOriginalToken: readOptional(o, "forwardOriginalToken", path, readBoolean, false),
    outputPayloadToHeader: readOptional(o, "outputPayloadToHeader", path, (v, p) => (v === "" ? null : headerName(v, p)), null),
    outputClaimToHeaders: readOptional(o, "outputClaimToHeaders", path, (v, p) => readArray(v, p, 64).map((c, i) => {
      const cp = at(p, i);
      const co = readObject(c, cp, ["header", "claim"]);
      return { header: headerName(co.header, at(cp, "header")).toLowerCase(), claim: readString(co.claim, at(cp, "claim"), { min: 1, max: 256 }).split(".") };
    }), []),
  };
}

export function parseJwtConfig(raw: unknown): JwtConfig {
  const o = readObject(raw, "", ["jwtRules"]);
  return { rules: readArray(o.jwtRules ?? [], "jwtRules", 4096).map((r, i) => readRule(r, at("jwtRules", i))) };
}
