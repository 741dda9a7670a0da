/**
 * The waypoint's HTTP/2 engine on Deno: test/deno/waypoint-h2.ts run by `deno run` (the Deno in
 * node_modules) — a control plane, two ztunnels and a waypoint in one Deno process, h2c from sleep
 * through a route: a POST with its trailer, 200 requests over five sessions, 40 responses of 300 KB
 * each followed by the client's GOAWAY, clients going away mid-response, and a request after all
 * that. PLATFORM-NOTES records node:http2 servers aborting inside nghttp2 on Deno when a client
 * sends GOAWAY after large responses; this is the guard that the waypoint's HTTP/2 path does not.
 */
import { expect, test } from "bun:test";
import { join } from "node:path";
import { run } from "./support/command.ts";

const root = new URL("..", import.meta.url).pathname;

test("HTTP/2 through the waypoint under Deno: routed, trailers carried, large responses and client GOAWAYs survived", async () => {
  const r = await run([join(root, "node_modules/.bin/deno"), "run", "-A", "--unstable-ffi", join(root, "test/deno/waypoint-h2.ts")], { cwd: root, timeoutMs: 90_000 });
  if (r.code !== 0) throw new Error(`deno exited ${r.code ?? r.signal}: ${r.stderr.slice(-2000)}`);
  const seen = JSON.parse(r.stdout.trim().split("\n").at(-1) ?? "{}");
  expect(seen).toEqual({
    runtime: "deno",
    status: 200,
    route: "denoweb",
    body: "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824", // sha256("hello")
    trailer: "5",
    ok: 200,
    total: 200,
    bigBytes: 40 * 300_000,
    afterAbrupt: 200,
  });
}, 100_000);
