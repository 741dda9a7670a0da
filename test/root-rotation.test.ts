/**
 * Root rotation with overlap, end to end in one process: a real control plane (CA + xDS), two
 * proxies built from the real parts (xDS client for the trust bundle, certificate manager for
 * workload certificates), and TLS 1.3 mutual handshakes between them every few milliseconds while
 * the operator runs prepare → activate → retire. Not one handshake may fail.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import type net from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import tls from "node:tls";
import { type RunningControlPlane } from "../src/controlplane/server.ts";
import { caClient } from "../src/identity/ca-client.ts";
import { CertificateManager, type WorkloadCertificate } from "../src/identity/cert-manager.ts";
import { systemClock } from "../src/identity/clock.ts";
import { decodeCheckedTrustBundle } from "../src/identity/trust-bundle.ts";
import { createLogControl } from "../src/telemetry/log.ts";
import { XdsClient } from "../src/xds/client.ts";
import { TRUST_BUNDLE_TYPE } from "../src/xds/type-urls.ts";
import type { TrustBundleView } from "../src/state/view.ts";
import { DECODERS } from "../src/xds/wire.ts";
import { eventually } from "./support/eventually.ts";
import { applyAndWait, BOOKINFO_YAML, startTestControlPlane } from "./support/control-plane.ts";

const logs = createLogControl({ format: "text", spec: "off" });
let dir: string;
let cp: RunningControlPlane;

/** What a proxy needs for TLS: its workload certificate and the roots it trusts, kept current. */
class MiniProxy {
  readonly xds: XdsClient;
  readonly certs: CertificateManager;
  bundle: TrustBundleView | undefined;
  cert: WorkloadCertificate | undefined;
  #generation = 0;
  readonly changed = new Set<() => void>();

