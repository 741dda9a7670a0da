/** The cache of verified tokens: a hit only for the very key set; bounded in entries and token size; and through the filter, time is checked on every request. */
import { describe, expect, test } from "bun:test";
import { buildChain, recordingHost, RequestContext, steppingClock } from "../../src/plugin-api/index.ts";
import { createJwtPlugin } from "./index.ts";
import type { Jwks } from "./jwks.ts";
import type { ParsedToken } from "./token.ts";
import { jwksOf, rsaKey, signToken } from "./tokens.test-support.ts";
import { VerifiedCache } from "./verified-cache.ts";

const token = (text: string) => ({ text }) as ParsedToken;
const A: Jwks = { keys: [] };
const B: Jwks = { keys: [] };

describe("VerifiedCache", () => {
  test("remembers which key set object a token verified against", () => {
    const c = new VerifiedCache();
    c.add(token("t1"), A);
    expect(c.get("t1")?.jwks).toBe(A);
    expect(c.get("t1")?.jwks === B).toBe(false);
    expect(c.get("t2")).toBeUndefined();
  });

  test("holds at most `max` tokens (oldest out) and none longer than maxTokenBytes", () => {
    const c = new VerifiedCache(2, 10);
    c.add(token("t1"), A);
    c.add(token("t2"), A);
    c.add(token("t3"), A);
    expect([c.get("t1"), c.size]).toEqual([undefined, 2]);
    c.add(token("x".repeat(11)), A);
    expect(c.get("x".repeat(11))).toBeUndefined();
  });
});

describe("the filter with its cache", () => {
  test("a cached token is still refused once it expires", async () => {
    const key = await rsaKey("k1");
    const clock = steppingClock(1_800_000_000_000);
    const host = recordingHost({ clock });
    const { chain } = buildChain([{ name: "jwt", plugin: createJwtPlugin(), config: { jwtRules: [{ issuer: "i", jwks: jwksOf(key) }] }, failurePolicy: "FailClosed" }], async (ctx) => ctx.respond(200), host);
    const t = await signToken(key, { iss: "i", sub: "a", exp: 1_800_000_100 });
    const send = async () => {
      const ctx = new RequestContext({ request: { method: "GET", authority: "a", path: "/", headers: { authorization: `Bearer ${t}` } }, log: host.log, metrics: host.metrics });
      await chain(ctx);
      return ctx.response?.status;
    };
    expect([await send(), await send()]).toEqual([200, 200]);
    await clock.sleep(161_000); // past exp + 60 s of skew
    expect(await send()).toBe(401);
  });
});
