/** The jwt filter in a chain, without sockets: Istio's RequestAuthentication outcomes as Envoy answers them. */
import { beforeAll, describe, expect, test } from "bun:test";
import { buildChain, recordingHost, RequestContext, steppingClock, type Terminal } from "../../src/plugin-api/index.ts";
import { createJwtPlugin } from "./index.ts";
import { b64url, ecKey, hmacKey, jwksOf, rsaKey, signToken, type TestKey } from "./tokens.test-support.ts";

const NOW_S = 1_800_000_000;
const ISS = "https://issuer.example";
let rsa: TestKey;
let ec: TestKey;
let other: TestKey;

beforeAll(async () => {
  [rsa, ec, other] = await Promise.all([rsaKey("k1"), ecKey("e1"), rsaKey("k1")]);
});

const claims = (extra: Record<string, unknown> = {}) => ({ iss: ISS, sub: "alice", aud: ["shop"], azp: "web", exp: NOW_S + 600, iat: NOW_S, group: { name: "admins" }, roles: ["a", "b"], ...extra });

/** Stands in for the upstream stage: echoes what reached it. */
const upstream: Terminal = async (ctx) => {
  ctx.respond(200, { headers: { "x-seen-authorization": ctx.request.headers.get("authorization") ?? "-", "x-seen-principal": ctx.auth?.principal ?? "-" } });
};

type Rules = Record<string, unknown>[];

async function send(jwtRules: Rules, request: { headers?: Record<string, string>; query?: string; method?: string }) {
  const host = recordingHost({ clock: steppingClock(NOW_S * 1000) });
  const { chain, refusals } = buildChain([{ name: "jwt (shop/ra)", plugin: createJwtPlugin(), config: { jwtRules }, failurePolicy: "FailClosed" }], upstream, host);
  expect(refusals).toEqual([]);
  const ctx = new RequestContext({ request: { method: request.method ?? "GET", authority: "shop:80", path: "/api", query: request.query ?? "", headers: request.headers ?? {} }, log: host.log, metrics: host.metrics });
  await chain(ctx);
  const response = ctx.response;
  if (!response) throw new Error("no response");
  const body = response.body ? await new Response(response.body).text() : "";
  return { status: response.status, body, headers: response.headers, details: response.details, auth: ctx.auth, request: ctx.request, host };
}

const rule = (extra: Record<string, unknown> = {}) => ({ issuer: ISS, jwks: jwksOf(rsa, ec), ...extra });
const bearer = (t: string) => ({ authorization: `Bearer ${t}` });

describe("a valid token", () => {
  test("passes with ctx.auth set; the token header is removed before the upstream", async () => {
    const r = await send([rule({ audiences: ["https://shop/"] })], { headers: bearer(await signToken(rsa, claims())) });
    expect(r.status).toBe(200);
    expect(r.auth).toEqual({ principal: `${ISS}/alice`, issuer: ISS, subject: "alice", audiences: ["shop"], presenter: "web", claims: claims() });
    expect(r.headers.get("x-seen-authorization")).toBe("-");
    expect(r.host.values.get("jwt_authn_allowed_total{}")).toEqual([1]);
  });

  test("ES256 and HS256 keys verify too", async () => {
    expect((await send([rule()], { headers: bearer(await signToken(ec, claims())) })).status).toBe(200);
    const hs = await hmacKey("h1", new Uint8Array(32).fill(7));
    expect((await send([{ issuer: ISS, jwks: jwksOf(hs) }], { headers: bearer(await signToken(hs, claims())) })).status).toBe(200);
  });

  test("forwardOriginalToken keeps it; outputPayloadToHeader and outputClaimToHeaders (nested by '.', lists joined) are set", async () => {
    const token = await signToken(rsa, claims());
    const r = await send([rule({ forwardOriginalToken: true, outputPayloadToHeader: "x-jwt-payload", outputClaimToHeaders: [{ header: "x-group", claim: "group.name" }, { header: "x-roles", claim: "roles" }, { header: "x-none", claim: "nope.deeper" }] })], { headers: bearer(token) });
    expect(r.headers.get("x-seen-authorization")).toBe(`Bearer ${token}`);
    expect(r.request.headers.get("x-jwt-payload")).toBe(token.split(".")[1] ?? "");
    expect(JSON.parse(atob((r.request.headers.get("x-jwt-payload") ?? "").replace(/-/g, "+").replace(/_/g, "/")))).toEqual(claims());
    expect(r.request.headers.get("x-group")).toBe("admins");
    expect(r.request.headers.get("x-roles")).toBe("a,b");
    expect(r.request.headers.get("x-none")).toBeNull();
  });

  test("from a custom header and prefix, a query parameter or a cookie", async () => {
    const token = await signToken(rsa, claims());
    expect((await send([rule({ fromHeaders: [{ name: "x-token", prefix: "JWT " }] })], { headers: { "x-token": `JWT ${token}` } })).auth?.subject).toBe("alice");
    expect((await send([rule({ fromParams: ["t"] })], { query: `a=1&t=${token}` })).auth?.subject).toBe("alice");
    expect((await send([rule({ fromCookies: ["session"] })], { headers: { cookie: `x=1; session=${token}` } })).auth?.subject).toBe("alice");
    // The default locations: Authorization Bearer, or access_token.
    expect((await send([rule()], { query: `access_token=${token}` })).auth?.subject).toBe("alice");
  });
});

