/**
 * JSON Web Key Sets: parsed once (inline at config time, fetched ones when they arrive), then
 * searched per token the way jwt_verify_lib does — a key is tried when its `kid` is unset or equals
 * the token's, its `alg` is unset or equals the token's, and its type fits the algorithm. No key
 * tried: "Jwks doesn't have key to match kid or alg from Jwt" (a rotated key; a remote set is then
 * fetched again); keys tried and none verified: "Jwt verification fails".
 */
import { keyFitsAlgorithm, verifyJwsSignature } from "../../src/plugin-api/index.ts";
import { STATUS, type Status } from "./status.ts";
import type { ParsedToken } from "./token.ts";

export interface JwkEntry {
  readonly kid: string | null;
  readonly alg: string | null;
  readonly jwk: Readonly<Record<string, unknown>>;
}

export interface Jwks {
  readonly keys: readonly JwkEntry[];
}

/** At most this many keys of a set are kept: a token without `kid` may try each of them. */
export const MAX_KEYS = 64;

const REQUIRED: Readonly<Record<string, readonly string[]>> = { RSA: ["n", "e"], EC: ["crv", "x", "y"], OKP: ["crv", "x"], oct: ["k"] };

function usable(k: unknown): k is Record<string, unknown> {
  if (typeof k !== "object" || k === null || Array.isArray(k)) return false;
  const key = k as Record<string, unknown>;
  const required = typeof key.kty === "string" ? REQUIRED[key.kty] : undefined;
  if (!required || !required.every((f) => typeof key[f] === "string")) return false;
  if (key.use !== undefined && key.use !== "sig") return false;
  return (key.kid === undefined || typeof key.kid === "string") && (key.alg === undefined || typeof key.alg === "string");
}

/** The usable keys of a JWKS document, or why there are none. */
export function parseJwks(text: string): Jwks | Status {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch {
    return STATUS.jwksJson;
  }
  const keys = typeof doc === "object" && doc !== null ? (doc as { keys?: unknown }).keys : undefined;
  if (!Array.isArray(keys)) return STATUS.jwksJson;
  const entries = keys.filter(usable).slice(0, MAX_KEYS).map((jwk): JwkEntry => ({ kid: (jwk.kid as string | undefined) ?? null, alg: (jwk.alg as string | undefined) ?? null, jwk: Object.freeze(jwk) }));
  return entries.length === 0 ? STATUS.jwksNoValidKeys : { keys: entries };
}

export async function verifySignature(token: ParsedToken, jwks: Jwks): Promise<"ok" | Status> {
  let tried = false;
  for (const key of jwks.keys) {
    if (token.kid !== null && key.kid !== null && key.kid !== token.kid) continue;
    if (key.alg !== null && key.alg !== token.alg) continue;
    if (!keyFitsAlgorithm(key.jwk, token.alg)) continue;
    tried = true;
    if (await verifyJwsSignature(token.text, key.jwk, token.alg)) return "ok";
  }
  return tried ? STATUS.verificationFails : STATUS.jwksKidAlgMismatch;
}
