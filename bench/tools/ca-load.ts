/**
 * The ca-sign scenario's node side and its in-process baseline, in a process of their own (never
 * the control plane's):
 *   bun run bench/tools/ca-load.ts <config.json>
 * writes its measurements as JSON to config.resultFile; progress lines go to stderr. Modes:
 *
 *   gen       key pairs and CSRs for workloads [from, to) with the proxies' own code
 *             (generateWorkloadKey, createCsr): the node's cost, timed per stage, written to outFile.
 *   baseline  the CA's own code with no RPC and no network: a root from loadOrCreateRoot, node
 *             tokens on a private SQLite store. First every stage of CreateCertificate one call at a
 *             time (token verify, inspectCsr = CSR parse + signature check, binding check, signFor),
 *             then signFor alone over the same CSRs with the RPC load's concurrency: the baseline.
 *   rpc       CreateCertificate through caClient (the proxies' CA client, gRPC over h2c) against
 *             the control plane: a short unloaded phase (one call at a time), then the storm — every
 *             CSR once, `concurrency` calls in flight over `connections` HTTP/2 connections — with
 *             per-call latency, the control plane's CPU (/proc/<pid>/stat) and RSS (sampled).
 *
 * Every phase is bounded by a count and a deadline; calls have a timeout.
 */
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { groupCpuSeconds } from "../lib/cpu.ts";
import { isLoopback } from "../lib/net.ts";
import { DEFAULT_CA_SETTINGS, inspectCsr, signFor, type CaSettings } from "../../src/controlplane/ca/authority.ts";
import { loadOrCreateRoot } from "../../src/controlplane/ca/material.ts";
import { createNodeTokens } from "../../src/controlplane/ca/node-tokens.ts";
import { fileSecrets } from "../../src/controlplane/ca/secrets.ts";
import { createSqliteStore } from "../../src/controlplane/store/sqlite-store.ts";
import { caClient, type CertificateSigner } from "../../src/identity/ca-client.ts";
import { parseCertificatePem, summarize } from "../../src/identity/x509/certificate.ts";
import { createCsr, generateWorkloadKey } from "../../src/identity/x509/csr.ts";
import { parseCsrFast } from "../../src/identity/x509/fast-ca.ts";
import { bunRuntime } from "../../src/runtime/bun.ts";
import { namespaceOf, nodeOf, percentile, serviceAccountOf, spiffeIdOf, type CaShape } from "../scenarios/ca-sign-shape.ts";

export interface GenConfig {
  readonly mode: "gen";
  readonly shape: CaShape;
  readonly from: number;
  readonly to: number;
  /** A JSON array of PEM CSRs, workload `from` first. */
  readonly outFile: string;
  readonly deadlineSec: number;
  readonly resultFile: string;
}

export interface GenResult {
  readonly count: number;
  /** Summed wall time of each stage, ms (the calls run one at a time). */
  readonly keygenMs: number;
  readonly csrMs: number;
  readonly wallSec: number;
  readonly cpuSec: number;
}

export interface BaselineConfig {
  readonly mode: "baseline";
  readonly shape: CaShape;
  /** Gen outFiles, in workload order. */
  readonly csrFiles: readonly string[];
  /** How many of the CSRs (the first ones) to sign; fewer when a pass reaches its share of deadlineSec. */
  readonly sample: number;
  /** Calls through every stage before timing (JIT warm-up). */
  readonly warmup: number;
  readonly concurrency: number;
  /** A private directory for the root, the token key and the token store. */
  readonly workDir: string;
  readonly deadlineSec: number;
  readonly resultFile: string;
}

export interface StageTimes {
  readonly tokenVerify: number;
  readonly inspectCsr: number;
  readonly bindingCheck: number;
  readonly signFor: number;
}

export interface BaselineResult {
  /** CSRs through the stage pass (and signed again by the signFor pass). */
  readonly sample: number;
  readonly requested: number;
  /** A pass stopped at its deadline before `requested` CSRs. */
  readonly stoppedByDeadline: boolean;
  /** Mean ms per certificate of each stage, one call at a time. */
  readonly stageMs: StageTimes;
  /** The stage pass: wall and CPU seconds of this process, and CPU seconds of every other process on the machine meanwhile. */
  readonly stagePass: { readonly wallSec: number; readonly cpuSec: number; readonly othersCpuSec: number };
  /** signFor alone over the same (already inspected) CSRs, `concurrency` in flight. */
  readonly signFor: { readonly count: number; readonly concurrency: number; readonly wallSec: number; readonly cpuSec: number; readonly othersCpuSec: number; readonly certsPerSec: number };
}

