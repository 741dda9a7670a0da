/** When a remote JWKS is fetched (decideJwks, a table), and RemoteJwks carrying it out against a fetch answering from a table. */
import { describe, expect, test } from "bun:test";
import { recordingHost, steppingClock, type PluginFetch } from "../../src/plugin-api/index.ts";
import type { Jwks } from "./jwks.ts";
import { decideJwks, RemoteJwks, type JwksPolicy, type JwksState } from "./remote-jwks.ts";

const P: JwksPolicy = { refreshMs: 300_000, staleMs: 600_000, minRetryMs: 5000, maxBytes: 1024 };
const K: Jwks = { keys: [{ kid: "a", alg: null, jwk: { kty: "oct", k: "eA" } }] };
const state = (keys: Jwks | null, fetchedAt: number, attemptedAt: number): JwksState => ({ keys, fetchedAt, attemptedAt });

describe("decideJwks", () => {
  const rows: [string, JwksState, number, boolean, ReturnType<typeof decideJwks>][] = [
    ["never fetched: fetch and wait", state(null, 0, -Infinity), 1000, false, { use: null, fetch: "wait" }],
    ["no keys, last attempt 1s ago: no new fetch (rate limit)", state(null, 0, 0), 1000, false, { use: null, fetch: "none" }],
    ["no keys, last attempt 5s ago: fetch again", state(null, 0, 0), 5000, false, { use: null, fetch: "wait" }],
    ["fresh keys: use", state(K, 0, 0), 299_999, false, { use: K, fetch: "none" }],
    ["keys due for refresh: use, refresh in the background", state(K, 0, 0), 300_000, false, { use: K, fetch: "background" }],
    ["refresh failing (tried 1s ago), still inside the stale window: use", state(K, 0, 800_000), 801_000, false, { use: K, fetch: "none" }],
    ["past refresh + stale window: keys no longer used", state(K, 0, 800_000), 900_000, false, { use: null, fetch: "wait" }],
    ["unknown kid: fetch again and wait", state(K, 0, 0), 10_000, true, { use: K, fetch: "wait" }],
    ["unknown kid, fetched 1s ago: no new fetch", state(K, 9000, 9000), 10_000, true, { use: K, fetch: "none" }],
  ];
  for (const [name, s, now, unknownKid, want] of rows) test(name, () => expect(decideJwks(s, now, P, unknownKid)).toEqual(want));
});

describe("RemoteJwks", () => {
  function served(bodies: (string | number)[]) {
    const calls: string[] = [];
    const fetch: PluginFetch = async (request) => {
      calls.push(request.url);
      const next = bodies.length > 1 ? bodies.shift() : bodies[0];
      return typeof next === "number" ? new Response("down", { status: next }) : new Response(next);
    };
    return { fetch, calls };
  }
  const doc = (kid: string) => JSON.stringify({ keys: [{ kty: "oct", k: "eA", kid }] });
  const kids = (j: Jwks | null) => j?.keys.map((k) => k.kid) ?? null;

  test("fetches once for concurrent waiters, refreshes in the background, keeps keys while the server is down, then lets them go", async () => {
    const clock = steppingClock(0);
    const host = recordingHost({ clock });
    const { fetch, calls } = served([doc("a"), doc("b"), 503]);
    const jwks = new RemoteJwks("https://keys.example/jwks");
    const io = { fetch, now: clock.now, log: host.log, timeoutMs: 1000, policy: P };
    expect((await Promise.all([jwks.keys(io), jwks.keys(io)])).map(kids)).toEqual([["a"], ["a"]]);
    expect(calls.length).toBe(1);
    await clock.sleep(300_000);
    expect(kids(await jwks.keys(io))).toEqual(["a"]); // stale-while-refreshing
    await jwks.settled();
    expect(kids(await jwks.keys(io))).toEqual(["b"]);
    await clock.sleep(300_000); // b due; the server is now down
    expect(kids(await jwks.keys(io))).toEqual(["b"]);
    await jwks.settled();
    await clock.sleep(599_000); // still inside refresh + stale of b's fetch
    expect(kids(await jwks.keys(io))).toEqual(["b"]);
    await clock.sleep(2000);
    expect(await jwks.keys(io)).toBeNull();
    expect(host.lines.filter((l) => l.message === "jwks fetch failed").length).toBeGreaterThan(0);
  });

  test("a request with an unknown kid while a refresh is under way waits for it", async () => {
    const clock = steppingClock(0);
    const host = recordingHost({ clock });
    let release: () => void = () => {};
    const gate = new Promise<void>((r) => (release = r));
    let n = 0;
    const fetch: PluginFetch = async () => (n++ === 0 ? new Response(doc("a")) : (await gate, new Response(doc("b"))));
    const jwks = new RemoteJwks("https://k/");
    const io = { fetch, now: clock.now, log: host.log, timeoutMs: 1000, policy: P };
    expect(kids(await jwks.keys(io))).toEqual(["a"]);
    await clock.sleep(300_000);
    expect(kids(await jwks.keys(io))).toEqual(["a"]); // starts a background refresh, held at the gate
    const waiting = jwks.keys(io, true); // rate-limited: no fetch of its own, but the one under way is awaited
    release();
    expect(kids(await waiting)).toEqual(["b"]);
    expect(n).toBe(2);
  });

  test("a document over maxBytes, a non-200 or one without usable keys keeps the previous keys", async () => {
    const clock = steppingClock(0);
    const host = recordingHost({ clock });
    const { fetch } = served([doc("a"), "x".repeat(2000), '{"keys":[]}', 404]);
    const jwks = new RemoteJwks("https://k/");
    const io = { fetch, now: clock.now, log: host.log, timeoutMs: 1000, policy: P };
    expect(kids(await jwks.keys(io))).toEqual(["a"]);
    for (const why of ["JWKS larger than 1024 bytes", "Jwks doesn't have any valid public key", "HTTP 404"]) {
      await clock.sleep(5000);
      expect(kids(await jwks.keys(io, true))).toEqual(["a"]);
      expect(host.lines.at(-1)?.fields.error).toBe(why);
    }
  });
});
