/**
 * One rule's verdict on a request's tokens, and the verdict of all rules together.
 *
 * Per rule (an Envoy JwtProvider), every token found at the rule's locations must pass, in
 * jwt_verify_lib's order: format, issuer (a token naming another issuer is "not configured" for
 * this rule), time (exp and nbf with 60 s of clock skew), audience, then a key of the JWKS that
 * verifies the signature. No token: "missing".
 *
 * All rules (`combine`): Istio asks Envoy for `ANY(P1…Pn, ALL(ANY(Pi, allow_missing)…))` — pass if
 * some rule verified its tokens (rules may share a location, a token for one is then foreign to
 * the others), else pass if no rule found a token, else refuse with the first rule's failure.
 */
import type { RequestAuth } from "../../src/plugin-api/index.ts";
import type { JwtRule } from "./config.ts";
import { normalizeAudience } from "./config.ts";
import type { FoundToken } from "./extract.ts";
import { verifySignature, type Jwks } from "./jwks.ts";
import { STATUS, type Status } from "./status.ts";
import { parseToken, type ParsedToken } from "./token.ts";
import type { VerifiedCache } from "./verified-cache.ts";

export const CLOCK_SKEW_S = 60;

export type RuleResult = { readonly ok: true; readonly tokens: readonly { readonly found: FoundToken; readonly token: ParsedToken }[] } | { readonly ok: false; readonly status: Status };

/** Where a rule's keys come from at request time; `unknownKid` asks for a fresh set (a rotated key). */
export type KeysFor = (rule: JwtRule, unknownKid: boolean) => Promise<Jwks | Status>;

/** The checks before the signature (pure). */
export function checkClaims(rule: JwtRule, token: ParsedToken, nowS: number): Status | null {
  if (token.iss !== null && token.iss !== rule.issuer) return STATUS.unknownIssuer;
  if (token.nbf !== null && nowS + CLOCK_SKEW_S < token.nbf) return STATUS.notYetValid;
  if (token.exp !== null && nowS > token.exp + CLOCK_SKEW_S) return STATUS.expired;
  if (rule.audiences.length > 0 && !token.aud.some((a) => rule.audiences.includes(normalizeAudience(a)))) return STATUS.audienceNotAllowed;
  return null;
}

/** What verifying needs besides the rule and the token: the time, the keys, the rule's cache of verified tokens. */
export interface VerifyEnv {
  readonly nowS: number;
  readonly keysFor: KeysFor;
  readonly verified: VerifiedCache;
}

async function verifyOne(rule: JwtRule, text: string, env: VerifyEnv): Promise<ParsedToken | Status> {
  const seen = env.verified.get(text); // parsing is a pure function of the text: a verified token's parse is reused
  const token = seen?.token ?? parseToken(text);
  if (typeof token === "string") return token;
  const refused = checkClaims(rule, token, env.nowS);
  if (refused) return refused;
  let jwks = await env.keysFor(rule, false);
  if (typeof jwks === "string") return jwks;
  if (seen?.jwks === jwks) return token;
  let verdict = await verifySignature(token, jwks);
  if (verdict === STATUS.jwksKidAlgMismatch && token.kid !== null && rule.keys.kind === "remote") {
    jwks = await env.keysFor(rule, true);
    if (typeof jwks === "string") return jwks;
    verdict = await verifySignature(token, jwks);
  }
  if (verdict !== "ok") return verdict;
  env.verified.add(token, jwks);
  return token;
}

export async function verifyRule(rule: JwtRule, found: readonly FoundToken[], env: VerifyEnv): Promise<RuleResult> {
  if (found.length === 0) return { ok: false, status: STATUS.missing };
  const tokens: { found: FoundToken; token: ParsedToken }[] = [];
  for (const f of found) {
    const token = await verifyOne(rule, f.text, env);
    if (typeof token === "string") return { ok: false, status: token };
    tokens.push({ found: f, token });
  }
  return { ok: true, tokens };
}

/** All rules' results → pass, or the refusal (pure; see the header). */
export function combine(results: readonly RuleResult[]): "ok" | Status {
  if (results.some((r) => r.ok)) return "ok";
  for (const r of results) if (!r.ok && r.status !== STATUS.missing) return r.status;
  return "ok";
}

/** Istio's request.auth.* from a verified token. */
export function authOf(rule: JwtRule, token: ParsedToken): RequestAuth {
  const issuer = token.iss ?? rule.issuer;
  const subject = token.sub ?? "";
  return { principal: `${issuer}/${subject}`, issuer, subject, audiences: token.aud, presenter: token.azp, claims: token.claims };
}
