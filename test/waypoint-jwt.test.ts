/**
 * RequestAuthentication end to end, in-process on loopback: a control plane, two ztunnels (SOCKS5
 * mode) and one waypoint replica, all real, and a JWKS served over real HTTPS on loopback by a
 * throwaway CA the waypoint trusts (its --jwks-ca-file). `ratings` uses the waypoint; a
 * RequestAuthentication targets it. As in Istio without an AuthorizationPolicy: no token → 200
 * (ctx.auth null), a valid token → 200 with the claim header the upstream sees and the token
 * removed, an invalid one → 401 with Envoy's body and www-authenticate; after the issuer rotates
 * its key out of the JWKS (a token with the new kid makes the waypoint fetch again), the old key's
 * tokens → 401.
 *
 * Addresses: ztunnels and waypoint admin on 127.0.71.x, ratings 127.0.72.41, the replica 127.0.73.1.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import http from "node:http";
import { jwksOf, rsaKey, signToken, type TestKey } from "../plugins/jwt/tokens.test-support.ts";
import { socksGet } from "../src/cli/demo/socks-get.ts";
import { eventually } from "./support/eventually.ts";
import { startJwksServer, type JwksServer } from "./support/jwks-server.ts";
import { startWaypointMesh, type WaypointMesh } from "./support/waypoint-mesh.ts";

const SLEEP = "127.0.1.10";
const RATINGS = "127.0.72.41";
const WAYPOINT = "127.0.73.1";
const ISS = "https://idp.example";

const MESH = (jwksUri: string) => `apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: waypoint, namespace: bookinfo}
spec: {gatewayClassName: istio-waypoint, listeners: [{name: mesh, port: HBONE_PORT, protocol: HBONE}]}
---
apiVersion: networking.istio.io/v1
kind: WorkloadEntry
metadata: {name: waypoint-1, namespace: bookinfo}
spec: {address: ${WAYPOINT}, node: node-2, serviceAccount: waypoint, labels: {gateway.networking.k8s.io/gateway-name: waypoint}}
---
apiVersion: v1
kind: Service
metadata: {name: ratings, namespace: bookinfo, labels: {istio.io/use-waypoint: waypoint}}
spec: {selector: {app: ratings}, clusterIP: 10.96.0.40, ports: [{name: http, port: 9080}]}
---
apiVersion: networking.istio.io/v1
kind: WorkloadEntry
metadata: {name: ratings-v1, namespace: bookinfo}
spec: {address: ${RATINGS}, node: node-2, serviceAccount: bookinfo-ratings, labels: {app: ratings}}
---
apiVersion: security.istio.io/v1
kind: RequestAuthentication
metadata: {name: ratings-jwt, namespace: bookinfo}
spec:
  targetRefs: [{group: "", kind: Service, name: ratings}]
  jwtRules:
  - issuer: ${ISS}
    jwksUri: ${jwksUri}
    audiences: [ratings]
    outputClaimToHeaders: [{header: x-jwt-sub, claim: sub}]
`;

let mesh: WaypointMesh;
let jwks: JwksServer;
let ratings: http.Server | undefined;
let k1: TestKey;
let k2: TestKey;

const token = (key: TestKey, extra: Record<string, unknown> = {}) => signToken(key, { iss: ISS, sub: "alice", aud: "ratings", exp: Math.floor(Date.now() / 1000) + 600, ...extra });

/** socksGet hands back the body as sent; the waypoint's local replies are chunked. */
function dechunk(body: string): string {
  if (!/^[0-9a-f]+\r\n/.test(body)) return body;
  let out = "";
  for (let rest = body; ; ) {
    const eol = rest.indexOf("\r\n");
    const n = parseInt(rest.slice(0, eol), 16);
    if (!(n > 0)) return out;
    out += rest.slice(eol + 2, eol + 2 + n);
    rest = rest.slice(eol + 4 + n);
  }
}

