/** The jwt plugin's config: Istio's defaults, and refusals naming the field. */
import { describe, expect, test } from "bun:test";
import { PluginConfigError } from "../../src/plugin-api/index.ts";
import { parseJwtConfig } from "./config.ts";

const JWKS = '{"keys":[{"kty":"oct","k":"c2VjcmV0","kid":"a"}]}';

describe("parseJwtConfig", () => {
  test("defaults: Authorization Bearer and access_token, token not forwarded, 5s fetch timeout, audiences normalized", () => {
    const { rules } = parseJwtConfig({ jwtRules: [{ issuer: "i", audiences: ["https://shop.example/"], jwksUri: "https://keys.example/jwks" }] });
    expect(rules[0]).toEqual({
      issuer: "i",
      audiences: ["shop.example"],
      keys: { kind: "remote", uri: "https://keys.example/jwks", viaMesh: false, timeoutMs: 5000 },
      fromHeaders: [{ name: "authorization", prefix: "Bearer " }],
      fromParams: ["access_token"],
      fromCookies: [],
      forwardOriginalToken: false,
      outputPayloadToHeader: null,
      outputClaimToHeaders: [],
    });
  });

  test("a named location replaces both defaults; jwks_uri is accepted; a mesh service may be http", () => {
    const { rules } = parseJwtConfig({ jwtRules: [{ issuer: "i", jwks_uri: "http://keys.auth.svc.cluster.local:8080/jwks", fromCookies: ["s"], timeout: "1.5s" }] });
    expect(rules[0]?.fromHeaders).toEqual([]);
    expect(rules[0]?.fromParams).toEqual([]);
    expect(rules[0]?.keys).toEqual({ kind: "remote", uri: "http://keys.auth.svc.cluster.local:8080/jwks", viaMesh: true, timeoutMs: 1500 });
  });

  test("an inline jwks is parsed once; one without usable keys fails its tokens, not the config", () => {
    expect(parseJwtConfig({ jwtRules: [{ issuer: "i", jwks: JWKS }] }).rules[0]?.keys).toMatchObject({ kind: "inline", jwks: { keys: [{ kid: "a" }] } });
    expect(parseJwtConfig({ jwtRules: [{ issuer: "i", jwks: '{"keys":[{"kty":"RSA"}]}' }] }).rules[0]?.keys).toEqual({ kind: "inline", jwks: "Jwks doesn't have any valid public key" });
  });

  const refusals: [string, unknown, string][] = [
    ["no issuer", { jwtRules: [{ jwks: JWKS }] }, "jwtRules[0].issuer: must be a string, got nothing (missing)"],
    ["no keys", { jwtRules: [{ issuer: "i" }] }, "jwtRules[0]: one of jwksUri, jwks must be set (this waypoint does not discover keys from the issuer)"],
    ["both key sources", { jwtRules: [{ issuer: "i", jwks: JWKS, jwksUri: "https://k/" }] }, "jwtRules[0]: only one of jwksUri, jwks may be set"],
    ["plain http outside the mesh", { jwtRules: [{ issuer: "i", jwksUri: "http://keys.example/jwks" }] }, 'jwtRules[0].jwksUri: "http://keys.example/jwks" must be an https:// URL (plain http:// only for a mesh service, *.svc…, whose traffic the mesh encrypts)'],
    ["bad timeout", { jwtRules: [{ issuer: "i", jwksUri: "https://k/", timeout: "soon" }] }, 'jwtRules[0].timeout: must be a duration such as "5s" or "500ms" (got "soon")'],
    ["bad output header", { jwtRules: [{ issuer: "i", jwks: JWKS, outputClaimToHeaders: [{ header: "x y", claim: "sub" }] }] }, "jwtRules[0].outputClaimToHeaders[0].header: must be an HTTP header name"],
    ["unknown field", { jwtRules: [{ issuer: "i", jwks: JWKS, extra: 1 }] }, "jwtRules[0].extra: unknown field"],
  ];
  for (const [name, raw, message] of refusals) {
    test(`refuses ${name}`, () => {
      let err: unknown;
      try {
        parseJwtConfig(raw);
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(PluginConfigError);
      expect((err as Error).message.startsWith(message)).toBe(true);
    });
  }
});
