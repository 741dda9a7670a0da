/**
 * The jwt plugin's remote JWKS against real servers on loopback: the waypoint's outside fetch over
 * HTTPS (trusting an operator CA bundle, refusing a server it cannot verify), a mesh service's JWKS
 * over HTTP through the plugin host's fetch, key rotation (an unknown kid fetches again), a server
 * that is down, that hangs (bounded by the rule's timeout) or answers too much (bounded size).
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { createJwtPlugin, type JwksPolicy } from "../plugins/jwt/index.ts";
import { jwksOf, rsaKey, signToken, type TestKey } from "../plugins/jwt/tokens.test-support.ts";
import { buildChain, recordingHost, RequestContext, systemClock, type PluginFetch } from "../src/plugin-api/index.ts";
import { outsideJwksFetch } from "../src/waypoint/jwks-fetch.ts";
import { startJwksServer, type JwksServer } from "./support/jwks-server.ts";

const ISS = "https://idp.example";
let k1: TestKey;
let k2: TestKey;
let server: JwksServer;

beforeAll(async () => {
  [k1, k2] = await Promise.all([rsaKey("k1"), rsaKey("k2")]);
  server = await startJwksServer({ tls: true, body: jwksOf(k1) });
});
afterAll(() => server?.close());

const claims = () => ({ iss: ISS, sub: "alice", exp: Math.floor(Date.now() / 1000) + 600 });
const FAST: Partial<JwksPolicy> = { refreshMs: 60_000, staleMs: 60_000, minRetryMs: 0, maxBytes: 4096 };

function chainFor(rule: Record<string, unknown>, options: { fetchOutside?: PluginFetch; fetch?: PluginFetch; policy?: Partial<JwksPolicy> }) {
  const host = { ...recordingHost(options.fetch ? { fetch: options.fetch } : {}), clock: systemClock };
  const plugin = createJwtPlugin({ ...(options.fetchOutside ? { fetchOutside: options.fetchOutside } : {}), policy: options.policy ?? FAST });
  const { chain, refusals } = buildChain([{ name: "jwt", plugin, config: { jwtRules: [{ issuer: ISS, ...rule }] }, failurePolicy: "FailClosed" }], async (ctx) => ctx.respond(200, { headers: { "x-sub": ctx.auth?.subject ?? "-" } }), host);
  expect(refusals).toEqual([]);
  return async (token: string) => {
    const ctx = new RequestContext({ request: { method: "GET", authority: "shop", path: "/api", headers: { authorization: `Bearer ${token}` } }, log: host.log, metrics: host.metrics });
    await chain(ctx);
    const body = ctx.response?.body ? await new Response(ctx.response.body).text() : "";
    return `${ctx.response?.status} ${ctx.response?.headers.get("x-sub") ?? body}`;
  };
}

describe("jwksUri over HTTPS outside the mesh", () => {
  test("trusted through the operator's CA bundle: verifies; without it the server is refused and tokens get 401", async () => {
    server.mode = { kind: "serve", body: jwksOf(k1) };
    const token = await signToken(k1, claims());
    expect(await chainFor({ jwksUri: server.url }, { fetchOutside: outsideJwksFetch({ caPem: server.caPem }) })(token)).toBe("200 alice");
    expect(await chainFor({ jwksUri: server.url }, { fetchOutside: outsideJwksFetch() })(token)).toBe("401 Jwks remote fetch is failed");
  });

  test("rotation: a token with a new kid fetches the set again; the rotated-out key's tokens then fail", async () => {
    server.mode = { kind: "serve", body: jwksOf(k1) };
    const send = chainFor({ jwksUri: server.url }, { fetchOutside: outsideJwksFetch({ caPem: server.caPem }) });
    const before = server.requests;
    expect(await send(await signToken(k1, claims()))).toBe("200 alice");
    expect(await send(await signToken(k1, claims()))).toBe("200 alice");
    expect(server.requests - before).toBe(1); // cached
    server.mode = { kind: "serve", body: jwksOf(k2) };
    expect(await send(await signToken(k2, claims()))).toBe("200 alice");
    expect(server.requests - before).toBe(2);
    expect(await send(await signToken(k1, claims()))).toBe("401 Jwks doesn't have key to match kid or alg from Jwt");
  });

  test("a server that hangs is given up after the rule's timeout; one that answers too much is refused", async () => {
    server.mode = { kind: "hang" };
    const started = performance.now();
    expect(await chainFor({ jwksUri: server.url, timeout: "300ms" }, { fetchOutside: outsideJwksFetch({ caPem: server.caPem }) })(await signToken(k1, claims()))).toBe("401 Jwks remote fetch is failed");
    const took = performance.now() - started;
    expect(took).toBeGreaterThanOrEqual(250);
    expect(took).toBeLessThan(3000);
    server.mode = { kind: "huge", bytes: 10_000 };
    expect(await chainFor({ jwksUri: server.url }, { fetchOutside: outsideJwksFetch({ caPem: server.caPem }) })(await signToken(k1, claims()))).toBe("401 Jwks remote fetch is failed");
  });
});

describe("jwksUri of a mesh service over HTTP, through the plugin host's fetch", () => {
  test("the plugin asks host.fetch for the mesh URL (here answered by a real loopback server)", async () => {
    const mesh = await startJwksServer({ tls: false, body: jwksOf(k1) });
    try {
      const asked: string[] = [];
      const fetch: PluginFetch = (request, options) => {
        asked.push(`${request.url} ${options?.timeoutMs}`);
        const url = new URL(request.url);
        return globalThis.fetch(`http://127.0.0.1:${mesh.port}${url.pathname}`, { signal: request.signal });
      };
      const send = chainFor({ jwksUri: "http://keys.auth.svc.cluster.local:8080/jwks", timeout: "2s" }, { fetch });
      expect(await send(await signToken(k1, claims()))).toBe("200 alice");
      expect(asked).toEqual(["http://keys.auth.svc.cluster.local:8080/jwks 2000"]);
      mesh.mode = { kind: "status", status: 503 };
      expect(await send(await signToken(k2, claims()))).toBe("401 Jwks doesn't have key to match kid or alg from Jwt");
    } finally {
      await mesh.close();
    }
  });
});
