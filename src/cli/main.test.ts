import { afterAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { bunRuntime } from "../runtime/bun.ts";
import { runCli } from "./main.ts";
import { COMMANDS } from "./registry.ts";

async function cli(...argv: string[]) {
  const out: string[] = [];
  const err: string[] = [];
  const code = await runCli(bunRuntime, argv, { out: (t) => out.push(t), err: (t) => err.push(t) });
  return { code, out: out.join("\n"), err: err.join("\n") };
}

const dir = mkdtempSync(join(tmpdir(), "mesh-cli-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("mesh CLI", () => {
  test("no arguments and --help print the command list", async () => {
    for (const argv of [[], ["--help"], ["help"]]) {
      const r = await cli(...argv);
      expect(r.code).toBe(0);
      for (const c of COMMANDS) expect(r.out).toContain(c.name);
    }
  });
  test("every command has --help naming each of its flags and its env variable", async () => {
    for (const c of COMMANDS) {
      const r = await cli(c.name, "--help");
      expect(r.code).toBe(0);
      for (const o of c.options) {
        expect(r.out).toContain(`--${o.name}`);
        expect(r.out).toContain(`MESH_${o.name.toUpperCase().replaceAll("-", "_")}`);
      }
    }
  });
  test("token create refuses a lifetime under 1s or over 365d before asking the server", async () => {
    // No server listens on port 1: the refusal must come from the CLI itself.
    for (const [ttl, got] of [["1ms", "1ms"], ["999ms", "999ms"], ["366d", "8784h"]]) {
      const r = await cli("token", "create", "--node", "n1", "--ttl", ttl as string, "--server", "http://127.0.0.1:1", "--admin-token", "x");
      expect({ ttl, code: r.code, err: r.err }).toEqual({ ttl, code: 2, err: expect.stringContaining(`token lifetime must be between 1s and 365d (got ${got})`) });
    }
  });
  test("version", async () => {
    const r = await cli("version", "-o", "json");
    expect(r.code).toBe(0);
    expect(JSON.parse(r.out)).toMatchObject({ version: expect.any(String), runtime: expect.stringMatching(/^bun /) });
  });
  test("unknown command exits 2 and lists the commands", async () => {
    const r = await cli("ztunel");
    expect(r.code).toBe(2);
    expect(r.err).toContain('unknown command "ztunel"');
    expect(r.err).toContain("ztunnel");
  });
  test("unknown flag exits 2 naming it", async () => {
    const r = await cli("version", "--outptu", "json");
    expect(r.code).toBe(2);
    expect(r.err).toContain("--outptu");
  });
  test("bad enum value exits 2 with the accepted values", async () => {
    const r = await cli("version", "-o", "xml");
    expect(r.code).toBe(2);
    expect(r.err).toContain("--output");
    expect(r.err).toContain("accepted: text, json");
  });
  test("missing required flag exits 2", async () => {
    const r = await cli("ztunnel", "--control-plane", "127.0.0.1:15012", "--token-file", "t");
    expect(r.code).toBe(2);
    expect(r.err).toContain("--node");
  });
  test("wrong number of positionals exits 2", async () => {
    expect((await cli("get")).code).toBe(2);
    expect((await cli("version", "extra")).code).toBe(2);
  });
  test("a bad log level spec exits 2", async () => {
    const r = await cli("version", "--log-level", "chatty");
    expect(r.code).toBe(2);
    expect(r.err).toContain("chatty");
  });
  test("waypoint: a --gateway that is not NS/NAME or an --address that is not an IP exits 2 and names the flag", async () => {
    for (const [flag, argv] of [
      ["--gateway", ["--gateway", "wp", "--address", "127.0.3.1"]],
      ["--address", ["--gateway", "ns/wp", "--address", "host.example"]],
    ] as const) {
      const r = await cli("waypoint", ...argv, "--node", "n", "--control-plane", "127.0.0.1:15012", "--token-file", "t");
      expect(r.code).toBe(2);
      expect(r.err).toContain(flag);
    }
  });
  test("waypoint verbs: an unknown one exits 2 listing them; each has its own help; no verb runs the proxy, whose flags only it requires", async () => {
    const unknown = await cli("waypoint", "aply", "-n", "bookinfo");
    expect(unknown.code).toBe(2);
    expect(unknown.err).toContain('unknown waypoint command "aply"');
    expect(unknown.err).toContain("accepted: apply, list, status, delete");
    const help = await cli("waypoint", "apply", "--help");
    expect(help.out).toStartWith("mesh waypoint apply — ");
    expect(help.out).toContain("--enroll-namespace");
    expect(help.out).not.toContain("--gateway");
    expect((await cli("waypoint", "--help")).out).toContain("mesh waypoint status");
    // The verb's own flags only: no --gateway needed, and --gateway is not one of them.
    const list = await cli("waypoint", "list", "--gateway", "a/b");
    expect(list.code).toBe(2);
    expect(list.err).toContain("unknown flag --gateway");
    const run = await cli("waypoint", "--node", "n");
    expect(run.code).toBe(2);
    expect(run.err).toContain("missing required flag --gateway");
  });
  test("config file: values apply, flags win, unknown keys and bad YAML are refused", async () => {
    const good = join(dir, "good.yaml");
    writeFileSync(good, "output: json\n");
    expect(JSON.parse((await cli("version", "--config", good)).out).version).toBeString();
    expect((await cli("version", "--config", good, "-o", "text")).out).toStartWith("mesh ");
    const unknown = join(dir, "unknown.yaml");
    writeFileSync(unknown, "outputs: json\n");
    const r1 = await cli("version", "--config", unknown);
    expect(r1.code).toBe(2);
    expect(r1.err).toContain('unknown setting "outputs"');
    const broken = join(dir, "broken.yaml");
    writeFileSync(broken, "output: [json\n");
    const r2 = await cli("version", "--config", broken);
    expect(r2.code).toBe(2);
    expect(r2.err).toContain("not valid YAML");
    const r3 = await cli("version", "--config", join(dir, "missing.yaml"));
    expect(r3.code).toBe(2);
    expect(r3.err).toContain("cannot read it");
  });
  test("environment sits between flags and the file", async () => {
    process.env.MESH_OUTPUT = "json";
    try {
      expect(JSON.parse((await cli("version")).out).commit).toBeString();
      expect((await cli("version", "-o", "text")).out).toStartWith("mesh ");
    } finally {
      delete process.env.MESH_OUTPUT;
    }
  });
});