describe("no token", () => {
  test("passes with ctx.auth null (authorization decides); a client-sent output header is dropped", async () => {
    const r = await send([rule({ outputClaimToHeaders: [{ header: "x-sub", claim: "sub" }] })], { headers: { "x-sub": "admin", authorization: "Basic dXNlcjpwdw==" } });
    expect(r.status).toBe(200);
    expect(r.auth).toBeNull();
    expect(r.request.headers.get("x-sub")).toBeNull();
  });

  test("a token in a location the rule does not read is not seen", async () => {
    const r = await send([rule({ fromHeaders: [{ name: "x-token" }] })], { headers: bearer("garbage") });
    expect([r.status, r.auth]).toEqual([200, null]);
  });
});

describe("an invalid token is refused as Envoy refuses it", () => {
  const cases: [string, () => Promise<string>, number, string][] = [
    ["expired", () => signToken(rsa, claims({ exp: NOW_S - 61 })), 401, "Jwt is expired"],
    ["not yet valid", () => signToken(rsa, claims({ nbf: NOW_S + 61 })), 401, "Jwt not yet valid"],
    ["another issuer", () => signToken(rsa, claims({ iss: "https://evil.example" })), 401, "Jwt issuer is not configured"],
    ["an audience not allowed (403, as Envoy)", () => signToken(rsa, claims({ aud: "other" })), 403, "Audiences in Jwt are not allowed"],
    ["bad signature (payload changed)", async () => {
      const [h, , s] = (await signToken(rsa, claims())).split(".");
      return `${h}.${b64url(JSON.stringify(claims({ sub: "root" })))}.${s}`;
    }, 401, "Jwt verification fails"],
    ["signed by another key with the same kid", () => signToken(other, claims()), 401, "Jwt verification fails"],
    ["an unknown kid", () => signToken(rsa, claims(), { kid: "gone" }), 401, "Jwks doesn't have key to match kid or alg from Jwt"],
    ["alg none", async () => `${b64url('{"alg":"none"}')}.${b64url(JSON.stringify(claims()))}.`, 401, "Jwt header [alg] is not supported"],
    ["HS256 with the RSA key's modulus as secret (key confusion)", async () => {
      const confused = await hmacKey("k1", new TextEncoder().encode(String(rsa.jwk.n)));
      return signToken(confused, claims());
    }, 401, "Jwks doesn't have key to match kid or alg from Jwt"],
    ["ES256 header on an RSA-signed token (wrong key type)", async () => {
      const [, p, s] = (await signToken(rsa, claims())).split(".");
      return `${b64url('{"alg":"ES256","kid":"k1"}')}.${p}.${s}`;
    }, 401, "Jwks doesn't have key to match kid or alg from Jwt"],
    ["two parts", async () => "abc.def", 401, "Jwt is not in the form of Header.Payload.Signature with two dots and 3 sections"],
    ["header not JSON", async () => `${b64url("{alg")}.${b64url("{}")}.c2ln`, 401, "Jwt header is an invalid JSON"],
    ["exp not an integer", () => signToken(rsa, claims({ exp: "tomorrow" })), 401, "Jwt payload [exp] field is not an integer"],
  ];
  for (const [name, make, status, body] of cases) {
    test(name, async () => {
      const r = await send([rule({ audiences: ["shop"] })], { headers: bearer(await make()) });
      expect([r.status, r.body]).toEqual([status, body]);
      expect(r.headers.get("www-authenticate")).toBe('Bearer realm="http://shop:80/api", error="invalid_token"');
      expect(r.details).toBe(`jwt_authn_access_denied{${body.replace(/ /g, "_")}}`);
      expect(r.auth).toBeNull();
    });
  }

  test("every token found must verify: a valid header token and a bad parameter token is 401", async () => {
    const r = await send([rule()], { headers: bearer(await signToken(rsa, claims())), query: "access_token=x.y.z" });
    expect(r.status).toBe(401);
  });

  test("a gRPC request gets trailers-only UNAUTHENTICATED", async () => {
    const r = await send([rule()], { headers: { ...bearer("a.b"), "content-type": "application/grpc" } });
    expect([r.status, r.headers.get("grpc-status"), r.headers.get("grpc-message")]).toEqual([200, "16", "Jwt is not in the form of Header.Payload.Signature with two dots and 3 sections"]);
  });

  test("a CORS preflight passes unchecked, as Istio configures Envoy", async () => {
    const r = await send([rule()], { method: "OPTIONS", headers: { ...bearer("bad"), origin: "https://a", "access-control-request-method": "GET" } });
    expect(r.status).toBe(200);
  });
});

describe("several rules (Istio: any rule that verifies; else no token anywhere; else the first failure)", () => {
  const B = "https://b.example";
  const two = () => [rule(), { issuer: B, jwks: jwksOf(ec) }];

  test("rules sharing Authorization: a token for either issuer passes", async () => {
    expect((await send(two(), { headers: bearer(await signToken(rsa, claims())) })).auth?.issuer).toBe(ISS);
    expect((await send(two(), { headers: bearer(await signToken(ec, claims({ iss: B }))) })).auth?.issuer).toBe(B);
  });

  test("a token of a third issuer is refused by the first rule's reason; none at all passes", async () => {
    const r = await send(two(), { headers: bearer(await signToken(rsa, claims({ iss: "https://c" }))) });
    expect([r.status, r.body]).toEqual([401, "Jwt issuer is not configured"]);
    expect((await send(two(), {})).status).toBe(200);
  });
});
