/**
 * JWS signature checks for plugins, backed by jose: a plugin may import no package, so the one
 * cryptographic step a JWT filter needs is lent here. Everything else about a token (its parts,
 * claims, times, which key to try) stays the plugin's own, pure code.
 *
 * Invariants: `verifyJwsSignature` never throws (a key jose refuses for the algorithm, a bad
 * signature, a malformed token are all `false`); a JWK is imported once per algorithm (cached by
 * the JWK object's identity, so a plugin keeps its parsed key objects alive across requests).
 */
import { compactVerify, importJWK, type CryptoKey, type JWK } from "jose";

/** The signing algorithms a JWT may name (Envoy's jwt_authn set); `none` is never one of them. */
export const JWS_ALGORITHMS = ["RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "HS256", "HS384", "HS512", "EdDSA"] as const;
export type JwsAlgorithm = (typeof JWS_ALGORITHMS)[number];

export function isJwsAlgorithm(alg: unknown): alg is JwsAlgorithm {
  return typeof alg === "string" && (JWS_ALGORITHMS as readonly string[]).includes(alg);
}

const EC_CURVE: Readonly<Record<string, string>> = { ES256: "P-256", ES384: "P-384", ES512: "P-521" };

/** Whether a JSON Web Key of this type (and curve) can check signatures made with `alg`. */
export function keyFitsAlgorithm(jwk: Readonly<Record<string, unknown>>, alg: JwsAlgorithm): boolean {
  if (alg.startsWith("RS") || alg.startsWith("PS")) return jwk.kty === "RSA";
  if (alg.startsWith("ES")) return jwk.kty === "EC" && jwk.crv === EC_CURVE[alg];
  if (alg.startsWith("HS")) return jwk.kty === "oct";
  return jwk.kty === "OKP" && jwk.crv === "Ed25519";
}

const imported = new WeakMap<object, Map<JwsAlgorithm, Promise<CryptoKey | Uint8Array | null>>>();

function importFor(jwk: Readonly<Record<string, unknown>>, alg: JwsAlgorithm): Promise<CryptoKey | Uint8Array | null> {
  let byAlg = imported.get(jwk);
  if (!byAlg) imported.set(jwk, (byAlg = new Map()));
  let key = byAlg.get(alg);
  if (!key) {
    // A private key's JWK also holds the public parts; only those are imported (a JWKS should not carry private keys, but a verifier never needs them).
    const { d: _d, p: _p, q: _q, dp: _dp, dq: _dq, qi: _qi, oth: _oth, ...publicPart } = jwk as JWK & Record<string, unknown>;
    key = importJWK(jwk.kty === "oct" ? (jwk as JWK) : (publicPart as JWK), alg).catch(() => null);
    byAlg.set(alg, key);
  }
  return key;
}

/** Whether `token` (compact JWS) carries a valid `alg` signature by `jwk`. Never throws. */
export async function verifyJwsSignature(token: string, jwk: Readonly<Record<string, unknown>>, alg: JwsAlgorithm): Promise<boolean> {
  if (!keyFitsAlgorithm(jwk, alg)) return false;
  const key = await importFor(jwk, alg);
  if (key === null) return false;
  try {
    await compactVerify(token, key, { algorithms: [alg] });
    return true;
  } catch {
    return false;
  }
}
