import { expect, test } from "bun:test";
import { freePort, hostPort, isLoopback, loopback } from "./net.ts";

test("only literal loopback addresses pass", () => {
  for (const ok of ["127.0.0.1", "127.1.2.3", "::1"]) expect(isLoopback(ok)).toBe(true);
  for (const bad of ["localhost", "10.0.0.1", "0.0.0.0", "::", "::ffff:127.0.0.1", "128.0.0.1"]) expect(isLoopback(bad)).toBe(false);
  expect(() => loopback({ host: "192.0.2.1", port: 80 })).toThrow(/non-loopback/);
  expect(hostPort({ host: "::1", port: 9 })).toBe("[::1]:9");
});

test("freePort returns a bindable loopback port", async () => {
  const e = await freePort();
  expect(e.host).toBe("127.0.0.1");
  expect(e.port).toBeGreaterThan(0);
});
