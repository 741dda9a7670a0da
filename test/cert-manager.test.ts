/**
 * The certificate manager against the real CA (in-process control plane), with an injected clock:
 * fetch on demand and ahead of need, renewal at half-life, backoff while the CA is down (the old
 * certificate keeps serving until it expires), recovery, and refusal of wrong certificates.
 */
import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type RunningControlPlane } from "../src/controlplane/server.ts";
import { caClient, type CertificateSigner } from "../src/identity/ca-client.ts";
import { CertificateManager } from "../src/identity/cert-manager.ts";
import { createCsr, generateWorkloadKey } from "../src/identity/x509/csr.ts";
import { createLogControl } from "../src/telemetry/log.ts";
import { eventually } from "./support/eventually.ts";
import { applyAndWait, BOOKINFO_YAML, startTestControlPlane } from "./support/control-plane.ts";
import { FakeClock } from "./support/fake-clock.ts";
import { freePort } from "./support/ports.ts";

const logs = createLogControl({ format: "text", spec: "off" });
const HOUR = 3600_000;
const productpage = { trustDomain: "cluster.local", namespace: "bookinfo", serviceAccount: "bookinfo-productpage" };

let dir: string;
let port: number;
let cp: RunningControlPlane | undefined;
let token: string;
let manager: CertificateManager | undefined;
/** One clock for the CA and the manager, so certificates expire in the time the test moves. */
let clock: FakeClock;

/**
 * The rejection of a network call, awaited with .catch: bun's expect(promise).rejects drives the
 * event loop in a way that breaks node:http2 client requests ("Premature close").
 */
async function rejection(p: Promise<unknown>): Promise<string> {
  const outcome = await p.then(
    () => "resolved",
    (err: unknown) => String((err as Error)?.message ?? err),
  );
  if (outcome === "resolved") throw new Error("expected a rejection");
  return outcome;
}

async function startCp() {
  cp = await startTestControlPlane(dir, { xdsPort: port, ca: { defaultTtlMs: HOUR, maxTtlMs: 24 * HOUR }, now: () => new Date(clock.now()) });
}

beforeEach(async () => {
  dir = mkdtempSync(join(tmpdir(), "mesh-certmgr-"));
  clock = new FakeClock();
  port = await freePort();
  await startCp();
  await applyAndWait(cp as RunningControlPlane, BOOKINFO_YAML);
  await eventually(() => expect(cp?.hub.isBound("node-2", productpage)).toBe(true));
  token = (await (cp as RunningControlPlane).tokens.mint("node-2", 24 * HOUR)).token;
});
afterEach(async () => {
  manager?.close();
  await cp?.close();
  cp = undefined;
  rmSync(dir, { recursive: true, force: true });
});

/** The real signer, counting the requests that reach it. */
function counting(signer: CertificateSigner): { calls: number; signer: CertificateSigner } {
  const counter = {
    calls: 0,
    signer: {
      sign: (csr: string, ttl: number) => {
        counter.calls++;
        return signer.sign(csr, ttl);
      },
    },
  };
  return counter;
}

function newManager(signer: CertificateSigner, clock: FakeClock) {
  manager = new CertificateManager({ signer, clock, log: logs.logger("certs"), backoff: { initialMs: 1000, maxMs: 8000 }, random: () => 1 });
  return manager;
}

const realSigner = () => caClient({ server: `http://127.0.0.1:${port}`, token: () => token });