export interface RpcConfig {
  readonly mode: "rpc";
  readonly shape: CaShape;
  /** http://127.0.0.1:<xds port> */
  readonly server: string;
  readonly csrFiles: readonly string[];
  /** node name → its node token. */
  readonly tokens: Readonly<Record<string, string>>;
  /** Certificates in the storm (CSRs 0…count-1, each once). */
  readonly count: number;
  readonly concurrency: number;
  readonly connections: number;
  /** Calls one at a time before the storm (unloaded latency; also warms the CA up), for at most unloadedMaxSec. */
  readonly unloaded: number;
  readonly unloadedMaxSec: number;
  /** Requested lifetime, seconds. */
  readonly ttlSec: number;
  readonly callTimeoutMs: number;
  /** The storm stops dispatching after this long. */
  readonly deadlineSec: number;
  /** Leaves parsed and checked after the storm (URI SAN, public key, signature by the chain's root). */
  readonly verifySample: number;
  readonly controlPlanePid: number;
  readonly resultFile: string;
}

export interface RpcResult {
  readonly unloaded: { readonly calls: number; readonly errors: number; readonly p50Ms: number; readonly p99Ms: number };
  readonly storm: {
    readonly requested: number;
    readonly sent: number;
    readonly ok: number;
    readonly errors: number;
    readonly errorSamples: readonly string[];
    readonly stoppedByDeadline: boolean;
    readonly wallSec: number;
    /** Unix epoch ms at the storm's start and end (to cut a CPU profile to it). */
    readonly startedAtMs: number;
    readonly endedAtMs: number;
    readonly certsPerSec: number;
    readonly p50Ms: number;
    readonly p90Ms: number;
    readonly p99Ms: number;
    readonly maxMs: number;
    readonly caCpuSec: number;
    readonly loadCpuSec: number;
    /** CPU seconds every other process on the machine used during the storm (what skews the figures). */
    readonly othersCpuSec: number;
    readonly caRssBeforeMiB: number;
    readonly caRssPeakMiB: number;
    readonly caRssAfterMiB: number;
    readonly caHwmMiB: number;
  };
  readonly checks: { readonly chainsChecked: number; readonly leavesVerified: number; readonly failures: readonly string[] };
}

export type LoadConfig = GenConfig | BaselineConfig | RpcConfig;

const progress = (message: string): void => void process.stderr.write(`progress: ${message}\n`);
const cpuSec = (): number => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
};
const seconds = (since: number): number => (performance.now() - since) / 1000;

function readCsrs(files: readonly string[]): string[] {
  return files.flatMap((f) => JSON.parse(readFileSync(f, "utf8")) as string[]);
}

/** Run fn(0…n-1) with at most `concurrency` in flight; stops dispatching at the deadline. Returns how many were started. */
async function pool(n: number, concurrency: number, deadline: number, fn: (i: number) => Promise<void>): Promise<number> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < n && performance.now() < deadline) await fn(next++);
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, n) }, worker));
  return next;
}

/** CPU seconds the whole machine has been busy (every core, every process), from /proc/stat. */
function machineBusySec(): number {
  try {
    const f = (readFileSync("/proc/stat", "utf8").split("\n")[0] ?? "").trim().split(/\s+/).slice(1).map(Number);
    const [user = 0, nice = 0, system = 0, , , irq = 0, softirq = 0, steal = 0] = f;
    return (user + nice + system + irq + softirq + steal) / 100; // USER_HZ
  } catch {
    return NaN;
  }
}

function statusMiB(pid: number, field: string): number {
  try {
    const m = new RegExp(`^${field}:\\s+(\\d+) kB`, "m").exec(readFileSync(`/proc/${pid}/status`, "utf8"));
    return m ? Number(m[1]) / 1024 : NaN;
  } catch {
    return NaN;
  }
}

