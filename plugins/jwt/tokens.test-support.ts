/**
 * Signing keys and tokens for the jwt plugin's tests, made with WebCrypto directly (not with jose,
 * which the plugin verifies with): an independent signer, so a test cannot pass because signer and
 * verifier share a mistake.
 */
export interface TestKey {
  readonly kid: string;
  readonly alg: "RS256" | "ES256" | "HS256";
  readonly jwk: Record<string, unknown>;
  readonly sign: (data: Uint8Array<ArrayBuffer>) => Promise<Uint8Array>;
}

export function b64url(input: string | Uint8Array): string {
  const bytes = typeof input === "string" ? new TextEncoder().encode(input) : input;
  let binary = "";
  for (const b of bytes) binary += String.fromCharCode(b);
  return btoa(binary).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

const bytes = async (p: Promise<ArrayBuffer>) => new Uint8Array(await p);

export async function rsaKey(kid: string): Promise<TestKey> {
  const kp = await crypto.subtle.generateKey({ name: "RSASSA-PKCS1-v1_5", modulusLength: 2048, publicExponent: new Uint8Array([1, 0, 1]), hash: "SHA-256" }, true, ["sign", "verify"]);
  const { kty, n, e } = await crypto.subtle.exportKey("jwk", kp.publicKey);
  return { kid, alg: "RS256", jwk: { kty, n, e, kid, use: "sig" }, sign: (d) => bytes(crypto.subtle.sign("RSASSA-PKCS1-v1_5", kp.privateKey, d)) };
}

export async function ecKey(kid: string): Promise<TestKey> {
  const kp = await crypto.subtle.generateKey({ name: "ECDSA", namedCurve: "P-256" }, true, ["sign", "verify"]);
  const { kty, crv, x, y } = await crypto.subtle.exportKey("jwk", kp.publicKey);
  return { kid, alg: "ES256", jwk: { kty, crv, x, y, kid }, sign: (d) => bytes(crypto.subtle.sign({ name: "ECDSA", hash: "SHA-256" }, kp.privateKey, d)) };
}

export async function hmacKey(kid: string, secret: Uint8Array<ArrayBuffer>): Promise<TestKey> {
  const key = await crypto.subtle.importKey("raw", secret, { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
  return { kid, alg: "HS256", jwk: { kty: "oct", k: b64url(secret), kid }, sign: (d) => bytes(crypto.subtle.sign("HMAC", key, d)) };
}

/** A compact JWS of `payload` by `key`; `header` overrides (e.g. another alg or kid). */
export async function signToken(key: TestKey, payload: Record<string, unknown>, header: Record<string, unknown> = {}): Promise<string> {
  const input = `${b64url(JSON.stringify({ alg: key.alg, typ: "JWT", kid: key.kid, ...header }))}.${b64url(JSON.stringify(payload))}`;
  return `${input}.${b64url(await key.sign(new TextEncoder().encode(input)))}`;
}

export const jwksOf = (...keys: TestKey[]) => JSON.stringify({ keys: keys.map((k) => k.jwk) });