describe("certificate manager", () => {
  test("fetches once on demand, even for concurrent callers, and reports what it holds", async () => {
    const c = counting(realSigner());
    const m = newManager(c.signer, clock);
    const [a, b] = await Promise.all([m.get(productpage), m.get(productpage)]);
    expect(a).toBe(b);
    expect(c.calls).toBe(1);
    expect(a.spiffeId).toBe("spiffe://cluster.local/ns/bookinfo/sa/bookinfo-productpage");
    expect(a.notAfter.getTime() - a.notBefore.getTime()).toBe(HOUR + 5 * 60_000); // backdated 5 min
    expect(await m.get(productpage)).toBe(a);
    expect(m.status()).toEqual([{ spiffeId: a.spiffeId, state: "valid", serial: a.serial, notBefore: a.notBefore.toISOString(), notAfter: a.notAfter.toISOString(), failures: 0 }]);
  });

  test("renews at half its lifetime and tells listeners", async () => {
    const m = newManager(realSigner(), clock);
    const rotated: string[] = [];
    m.onRotate((id) => rotated.push(id));
    m.want(productpage);
    await eventually(() => expect(m.status()[0]?.state).toBe("valid"));
    const first = await m.get(productpage);
    const halfLife = first.notBefore.getTime() + (first.notAfter.getTime() - first.notBefore.getTime()) / 2;
    clock.advance(halfLife - clock.now() - 1000); // just before half-life
    expect((await m.get(productpage)).serial).toBe(first.serial);
    clock.advance(2000);
    await eventually(async () => expect((await m.get(productpage)).serial).not.toBe(first.serial));
    expect(rotated).toEqual([first.spiffeId, first.spiffeId]);
  });

  test("while the CA is down the old certificate serves until it expires; then it recovers", async () => {
    const m = newManager(realSigner(), clock);
    const first = await m.get(productpage);
    await cp?.close();
    cp = undefined;
    clock.advance(HOUR * 0.5);
    await eventually(() => expect(m.status()[0]).toMatchObject({ state: "renewing", failures: 1 }));
    expect(m.status()[0]?.lastError).toBeTruthy();
    expect((await m.get(productpage)).serial).toBe(first.serial);
    clock.advance(1000); // first backoff
    await eventually(() => expect(m.status()[0]?.failures).toBe(2));
    clock.advance(HOUR); // past expiry, still failing
    await eventually(() => expect(m.status()[0]?.state).toBe("expired"));
    expect(await rejection(m.get(productpage))).toBeTruthy();
    await startCp(); // same data dir: same root, same token records
    await eventually(() => expect(cp?.hub.isBound("node-2", productpage)).toBe(true));
    // Backoff retries go on as time passes; one of them reaches the restarted CA.
    await eventually(
      () => {
        clock.advance(8000);
        expect(m.status()[0]?.state).toBe("valid");
      },
      { timeoutMs: 10_000, intervalMs: 200 },
    );
    expect((await m.get(productpage)).serial).not.toBe(first.serial);
  });

  test("refuses a certificate for another identity or another key, and keeps trying", async () => {
    const real = realSigner();
    // A CA that answers with a real certificate, but for a different identity than asked.
    const wrongIdentity: CertificateSigner = { sign: async () => real.sign(await createCsr(await generateWorkloadKey(), "spiffe://cluster.local/ns/bookinfo/sa/notsleep-never-bound"), 0) };
    expect(await rejection(newManager(wrongIdentity, clock).get(productpage))).toMatch(/runs no workload/);
    manager?.close();
    // The right identity, but a certificate for a key that is not ours.
    const wrongKey: CertificateSigner = { sign: async () => real.sign(await createCsr(await generateWorkloadKey(), "spiffe://cluster.local/ns/bookinfo/sa/bookinfo-productpage"), 0) };
    const m = newManager(wrongKey, clock);
    expect(await rejection(m.get(productpage))).toMatch(/another key than ours/);
    expect(m.status()[0]).toMatchObject({ state: "pending", failures: 1 });
  });

  test("drop() forgets an identity and stops its renewals", async () => {
    const m = newManager(realSigner(), clock);
    await m.get(productpage);
    expect(clock.pendingTimers).toBe(1);
    m.drop(productpage);
    expect(clock.pendingTimers).toBe(0);
    expect(m.status()).toEqual([]);
  });
});
