/**
 * A ztunnel whose control plane speaks TLS authenticates xDS with its node certificate (asked for
 * with its node token), not with the token: the control plane logs how each proxy authenticated.
 * A node certificate holds only while the token it was issued against does, so after a token
 * rotation (new token file, old token revoked) the ztunnel reconnects with a new one.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startControlPlane, type RunningControlPlane } from "../src/controlplane/server.ts";
import { bunRuntime } from "../src/runtime/bun.ts";
import { createLogControl } from "../src/telemetry/log.ts";
import { startZtunnel, type RunningZtunnel } from "../src/ztunnel/ztunnel.ts";
import { runOk } from "./support/command.ts";
import { applyAndWait, BOOKINFO_YAML } from "./support/control-plane.ts";
import { eventually } from "./support/eventually.ts";
import { skipReason } from "./support/requirements.ts";

const skip = skipReason("ztunnel node certificate", { commands: ["openssl"] });
const cpLines: string[] = [];
const ztLines: string[] = [];

let dir: string;
let cp: RunningControlPlane;
let zt: RunningZtunnel | undefined;

beforeAll(async () => {
  if (skip) return;
  dir = mkdtempSync(join(tmpdir(), "mesh-zt-nodecert-"));
  await runOk(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", join(dir, "xds.key"), "-out", join(dir, "xds.pem"), "-days", "1", "-subj", "/CN=mesh-xds", "-addext", "subjectAltName=IP:127.0.0.1"]);
  cp = await startControlPlane(
    {
      dataDir: join(dir, "cp"),
      store: { backend: "sqlite" },
      api: { host: "127.0.0.1", port: 0 },
      xds: { host: "127.0.0.1", port: 0, tls: { cert: readFileSync(join(dir, "xds.pem"), "utf8"), key: readFileSync(join(dir, "xds.key"), "utf8") } },
      adminTokenFile: join(dir, "cp", "admin-token"),
      trustDomain: "cluster.local",
    },
    bunRuntime,
    createLogControl({ format: "text", spec: "info", write: (l) => cpLines.push(l) }),
  );
  await applyAndWait(cp, BOOKINFO_YAML);
});

afterAll(async () => {
  if (skip) return;
  await zt?.drain(1000);
  await cp?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe.skipIf(skip !== null)("ztunnel over TLS", () => {
  let token: string;
  test("authenticates xDS with its node certificate, not its token", async () => {
    token = (await cp.tokens.mint("node-1", 3600_000)).token;
    const loopback = { host: "127.0.0.1", port: 0 };
    zt = await startZtunnel(
      {
        node: "node-1",
        controlPlane: `https://127.0.0.1:${cp.xdsAddress.port}`,
        controlPlaneCa: readFileSync(join(dir, "xds.pem"), "utf8"),
        token: () => token,
        capture: "socks5",
        dataDir: join(dir, "node-1"),
        listen: { outbound: loopback, inboundPlaintext: loopback, hbone: loopback, socks5: loopback, dns: null, admin: loopback, metrics: loopback, readiness: loopback },
        hbonePort: 15008,
        drainTimeoutMs: 1000,
        connectTimeoutMs: 3000,
        dnsUpstreams: [],
      },
      bunRuntime,
      createLogControl({ format: "text", spec: "info", write: (l) => ztLines.push(l) }),
    );
    await zt.xds.synced();
    await eventually(() => expect(cpLines.find((l) => l.includes("proxy connected") && l.includes("node-1")) ?? "").toMatch(/via="?certificate/), { what: "the control plane to log a certificate-authenticated ztunnel" });
    expect(cpLines.filter((l) => l.includes("proxy connected")).join("\n")).not.toMatch(/via="?token/);
    expect(ztLines.some((l) => l.includes("no node certificate"))).toBe(false);
  });

  test("a rotated token: revoking the old one ends the stream, and the ztunnel reconnects with a node certificate issued against the new one", async () => {
    if (!zt) throw new Error("needs the ztunnel of the test before");
    const old = await cp.tokens.verify(token);
    const rotated = await cp.tokens.mint("node-1", 3600_000);
    token = rotated.token; // the operator writes the new token file…
    const connectedBefore = cpLines.filter((l) => l.includes("proxy connected") && l.includes("node-1")).length;
    await cp.tokens.revoke({ id: old.id }); // …then revokes the old token
    await eventually(() => expect(cpLines.some((l) => l.includes("its credentials no longer hold") && l.includes("node-1"))).toBe(true), { what: "the old certificate's stream to end" });
    await eventually(() => expect(cpLines.filter((l) => l.includes("proxy connected") && l.includes("node-1")).length).toBeGreaterThan(connectedBefore), { timeoutMs: 15_000, what: "the ztunnel to reconnect" });
    const again = cpLines.filter((l) => l.includes("proxy connected") && l.includes("node-1")).slice(connectedBefore);
    expect(again.join("\n")).toMatch(/via="?certificate/);
    expect(cpLines.some((l) => l.includes("xDS/CA request refused") && l.includes("node certificate refused"))).toBe(false);
    await zt.xds.synced();
  }, 30_000);
});
