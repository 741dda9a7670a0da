/**
 * The generated haproxy configs, checked by haproxy itself (`haproxy -c`): plaintext (TCP and HTTP), and each
 * side of the mutual-TLS pair with the certificates a run makes (so the files it names load).
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { run } from "../../test/support/command.ts";
import { skipReason } from "../../test/support/requirements.ts";
import { makeCerts, type CertSet } from "../lib/certs.ts";
import { haproxyConfig, type HaproxyOptions } from "./haproxy.ts";

const NAME = "haproxy configs pass haproxy -c";
const skip = skipReason(NAME, { commands: ["haproxy", "openssl"] });
let dir = "";
let certs: CertSet;

beforeAll(async () => {
  if (skip) return;
  dir = mkdtempSync(join(tmpdir(), "mesh-haproxy-test-"));
  certs = await makeCerts(dir);
});
afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

test.skipIf(skip !== null)(NAME, async () => {
  const base = { dir, accept: { host: "127.0.0.1", port: 20001 }, connect: { host: "127.0.0.1", port: 20002 } };
  const variants: [string, HaproxyOptions][] = [
    ["plain", { ...base, name: "plain" }],
    ["http", { ...base, name: "http", mode: "http" }],
    ["server", { ...base, name: "server", tls: { role: "server", certs } }],
    ["client", { ...base, name: "client", tls: { role: "client", certs } }],
  ];
  for (const [label, o] of variants) {
    const config = haproxyConfig(o);
    const path = join(dir, `${label}.cfg`);
    writeFileSync(path, config);
    const r = await run(["haproxy", "-c", "-f", path]);
    expect({ label, code: r.code, out: r.code === 0 ? "" : r.stdout + r.stderr }).toEqual({ label, code: 0, out: "" });
    // Each side terminates or originates TLS where it should, never both.
    expect(/^\s*bind .* ssl /m.test(config)).toBe(label === "server");
    expect(/^\s*server .* ssl /m.test(config)).toBe(label === "client");
  }
});
