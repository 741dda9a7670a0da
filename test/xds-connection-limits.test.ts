/**
 * The xDS/CA port's connection limits on a real (in-process) control plane with TLS and short
 * deadlines: idle plain and TLS connections are closed at their deadlines, a connection that
 * carried a CSR is closed once idle, and a live xDS stream is never idle-closed. The deadlines are
 * shortened here so the test takes seconds; the defaults are in connection-limits.ts.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import net from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import tls from "node:tls";
import type { RunningControlPlane } from "../src/controlplane/server.ts";
import { caClient } from "../src/identity/ca-client.ts";
import { systemClock } from "../src/identity/clock.ts";
import { NodeCertificate } from "../src/identity/node-certificate.ts";
import { createLogControl } from "../src/telemetry/log.ts";
import { XdsClient } from "../src/xds/client.ts";
import { DECODERS } from "../src/xds/wire.ts";
import { runOk } from "./support/command.ts";
import { applyAndWait, BOOKINFO_YAML, startTestControlPlane } from "./support/control-plane.ts";
import { eventually } from "./support/eventually.ts";
import { skipReason } from "./support/requirements.ts";

const skip = skipReason("xDS connection limits", { commands: ["openssl"] });
const logs = createLogControl({ format: "text", spec: "off" });
const LIMITS = { handshakeMs: 400, firstRequestMs: 800, idleMs: 600 };

let dir: string;
let cp: RunningControlPlane;
let serverCa: string;

beforeAll(async () => {
  if (skip) return;
  dir = mkdtempSync(join(tmpdir(), "mesh-xds-limits-"));
  await runOk(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", join(dir, "xds.key"), "-out", join(dir, "xds.pem"), "-days", "1", "-subj", "/CN=mesh-xds", "-addext", "subjectAltName=IP:127.0.0.1"]);
  serverCa = readFileSync(join(dir, "xds.pem"), "utf8");
  cp = await startTestControlPlane(join(dir, "cp"), { xdsTls: { cert: serverCa, key: readFileSync(join(dir, "xds.key"), "utf8") }, xdsLimits: LIMITS });
  await applyAndWait(cp, BOOKINFO_YAML);
});

afterAll(async () => {
  if (skip) return;
  await cp?.close();
  rmSync(dir, { recursive: true, force: true });
});

/** Resolves with how long after connecting the server closed the socket. */
function closedAfter(socket: net.Socket, connectEvent: string): Promise<number> {
  socket.on("error", () => {});
  return new Promise((resolve) => {
    let at = Date.now();
    socket.once(connectEvent, () => (at = Date.now()));
    socket.once("close", () => resolve(Date.now() - at));
  });
}

describe.skipIf(skip !== null)("xDS/CA port connection limits", () => {
  test("a plain TCP connection that never handshakes is closed at the handshake deadline", async () => {
    const after = await closedAfter(net.connect(cp.xdsAddress.port, "127.0.0.1"), "connect");
    expect(after).toBeGreaterThanOrEqual(LIMITS.handshakeMs - 50);
    expect(after).toBeLessThan(LIMITS.firstRequestMs + 1000);
  });

  test("a TLS connection that sends no request is closed at the first-request deadline", async () => {
    const after = await closedAfter(tls.connect({ port: cp.xdsAddress.port, host: "127.0.0.1", ca: serverCa, ALPNProtocols: ["h2"] }), "secureConnect");
    expect(after).toBeGreaterThanOrEqual(LIMITS.firstRequestMs - LIMITS.handshakeMs);
    expect(after).toBeLessThan(LIMITS.firstRequestMs + 1000);
    await eventually(() => expect(cp.xdsConnections().unauthenticated).toBe(0));
  });

  test("a connection that carried a CSR is closed once idle; a live xDS stream is not", async () => {
    const token = (await cp.tokens.mint("node-1", 3600_000)).token;
    const signer = caClient({ server: `https://127.0.0.1:${cp.xdsAddress.port}`, token: () => token, tls: { ca: serverCa } });
    const node = await new NodeCertificate({ node: "node-1", signer, clock: systemClock }).get();
    expect(cp.xdsConnections()).toMatchObject({ open: 1, unauthenticated: 0 });
    await eventually(() => expect(cp.xdsConnections().open).toBe(0), { what: "the idle CA connection to be closed" });
    const xds = new XdsClient({ server: `https://127.0.0.1:${cp.xdsAddress.port}`, node: "node-1", role: "ztunnel", decoders: DECODERS, log: logs.logger("xds"), tls: { ca: serverCa, cert: node.chain.join("\n"), key: node.keyPem } });
    try {
      xds.start();
      await xds.synced();
      const timedOut = cp.xdsConnections().timedOut;
      // A witness: an idle TLS connection opened now is closed at the first-request deadline, later than the idle timeout.
      await closedAfter(tls.connect({ port: cp.xdsAddress.port, host: "127.0.0.1", ca: serverCa, ALPNProtocols: ["h2"] }), "secureConnect");
      expect(xds.connected).toBe(true);
      expect(cp.xdsConnections()).toMatchObject({ open: 1, unauthenticated: 0, timedOut: timedOut + 1 });
    } finally {
      await xds.stop();
    }
  });
});