async function gen(c: GenConfig): Promise<GenResult> {
  const deadline = performance.now() + c.deadlineSec * 1000;
  const started = performance.now();
  const cpu0 = cpuSec();
  const csrs: string[] = [];
  let keygenMs = 0;
  let csrMs = 0;
  for (let i = c.from; i < c.to; i++) {
    if (performance.now() > deadline) throw new Error(`CSR generation passed its ${c.deadlineSec} s deadline after ${csrs.length} CSRs`);
    const t0 = performance.now();
    const keys = await generateWorkloadKey();
    const t1 = performance.now();
    csrs.push(await createCsr(keys, spiffeIdOf(c.shape, i)));
    keygenMs += t1 - t0;
    csrMs += performance.now() - t1;
  }
  writeFileSync(c.outFile, JSON.stringify(csrs));
  return { count: csrs.length, keygenMs, csrMs, wallSec: seconds(started), cpuSec: cpuSec() - cpu0 };
}

async function baseline(c: BaselineConfig): Promise<BaselineResult> {
  const deadline = performance.now() + c.deadlineSec * 1000;
  const overdue = (what: string) => {
    if (performance.now() > deadline) throw new Error(`baseline passed its ${c.deadlineSec} s deadline during ${what}`);
  };
  const csrs = readCsrs(c.csrFiles).slice(0, c.sample);
  if (csrs.length < c.sample) throw new Error(`only ${csrs.length} CSRs for a sample of ${c.sample}`);
  const settings: CaSettings = { ...DEFAULT_CA_SETTINGS, trustDomain: c.shape.trustDomain };
  // The CA's own material and token code, as the control plane sets them up (server.ts).
  const material = await loadOrCreateRoot(fileSecrets(c.workDir), c.shape.trustDomain, new Date());
  const store = createSqliteStore({ db: bunRuntime.openDatabase(join(c.workDir, "store.db")) });
  try {
    const tokens = await createNodeTokens({ secrets: fileSecrets(c.workDir), store, issuer: `mesh://${c.shape.trustDomain}` });
    const tokenOf = new Map<string, string>();
    for (let n = 0; n < c.shape.nodes; n++) tokenOf.set(`node-${n}`, (await tokens.mint(`node-${n}`, 3600_000)).token);
    // The hub's binding index: a Set keyed by node, namespace and service account (push-hub.ts isBound).
    const bindings = new Set<string>();
    for (let i = 0; i < c.shape.workloads; i++) bindings.add(`${nodeOf(c.shape, i)}\u0000${namespaceOf(c.shape, i)}\u0000${serviceAccountOf(i)}`);

    const stage = { tokenVerify: 0, inspectCsr: 0, bindingCheck: 0, signFor: 0 };
    const inspected: Awaited<ReturnType<typeof inspectCsr>>[] = [];
    const once = async (i: number, timed: boolean): Promise<void> => {
      const t0 = performance.now();
      const verified = await tokens.verify(tokenOf.get(nodeOf(c.shape, i)) as string);
      const node = "node" in verified ? verified.node : "";
      const t1 = performance.now();
      const x = await inspectCsr(csrs[i] as string, settings);
      const t2 = performance.now();
      const bound = x.subject.kind === "workload" && bindings.has(`${node}\u0000${x.subject.identity.namespace}\u0000${x.subject.identity.serviceAccount}`);
      const t3 = performance.now();
      if (!bound) throw new Error(`workload ${i} is not bound to ${node}`);
      const issued = await signFor(material, settings, x, 3600_000, new Date());
      const t4 = performance.now();
      if (issued.chain.length !== 2 || issued.uri !== spiffeIdOf(c.shape, i)) throw new Error(`workload ${i}: unexpected chain`);
      if (timed) {
        stage.tokenVerify += t1 - t0;
        stage.inspectCsr += t2 - t1;
        stage.bindingCheck += t3 - t2;
        stage.signFor += t4 - t3;
        inspected[i] = x;
      }
    };
    for (let i = 0; i < Math.min(c.warmup, csrs.length); i++) await once(i, false);
    overdue("warm-up");
    progress(`baseline: warmed up with ${Math.min(c.warmup, csrs.length)} calls; timing every stage over ${csrs.length} CSRs`);
    // The stage pass may use 70% of the time left; it stops early (with what it did) rather than fail.
    let started = performance.now();
    const stageDeadline = started + (deadline - started) * 0.7;
    let cpu0 = cpuSec();
    let busy0 = machineBusySec();
    let n = 0;
    while (n < csrs.length && performance.now() < stageDeadline) await once(n++, true);
    if (n === 0) throw new Error("baseline: no time left for the stage pass");
    const stageCpu = cpuSec() - cpu0;
    const stagePass = { wallSec: seconds(started), cpuSec: stageCpu, othersCpuSec: Math.max(0, machineBusySec() - busy0 - stageCpu) };
    const stageMs: StageTimes = { tokenVerify: stage.tokenVerify / n, inspectCsr: stage.inspectCsr / n, bindingCheck: stage.bindingCheck / n, signFor: stage.signFor / n };
    progress(`baseline: stages ${JSON.stringify(Object.fromEntries(Object.entries(stageMs).map(([k, v]) => [k, Number(v.toFixed(3))])))} ms per certificate`);

    // The baseline proper: the CA's signing function alone, as many in flight as the RPC load.
    started = performance.now();
    cpu0 = cpuSec();
    busy0 = machineBusySec();
    let signed = 0;
    const done = await pool(n, c.concurrency, deadline, async (i) => {
      const issued = await signFor(material, settings, inspected[i] as (typeof inspected)[number], 3600_000, new Date());
      if (issued.chain.length === 2) signed++;
    });
    const wallSec = seconds(started);
    if (signed < done) throw new Error(`baseline signFor: ${done - signed} unexpected chains`);
    const signCpu = cpuSec() - cpu0;
    const signForResult = { count: signed, concurrency: c.concurrency, wallSec, cpuSec: signCpu, othersCpuSec: Math.max(0, machineBusySec() - busy0 - signCpu), certsPerSec: signed / wallSec };
    progress(`baseline: signFor ${signForResult.certsPerSec.toFixed(0)} certs/s (${signed} in ${wallSec.toFixed(2)} s, ${c.concurrency} in flight)`);
    return { sample: n, requested: c.sample, stoppedByDeadline: n < c.sample || signed < n, stageMs, stagePass, signFor: signForResult };
  } finally {
    await store.close();
  }
}