  constructor(readonly node: string, readonly identity: { trustDomain: string; namespace: string; serviceAccount: string }, token: string) {
    this.xds = new XdsClient({
      server: `http://127.0.0.1:${cp.xdsAddress.port}`,
      node,
      role: "ztunnel",
      decoders: { ...DECODERS, [TRUST_BUNDLE_TYPE]: decodeCheckedTrustBundle },
      log: logs.logger("xds"),
      token: () => token,
    });
    this.certs = new CertificateManager({ signer: caClient({ server: `http://127.0.0.1:${cp.xdsAddress.port}`, token: () => token }), clock: systemClock, log: logs.logger("certs") });
    this.xds.onChange((change) => {
      if (change.typeUrl !== TRUST_BUNDLE_TYPE) return;
      this.bundle = [...this.xds.resources<TrustBundleView>(TRUST_BUNDLE_TYPE).values()][0];
      if (this.bundle && this.bundle.generation !== this.#generation) {
        if (this.#generation !== 0) this.certs.renewAll(); // the CA signs with a new root: re-issue
        this.#generation = this.bundle.generation;
      }
      for (const f of this.changed) f();
    });
    this.certs.onRotate(async () => {
      this.cert = await this.certs.get(this.identity);
      for (const f of this.changed) f();
    });
  }

  async start(): Promise<void> {
    this.xds.start();
    await this.xds.synced();
    this.cert = await this.certs.get(this.identity);
  }

  tlsOptions() {
    const cert = this.cert as WorkloadCertificate;
    return { cert: cert.chain[0] as string, key: cert.keyPem, ca: [...(this.bundle?.roots ?? [])], minVersion: "TLSv1.3" as const };
  }

  async stop(): Promise<void> {
    this.certs.close();
    await this.xds.stop();
  }
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "mesh-rotation-"));
  cp = await startTestControlPlane(dir);
  await applyAndWait(cp, BOOKINFO_YAML);
});
afterAll(async () => {
  await cp?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe("root rotation", () => {
  test("prepare → activate → retire with continuous mutual TLS and no failed handshake", async () => {
    const sleep = new MiniProxy("node-1", { trustDomain: "cluster.local", namespace: "bookinfo", serviceAccount: "sleep" }, (await cp.tokens.mint("node-1", 3600_000)).token);
    const productpage = new MiniProxy("node-2", { trustDomain: "cluster.local", namespace: "bookinfo", serviceAccount: "bookinfo-productpage" }, (await cp.tokens.mint("node-2", 3600_000)).token);
    await Promise.all([sleep.start(), productpage.start()]);
    const server = tls.createServer({ ...productpage.tlsOptions(), requestCert: true, rejectUnauthorized: true }, (s) => s.end("ok"));
    productpage.changed.add(() => server.setSecureContext({ ...productpage.tlsOptions() }));
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    const port = (server.address() as net.AddressInfo).port;

    const outcomes = { ok: 0, failed: [] as string[] };
    let running = true;
    const handshake = () =>
      new Promise<void>((resolve) => {
        const s = tls.connect({ ...sleep.tlsOptions(), host: "127.0.0.1", port, checkServerIdentity: () => undefined }, () => {
          const san = s.getPeerCertificate().subjectaltname;
          if (san === "URI:spiffe://cluster.local/ns/bookinfo/sa/bookinfo-productpage") outcomes.ok++;
          else outcomes.failed.push(`wrong peer ${san}`);
          s.end();
        });
        s.resume(); // read the server's reply so the connection can close
        s.setTimeout(5000, () => (outcomes.failed.push("handshake timed out"), s.destroy()));
        s.once("error", (err: Error) => (outcomes.failed.push(err.message), resolve()));
        s.once("close", () => resolve());
      });
    const loop = (async () => {
      while (running) {
        await handshake();
        await new Promise((r) => setTimeout(r, 2)); // always give timers a turn
      }
    })();

    try {
      const serials = () => [sleep.cert?.serial, productpage.cert?.serial];
      const rootsSeen = (p: MiniProxy) => p.bundle?.roots.length;
      const okBefore = () => outcomes.ok;
      await eventually(() => expect(outcomes.ok).toBeGreaterThan(25));

      await cp.ca.rotate("prepare");
      await eventually(() => expect([rootsSeen(sleep), rootsSeen(productpage)]).toEqual([2, 2]));
      let mark = okBefore();
      await eventually(() => expect(outcomes.ok).toBeGreaterThan(mark + 25));

      const before = serials();
      await cp.ca.rotate("activate");
      await eventually(() => {
        const now = serials();
        expect(now[0]).not.toBe(before[0]);
        expect(now[1]).not.toBe(before[1]);
      });
      mark = okBefore();
      await eventually(() => expect(outcomes.ok).toBeGreaterThan(mark + 25));

      await cp.ca.rotate("retire");
      await eventually(() => expect([rootsSeen(sleep), rootsSeen(productpage)]).toEqual([1, 1]));
      mark = okBefore();
      await eventually(() => expect(outcomes.ok).toBeGreaterThan(mark + 25));
      // The remaining root is the new one: the leaves now chain to it.
      expect(sleep.bundle?.roots[0]).toBe(cp.ca.material.trustBundle[0]);
      expect(cp.ca.status().roots).toHaveLength(1);
    } finally {
      running = false;
      await loop;
      server.close();
      await Promise.all([sleep.stop(), productpage.stop()]);
    }
    expect(outcomes.failed).toEqual([]);
    expect(outcomes.ok).toBeGreaterThan(100);
    console.log(`root rotation: ${outcomes.ok} mutual TLS handshakes, ${outcomes.failed.length} failed`);
  });

  test("rotation steps out of order are refused and change nothing", async () => {
    const status = cp.ca.status();
    const refusal = (p: Promise<unknown>) => p.then(() => "resolved", (e: Error) => e.message);
    expect(await refusal(cp.ca.rotate("activate"))).toMatch(/no prepared root/);
    expect(await refusal(cp.ca.rotate("retire"))).toMatch(/nothing to retire/);
    await cp.ca.rotate("prepare");
    expect(await refusal(cp.ca.rotate("prepare"))).toMatch(/already prepared/);
    expect(await refusal(cp.ca.rotate("retire"))).toMatch(/activate it before/);
    expect(cp.ca.status().generation).toBe(status.generation);
  });
});
