/** The single binary: runs alone in an empty directory, with no node_modules or sources beside it. */
import { afterAll, describe, expect, test } from "bun:test";
import { copyFileSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { run } from "../support/command.ts";
import { meshBinary } from "../support/binary.ts";

const dir = mkdtempSync(join(tmpdir(), "mesh-bin-"));
const alone = join(dir, "mesh");
copyFileSync(meshBinary(), alone);
afterAll(() => rmSync(dir, { recursive: true, force: true }));

// A minimal environment: no PATH to node_modules, run from the empty directory.
const env = { PATH: "/usr/bin:/bin", HOME: dir };

describe("dist/mesh copied alone into an empty directory", () => {
  test("version reports version, commit and runtime", async () => {
    const r = await run([alone, "version"], { cwd: dir, env });
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^mesh \d+\.\d+\.\d+ \(commit ([0-9a-f]{7,}|unknown), bun \d+\.\d+\.\d+, linux\/\w+\)/);
    expect(r.stdout).not.toContain("commit dev");
  });
  test("--help lists the commands", async () => {
    const r = await run([alone, "--help"], { cwd: dir, env });
    expect(r.code).toBe(0);
    for (const c of ["control-plane", "ztunnel", "waypoint", "apply", "get", "delete", "demo", "version"]) expect(r.stdout).toContain(c);
  });
  test("usage errors exit 2", async () => {
    expect((await run([alone, "frobnicate"], { cwd: dir, env })).code).toBe(2);
    expect((await run([alone, "version", "--bogus"], { cwd: dir, env })).code).toBe(2);
    const r = await run([alone, "waypoint", "--gateway", "wp", "--node", "n", "--control-plane", "127.0.0.1:15012", "--token-file", "t"], { cwd: dir, env });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("--gateway");
  });
  test("mesh demo --check walks through the seed article's story and passes", async () => {
    const r = await run([alone, "demo", "--check"], { cwd: dir, env, timeoutMs: 60_000 });
    expect(r.stdout).toContain("demo check passed");
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("refused (SOCKS5 reply 2)");
    expect(r.stderr).toContain("src.identity=spiffe://cluster.local/ns/bookinfo/sa/sleep");
  });
});