async function get(path: string, bearer?: string): Promise<{ status: number; body: string }> {
  const got = await socksGet({ from: SLEEP, socks: mesh.socks, host: "ratings.bookinfo", port: 9080, path, ...(bearer ? { headers: { authorization: `Bearer ${bearer}` } } : {}) });
  if (got.kind !== "response") throw new Error(`${path}: ${JSON.stringify(got)}`);
  return { status: got.status, body: dechunk(got.body) };
}

beforeAll(async () => {
  [k1, k2] = await Promise.all([rsaKey("k1"), rsaKey("k2")]);
  jwks = await startJwksServer({ tls: true, body: jwksOf(k1) });
  ratings = http.createServer((req, res) => res.end(`ratings ${req.url} sub=${req.headers["x-jwt-sub"] ?? "-"} authorization=${req.headers.authorization ?? "-"}`));
  await new Promise<void>((r) => ratings?.listen(9080, RATINGS, r));
  mesh = await startWaypointMesh({ yaml: MESH(jwks.url), jwksCa: jwks.caPem, addresses: { node1: "127.0.71.31", node2: "127.0.71.32", waypointAdmin: "127.0.71.33" }, logSpec: "off,access=info,plugin=warn" });
}, 60_000);

afterAll(async () => {
  await mesh?.close();
  await jwks?.close();
  await new Promise((r) => (ratings ? ratings.close(r) : r(undefined)));
});

describe("RequestAuthentication on a waypoint", () => {
  test("a valid token: 200, the upstream sees the claim header and not the token", async () => {
    const t = await token(k1);
    await eventually(async () => expect(await get("/api/1", t)).toEqual({ status: 200, body: "ratings /api/1 sub=alice authorization=-" }), { timeoutMs: 15_000 });
  }, 30_000);

  test("no token: 200 (nothing requires one without an AuthorizationPolicy), no claim header even if the client sends one", async () => {
    const got = await socksGet({ from: SLEEP, socks: mesh.socks, host: "ratings.bookinfo", port: 9080, path: "/api/2", headers: { "x-jwt-sub": "root" } });
    expect(got).toEqual({ kind: "response", status: 200, body: "ratings /api/2 sub=- authorization=-" });
  });

  test("invalid tokens: 401 with Envoy's reason (403 for a wrong audience), logged with the response details", async () => {
    expect(await get("/api/3", "not.a.jwt")).toEqual({ status: 401, body: "Jwt header is an invalid JSON" });
    expect(await get("/api/3", "only.two")).toEqual({ status: 401, body: "Jwt is not in the form of Header.Payload.Signature with two dots and 3 sections" });
    expect(await get("/api/4", await token(k1, { exp: 1000 }))).toEqual({ status: 401, body: "Jwt is expired" });
    expect(await get("/api/5", await token(k1, { aud: "reviews" }))).toEqual({ status: 403, body: "Audiences in Jwt are not allowed" });
    const [h, p] = (await token(k1)).split(".");
    expect(await get("/api/6", `${h}.${p}.${(await token(k2)).split(".")[2]}`)).toEqual({ status: 401, body: "Jwt verification fails" });
    await eventually(() => expect(mesh.records.find((r) => r.msg === "request complete" && r.path === "/api/4")).toMatchObject({ response_code: 401 }));
  });

  test("the issuer rotates k1 out: a k2 token makes the waypoint fetch the JWKS again (200; fetches at most every 5 s however many unknown kids arrive), then k1 tokens get 401", async () => {
    const before = jwks.requests;
    jwks.mode = { kind: "serve", body: jwksOf(k2) };
    const t2 = await token(k2);
    await eventually(async () => expect((await get("/api/7", t2)).status).toBe(200), { timeoutMs: 10_000, intervalMs: 250 });
    expect(jwks.requests).toBe(before + 1);
    expect(await get("/api/8", await token(k1))).toEqual({ status: 401, body: "Jwks doesn't have key to match kid or alg from Jwt" });
  }, 20_000);
});