async function rpc(c: RpcConfig): Promise<RpcResult> {
  const url = new URL(c.server);
  if (!isLoopback(url.hostname.replace(/^\[|\]$/g, ""))) throw new Error(`refusing non-loopback CA ${c.server}`);
  const csrs = readCsrs(c.csrFiles);
  if (csrs.length < c.count) throw new Error(`only ${csrs.length} CSRs for ${c.count} certificates`);
  // caClient reads its token function synchronously when sign() is called, so one client per
  // connection can carry every node's token: set `current`, then call sign().
  let current = "";
  const signers: CertificateSigner[] = Array.from({ length: c.connections }, () => caClient({ server: c.server, token: () => current, timeoutMs: c.callTimeoutMs }));
  const call = (i: number, csr: string): Promise<string[]> => {
    current = c.tokens[nodeOf(c.shape, i)] ?? "";
    return (signers[i % c.connections] as CertificateSigner).sign(csr, c.ttlSec);
  };

  // Unloaded: one call at a time (opens every connection, warms the CA up; not in the storm's figures).
  const unloadedMs: number[] = [];
  let unloadedErrors = 0;
  const unloadedDeadline = performance.now() + c.unloadedMaxSec * 1000;
  for (let i = 0; i < c.unloaded && performance.now() < unloadedDeadline; i++) {
    const t0 = performance.now();
    try {
      await call(i, csrs[i % csrs.length] as string);
      unloadedMs.push(performance.now() - t0);
    } catch {
      unloadedErrors++;
    }
  }
  progress(`rpc: unloaded ${unloadedMs.length} calls, p50 ${percentile(unloadedMs, 50).toFixed(2)} ms, ${unloadedErrors} errors; storm of ${c.count}, ${c.concurrency} in flight over ${c.connections} connections`);

  // The storm.
  const latency = new Float64Array(c.count).fill(NaN);
  let root: string | undefined;
  const sampleEvery = Math.max(1, Math.floor(c.count / Math.max(1, c.verifySample)));
  const kept = new Map<number, string>();
  const failures: string[] = [];
  const errorSamples = new Map<string, number>();
  let ok = 0;
  let errors = 0;
  let chainsChecked = 0;
  const rss = { before: statusMiB(c.controlPlanePid, "VmRSS"), peak: 0 };
  const sampler = setInterval(() => {
    const v = statusMiB(c.controlPlanePid, "VmRSS");
    if (v > rss.peak) rss.peak = v;
  }, 50);
  const deadline = performance.now() + c.deadlineSec * 1000;
  const caCpu0 = groupCpuSeconds([c.controlPlanePid]);
  const busy0 = machineBusySec();
  const cpu0 = cpuSec();
  const started = performance.now();
  const startedAtMs = Date.now();
  let sent: number;
  try {
    sent = await pool(c.count, c.concurrency, deadline, async (i) => {
      const t0 = performance.now();
      try {
        const chain = await call(i, csrs[i] as string);
        latency[i] = performance.now() - t0;
        ok++;
        chainsChecked++;
        root ??= chain[1];
        if (chain.length !== 2 || chain[1] !== root || !chain[0]?.startsWith("-----BEGIN CERTIFICATE-----")) {
          if (failures.length < 10) failures.push(`workload ${i}: chain of ${chain.length}, root ${chain[1] === root ? "same" : "different"}`);
        }
        if (i % sampleEvery === 0) kept.set(i, chain[0] as string);
      } catch (err) {
        errors++;
        const message = err instanceof Error ? err.message : String(err);
        errorSamples.set(message, (errorSamples.get(message) ?? 0) + 1);
      }
      if ((ok + errors) % 1000 === 0) progress(`rpc: ${ok + errors} of ${c.count} done (${errors} errors), ${seconds(started).toFixed(1)} s`);
    });
  } finally {
    clearInterval(sampler);
  }
  const wallSec = seconds(started);
  const endedAtMs = Date.now();
  const caCpuSec = groupCpuSeconds([c.controlPlanePid]) - caCpu0;
  const loadCpuSec = cpuSec() - cpu0;
  const othersCpuSec = Math.max(0, machineBusySec() - busy0 - caCpuSec - loadCpuSec);
  const done = [...latency].filter((v) => !Number.isNaN(v));

  // Checks after the clock stopped: sampled leaves name the right identity, carry the CSR's key, and verify against the root.
  let leavesVerified = 0;
  if (root) {
    const rootCert = parseCertificatePem(root);
    for (const [i, pem] of kept) {
      const leaf = parseCertificatePem(pem);
      const uris = summarize(leaf).uris;
      const csr = parseCsrFast(csrs[i] as string);
      const sameKey = Buffer.from(leaf.subjectPublicKeyInfo.toSchema().toBER(false)).equals(Buffer.from(csr.spki));
      const signed = await leaf.verify(rootCert);
      if (uris.length !== 1 || uris[0] !== spiffeIdOf(c.shape, i) || !sameKey || !signed) {
        if (failures.length < 10) failures.push(`workload ${i}: leaf names ${uris.join(",")}, same key ${sameKey}, signed by root ${signed}`);
      } else leavesVerified++;
    }
  }
  return {
    unloaded: { calls: unloadedMs.length, errors: unloadedErrors, p50Ms: percentile(unloadedMs, 50), p99Ms: percentile(unloadedMs, 99) },
    storm: {
      requested: c.count,
      sent,
      ok,
      errors,
      errorSamples: [...errorSamples].slice(0, 5).map(([m, n]) => `${n}× ${m}`),
      stoppedByDeadline: sent < c.count,
      wallSec,
      startedAtMs,
      endedAtMs,
      certsPerSec: ok / wallSec,
      p50Ms: percentile(done, 50),
      p90Ms: percentile(done, 90),
      p99Ms: percentile(done, 99),
      maxMs: done.length > 0 ? Math.max(...done) : NaN,
      caCpuSec,
      loadCpuSec,
      othersCpuSec,
      caRssBeforeMiB: rss.before,
      caRssPeakMiB: Math.max(rss.peak, rss.before),
      caRssAfterMiB: statusMiB(c.controlPlanePid, "VmRSS"),
      caHwmMiB: statusMiB(c.controlPlanePid, "VmHWM"),
    },
    checks: { chainsChecked, leavesVerified, failures },
  };
}

async function main(configFile: string | undefined): Promise<void> {
  if (!configFile) throw new Error("usage: bun run bench/tools/ca-load.ts <config.json>");
  const config = JSON.parse(readFileSync(configFile, "utf8")) as LoadConfig;
  const result = config.mode === "gen" ? await gen(config) : config.mode === "baseline" ? await baseline(config) : await rpc(config);
  writeFileSync(config.resultFile, JSON.stringify(result));
}

try {
  await main(process.argv[2]);
  process.exit(0); // HTTP/2 sessions and timers would otherwise keep the process alive
} catch (err) {
  process.stderr.write(`ca-load: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
}
