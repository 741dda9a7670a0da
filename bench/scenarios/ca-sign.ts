/**
 * CA signing under a restart storm (the issue's benchmark): the compiled control plane
 * (`dist/mesh control-plane`, its own process, SQLite store in a temp dir, loopback ports) with
 * 10,000 WorkloadEntries — each its own service account — bound round-robin to 100 nodes and one
 * node token per node (POST /api/v1/tokens); then, from a separate bun process
 * (bench/tools/ca-load.ts), 10,000 Istio CreateCertificate calls through the proxies' caClient,
 * 64 in flight over 4 HTTP/2 (h2c) connections: certificates per second, p50/p99 latency, errors,
 * the CA's CPU seconds and RSS.
 *
 * Measured in the same run, each in a process of its own while the control plane idles:
 *   - the node's cost (key generation, CSR building), which is not the CA's, split over one
 *     process per core (up to 2);
 *   - the baseline: the CA's own signing function (authority.ts signFor, a root from
 *     loadOrCreateRoot) in-process, no RPC and no auth, over the same CSRs with the same
 *     concurrency; and every stage of the RPC handler timed one call at a time (token verify,
 *     CSR parse and signature check, binding check, signFor) to show where the CA's time goes.
 * Ratios are against the in-process signFor; a separate row gives each throughput against the
 * issue's 1,000 certificates/s target.
 *
 * Bounds: every phase has a count and a deadline, and the whole scenario a budget (--budget, 150 s);
 * every process is started through ctx.scope (killed on every exit path); traffic is loopback only.
 *
 * --profile 1 runs the control plane from src/ under `bun --cpu-prof` and breaks its CPU during the
 * storm down by stage (bench/tools/cpu-profile.ts). BENCH_CA_SOURCE=<path to a main.ts> runs it from
 * that source tree instead of dist/mesh, to measure a candidate fix against the same load.
 */
import { mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { cpus } from "node:os";
import { join } from "node:path";
import { pollUntil } from "../lib/poll.ts";
import { startDaemon } from "../lib/process.ts";
import type { Row } from "../lib/rows.ts";
import { meshBinaryInfo, REPO_ROOT, startControlPlane, type ControlPlane } from "../tools/mesh-control-plane.ts";
import type { BaselineConfig, BaselineResult, GenConfig, GenResult, LoadConfig, RpcConfig, RpcResult } from "../tools/ca-load.ts";
import { applyBatches } from "../lib/apply-batches.ts";
import { caDocs, type CaShape } from "./ca-sign-shape.ts";
import type { Scenario, ScenarioContext } from "./scenario.ts";
import { summarizeProfile, type Category, type ProfileSummary } from "../tools/cpu-profile.ts";

const TARGET_CERTS_PER_SEC = 1000;
const TRUST_DOMAIN = "cluster.local";
const NAMESPACES = 10;
const SETUP_MAX_SEC = 60;
const GEN_MAX_SEC = 60;
const BASELINE_MAX_SEC = 45;
const UNLOADED_CALLS = 200;
const BASELINE_WARMUP = 200;
const CALL_TIMEOUT_MS = 15_000;
/** The load process's own deadline for the unloaded phase, and what it needs for the checks after the storm. */
const UNLOADED_MAX_SEC = 15;
const CHECKS_SEC = 10;
const CERT_TTL_SEC = 3600;
const VERIFY_SAMPLE = 200;
/** Extra seconds a load process gets past its own deadline (start-up, reading CSRs) before it is killed. */
const PROCESS_GRACE_SEC = 20;

const BASELINE = "signFor in-process";
const STAGES = "CA stages in-process";
const RPC = "CA over RPC";
const NODE = "node side";

/** Runs one ca-load.ts process to completion within deadlineSec, relaying its progress lines. */
async function runLoad<T>(ctx: ScenarioContext, name: string, config: LoadConfig, deadlineSec: number): Promise<T> {
  const cfgFile = join(ctx.tmpDir, `${name}.json`);
  writeFileSync(cfgFile, JSON.stringify(config));
  const logPath = join(ctx.tmpDir, `${name}.log`);
  const script = join(REPO_ROOT, "bench", "tools", "ca-load.ts");
  const daemon = await startDaemon(ctx.scope, name, [process.execPath, "run", script, cfgFile], { logPath, cwd: REPO_ROOT });
  let offset = 0;
  const relay = (): void => {
    let text = "";
    try {
      if (statSync(logPath).size <= offset) return;
      text = readFileSync(logPath, "utf8").slice(offset);
    } catch {
      return;
    }
    const end = text.lastIndexOf("\n");
    if (end < 0) return;
    offset += Buffer.byteLength(text.slice(0, end + 1));
    for (const line of text.slice(0, end).split("\n")) if (line.startsWith("progress: ")) ctx.log(line.slice(10));
  };
  const timer = setInterval(relay, 250);
  let deadlineTimer: ReturnType<typeof setTimeout> | undefined;
  const deadline = new Promise<"deadline">((resolve) => (deadlineTimer = setTimeout(() => resolve("deadline"), deadlineSec * 1000)));
  try {
    const outcome = await Promise.race([daemon.exited, deadline]);
    relay();
    if (outcome === "deadline") throw new Error(`${name} did not finish within ${deadlineSec} s: ${daemon.logTail()}`);
    if (outcome.code !== 0) throw new Error(`${name} failed (${outcome.code ?? outcome.signal}): ${daemon.logTail()}`);
    return JSON.parse(readFileSync(config.resultFile, "utf8")) as T;
  } finally {
    clearInterval(timer);
    clearTimeout(deadlineTimer);
    await daemon.stop();
  }
}

async function waitForPush(cp: ControlPlane, revision: string, timeoutMs: number): Promise<void> {
  await pollUntil(async () => (Number(await cp.pushVersion()) >= Number(revision) ? true : null), {
    timeoutMs,
    what: `the push pipeline to build revision ${revision} (the CA's binding index)`,
    giveUp: () => (cp.daemon.exit() ? `the control plane exited: ${cp.daemon.logTail()}` : null),
  });
}

async function mintTokens(cp: ControlPlane, nodes: number): Promise<Record<string, string>> {
  const tokens: Record<string, string> = {};
  const names = Array.from({ length: nodes }, (_, n) => `node-${n}`);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < names.length) {
      const node = names[next++] as string;
      const res = await fetch(`${cp.apiUrl}/api/v1/tokens`, {
        method: "POST",
        headers: { authorization: `Bearer ${cp.adminToken}`, "content-type": "application/json" },
        body: JSON.stringify({ node, ttl: "1h" }),
        signal: AbortSignal.timeout(10_000),
      });
      const text = await res.text();
      if (!res.ok) throw new Error(`POST /api/v1/tokens ${node}: HTTP ${res.status}: ${text.slice(0, 500)}`);
      tokens[node] = (JSON.parse(text) as { token: string }).token;
    }
  };
  await Promise.all(Array.from({ length: 8 }, worker));
  return tokens;
}

const inRepo = (frame: { url: string }, file: string): boolean => frame.url.endsWith(file);
const inPackage = (frame: { url: string }, ...names: string[]): boolean => names.some((n) => frame.url.includes(`/node_modules/${n}/`));

/**
 * Where the CA's CPU goes: the handler's stages by our own functions first (each owns the library
 * code it calls; works for the pkijs path and the DER fast path alike), then libraries by name.
 */
const PROFILE_TIERS: readonly (readonly Category[])[] = [
  [
    { name: "signFor › certificateToPem (pkijs path: re-parse + re-encode of the signed leaf)", test: (f) => f.functionName === "certificateToPem" && inRepo(f, "src/identity/x509/certificate.ts") },
    {
      name: "signFor (build + sign the leaf, PEM)",
      test: (f) => (f.functionName === "signFor" && inRepo(f, "src/controlplane/ca/authority.ts")) || f.functionName === "signLeafDer",
    },
    {
      name: "inspectCsr (CSR parse + signature check)",
      test: (f) => (f.functionName === "inspectCsr" && inRepo(f, "src/controlplane/ca/authority.ts")) || f.functionName === "parseCsrFast" || inRepo(f, "src/identity/spiffe.ts"),
    },
    { name: "token verify (jose ES256 + token record lookup)", test: (f) => inRepo(f, "src/controlplane/ca/node-tokens.ts") || inRepo(f, "src/controlplane/store/sqlite-store.ts") },
    { name: "handler rest (ca-service: logging, metrics, errors)", test: (f) => inRepo(f, "src/controlplane/ca/ca-service.ts") || inRepo(f, "src/telemetry/metrics.ts") || inRepo(f, "src/telemetry/log.ts") },
  ],
  [
    { name: "x509 libraries resumed after an await (pkijs, asn1js)", test: (f) => inPackage(f, "pkijs", "asn1js", "@peculiar/utils", "pvtsutils", "pvutils", "@noble/hashes") },
    { name: "token verify (jose ES256 + token record lookup)", test: (f) => inPackage(f, "jose") },
    { name: "Connect/gRPC + protobuf", test: (f) => inPackage(f, "@connectrpc/connect", "@connectrpc/connect-node", "@bufbuild/protobuf") || f.url.includes("/src/gen/") },
    { name: "HTTP/2 + sockets (node:http2, streams)", test: (f) => f.functionName === "H2FrameParser" || /http2|internal:streams|node:net|node:stream/.test(f.url) },
  ],
];

export const caSign: Scenario = {
  name: "ca-sign",
  description:
    "Restart storm against the control plane's CA (Istio CreateCertificate on the xDS port, h2c): dist/mesh control-plane with 10,000 WorkloadEntries (one service account each) on 100 nodes, one node token per node; 10,000 pre-generated CSRs signed through caClient from a separate bun process, 64 in flight over 4 HTTP/2 connections: certificates/s, p50/p99 latency, errors, CA CPU and RSS; against the CA's own signFor in-process (no RPC, no auth) and the 1,000/s target.",
  tools: [],
  usesPaths: false,
  options: [
    { name: "certs", description: "certificates signed in the storm (and WorkloadEntries applied)", default: 10_000, min: 100, max: 100_000 },
    { name: "concurrency", description: "CreateCertificate calls in flight (and the baseline's concurrency)", default: 64, min: 1, max: 1024 },
    { name: "connections", description: "HTTP/2 connections the calls are spread over", default: 4, min: 1, max: 64 },
    { name: "nodes", description: "nodes the workloads are bound to (one token each)", default: 100, min: 1, max: 10_000 },
    { name: "baseline-certs", description: "how many of the same CSRs the in-process baseline signs (capped at --certs; fewer if its deadline comes first)", default: 100_000, min: 100, max: 100_000 },
    { name: "storm-budget", description: "seconds after which the storm stops sending (unsent calls count as errors)", default: 80, min: 5, max: 600 },
    { name: "budget", description: "seconds the whole scenario may take, setup included; every phase's deadline fits inside it", default: 150, min: 30, max: 1800 },
    { name: "profile", description: "1: run the control plane from src/ under bun --cpu-prof and break its CPU in the storm down by stage", default: 0, min: 0, max: 1 },
  ],
  async run(ctx) {
    const o = ctx.options as Record<string, number>;
    const runBudgetSec = o.budget!;
    const runEnd = Date.now() + runBudgetSec * 1000;
    const remainingSec = (): number => Math.floor((runEnd - Date.now()) / 1000);
    const budget = (wanted: number, what: string): number => {
      const left = remainingSec() - 5;
      if (left < 5) throw new Error(`the ${runBudgetSec} s run budget (--budget) is spent before ${what}`);
      return Math.min(wanted, left);
    };
    /** A child's kill deadline: never past the run budget. */
    const killAfter = (sec: number): number => Math.max(1, Math.min(sec, remainingSec() - 2));
    const certs = o.certs!;
    const concurrency = o.concurrency!;
    const connections = o.connections!;
    const shape: CaShape = { workloads: certs, nodes: Math.min(o.nodes!, certs), namespaces: NAMESPACES, trustDomain: TRUST_DOMAIN };
    const baselineCerts = Math.min(o["baseline-certs"]!, certs);
    const profile = o.profile === 1;

    // 1. The control plane, its WorkloadEntries and node tokens.
    const profDir = join(ctx.tmpDir, "cpu-profile");
    if (profile) mkdirSync(profDir);
    // BENCH_CA_SOURCE=<…/main.ts>: run the control plane from that source tree (e.g. a patched copy, to measure a fix) instead of dist/mesh.
    const source = process.env.BENCH_CA_SOURCE || null;
    const main = source ?? join(REPO_ROOT, "src", "main.ts");
    const command = profile ? [process.execPath, "--cpu-prof", `--cpu-prof-dir=${profDir}`, main] : source ? [process.execPath, main] : null;
    // The baseline runs the CA code of src/; the storm must run the same code, or the ratios compare two versions.
    const binary = await meshBinaryInfo();
    if (!command && binary.newerSources.length > 0) {
      throw new Error(
        `dist/mesh (${binary.version}, built ${binary.builtAt}) is older than ${binary.newerSources.length} file(s) under src/, e.g. ${binary.newerSources[0]}: ` +
          "run `npm run compile` first (the in-process baseline runs src/, the storm dist/mesh: they must be the same code)",
      );
    }
    const cp = await startControlPlane(ctx.scope, ctx.tmpDir, command ? { command } : {});
    ctx.log(`control plane pid ${cp.pid}${command ? ` (${command.slice(1).join(" ")})` : ""}: API ${cp.apiUrl}, xDS ${cp.xdsUrl}`);
    const setupStarted = performance.now();
    let revision = "0";
    let requests = 0;
    for (const batch of applyBatches(caDocs(shape))) {
      revision = await cp.apply(batch.body);
      requests++;
    }
    await waitForPush(cp, revision, budget(SETUP_MAX_SEC, "the push") * 1000);
    const tokens = await mintTokens(cp, shape.nodes);
    const setupSec = (performance.now() - setupStarted) / 1000;
    ctx.log(`applied ${certs} WorkloadEntries in ${requests} requests and minted ${shape.nodes} node tokens in ${setupSec.toFixed(1)} s; RSS ${cp.memory().rssMiB.toFixed(0)} MiB`);

    // 2. The node's cost: keys and CSRs, one process per core (at most 2), the control plane idle.
    const genProcs = Math.max(1, Math.min(2, cpus().length, Math.floor(certs / 50)));
    const genDeadline = budget(GEN_MAX_SEC, "CSR generation");
    const gens = Array.from({ length: genProcs }, (_, k): GenConfig => ({
      mode: "gen",
      shape,
      from: Math.floor((k * certs) / genProcs),
      to: Math.floor(((k + 1) * certs) / genProcs),
      outFile: join(ctx.tmpDir, `csrs-${k}.json`),
      deadlineSec: genDeadline,
      resultFile: join(ctx.tmpDir, `gen-${k}.result.json`),
    }));
    ctx.log(`generating ${certs} key pairs and CSRs in ${genProcs} process(es)`);
    const genStarted = performance.now();
    const genResults = await Promise.all(gens.map((g, k) => runLoad<GenResult>(ctx, `ca-gen-${k}`, g, killAfter(genDeadline + PROCESS_GRACE_SEC))));
    const genWallSec = (performance.now() - genStarted) / 1000;
    const csrFiles = gens.map((g) => g.outFile);
    const keygenMs = genResults.reduce((s, r) => s + r.keygenMs, 0) / certs;
    const csrMs = genResults.reduce((s, r) => s + r.csrMs, 0) / certs;
    ctx.log(`CSRs ready in ${genWallSec.toFixed(1)} s: key ${keygenMs.toFixed(3)} ms, CSR ${csrMs.toFixed(3)} ms per workload`);

    // 3. The baseline: the CA's own code in-process, the control plane idle.
    const baselineDeadline = budget(BASELINE_MAX_SEC, "the baseline");
    const workDir = join(ctx.tmpDir, "baseline-ca");
    mkdirSync(workDir, { mode: 0o700 });
    const base = await runLoad<BaselineResult>(
      ctx,
      "ca-baseline",
      { mode: "baseline", shape, csrFiles, sample: baselineCerts, warmup: BASELINE_WARMUP, concurrency, workDir, deadlineSec: baselineDeadline, resultFile: join(ctx.tmpDir, "baseline.result.json") } satisfies BaselineConfig,
      killAfter(baselineDeadline + PROCESS_GRACE_SEC),
    );

    // 4. The storm over RPC.
    // The storm's own budget leaves room, inside the run budget, for the unloaded phase before it and for calls in flight and the checks after it.
    const rpcKill = killAfter(Infinity);
    const stormBudget = Math.min(o["storm-budget"]!, rpcKill - PROCESS_GRACE_SEC - UNLOADED_MAX_SEC - Math.ceil(CALL_TIMEOUT_MS / 1000) - CHECKS_SEC);
    if (stormBudget < 5) throw new Error(`the ${runBudgetSec} s run budget (--budget) is spent before the storm`);
    const rpcConfig: RpcConfig = {
      mode: "rpc",
      shape,
      server: cp.xdsUrl,
      csrFiles,
      tokens,
      count: certs,
      concurrency,
      connections,
      unloaded: UNLOADED_CALLS,
      unloadedMaxSec: UNLOADED_MAX_SEC,
      ttlSec: CERT_TTL_SEC,
      callTimeoutMs: CALL_TIMEOUT_MS,
      deadlineSec: stormBudget,
      verifySample: VERIFY_SAMPLE,
      controlPlanePid: cp.pid,
      resultFile: join(ctx.tmpDir, "rpc.result.json"),
    };
    const r = await runLoad<RpcResult>(ctx, "ca-rpc", rpcConfig, rpcKill);
    if (cp.daemon.exit()) throw new Error(`the control plane exited: ${cp.daemon.logTail()}`);
    const s = r.storm;
    const unsent = s.requested - s.sent;
    const errors = s.errors + unsent;
    ctx.log(`storm: ${s.ok} certificates in ${s.wallSec.toFixed(1)} s = ${s.certsPerSec.toFixed(0)}/s, p50 ${s.p50Ms.toFixed(1)} ms, p99 ${s.p99Ms.toFixed(1)} ms, ${errors} errors; CA CPU ${s.caCpuSec.toFixed(1)} s`);
    if (errors > 0) ctx.log(`warning: ${errors} failed or unsent calls: ${s.errorSamples.join("; ") || `${unsent} not sent before the storm's ${stormBudget} s budget`}`);
    if (r.checks.failures.length > 0) ctx.log(`warning: certificate checks failed: ${r.checks.failures.join("; ")}`);
    // Other work on this small machine takes cores from the CA and the load: say so next to the figures.
    const othersCores = s.othersCpuSec / s.wallSec;
    const busyNote = othersCores > 0.25 ? `Caution: other processes kept ${othersCores.toFixed(2)} of the ${cpus().length} cores busy during the storm, so the storm's figures understate the CA; rerun on a quiet machine.` : null;
    if (busyNote) ctx.log(`warning: ${busyNote}`);

    // 5. Optional: the profile the control plane writes when it exits, cut to the storm.
    let prof: ProfileSummary | null = null;
    if (profile) {
      await cp.daemon.stop();
      const file = await pollUntil(() => readdirSync(profDir).find((f) => f.endsWith(".cpuprofile")) ?? null, { timeoutMs: 15_000, what: "the control plane's CPU profile" });
      prof = summarizeProfile(join(profDir, file), s.startedAtMs, s.endedAtMs, PROFILE_TIERS, REPO_ROOT);
      ctx.log(`profile: ${prof.samples} samples in the storm; ${prof.categories.map((c) => `${c.name} ${(c.share * 100).toFixed(1)}%`).join(", ")}`);
    }
    const pct = (x: number): string => `${(x * 100).toFixed(1)}%`;

    const stageSum = base.stageMs.tokenVerify + base.stageMs.inspectCsr + base.stageMs.bindingCheck + base.stageMs.signFor;
    const stagesPerSec = 1000 / stageSum;
    const rpcCpuMs = s.ok > 0 ? (s.caCpuSec / s.ok) * 1000 : NaN;
    const rows: Row[] = [
      { path: BASELINE, metric: "throughput", value: base.signFor.certsPerSec, unit: "certs/s" },
      { path: STAGES, metric: "throughput", value: stagesPerSec, unit: "certs/s" },
      { path: RPC, metric: "throughput", value: s.certsPerSec, unit: "certs/s" },
      { path: BASELINE, metric: "throughput ÷ 1,000/s target", value: base.signFor.certsPerSec / TARGET_CERTS_PER_SEC, unit: "×" },
      { path: STAGES, metric: "throughput ÷ 1,000/s target", value: stagesPerSec / TARGET_CERTS_PER_SEC, unit: "×" },
      { path: RPC, metric: "throughput ÷ 1,000/s target", value: s.certsPerSec / TARGET_CERTS_PER_SEC, unit: "×" },
      { path: BASELINE, metric: "CPU per certificate", value: (base.signFor.cpuSec / base.signFor.count) * 1000, unit: "ms" },
      { path: STAGES, metric: "CPU per certificate", value: (base.stagePass.cpuSec / base.sample) * 1000, unit: "ms" },
      { path: RPC, metric: "CPU per certificate", value: rpcCpuMs, unit: "ms" },
      { path: RPC, metric: `latency p50 (${concurrency} in flight)`, value: s.p50Ms, unit: "ms" },
      { path: RPC, metric: `latency p99 (${concurrency} in flight)`, value: s.p99Ms, unit: "ms" },
      { path: RPC, metric: "latency p50 (1 in flight)", value: r.unloaded.p50Ms, unit: "ms" },
      { path: RPC, metric: "latency p99 (1 in flight)", value: r.unloaded.p99Ms, unit: "ms" },
      { path: RPC, metric: "errors (failed + unsent)", value: errors, unit: "calls" },
      { path: RPC, metric: "CA CPU during the storm", value: s.caCpuSec, unit: "s" },
      { path: RPC, metric: "CA RSS peak during the storm", value: s.caRssPeakMiB, unit: "MiB" },
      { path: STAGES, metric: "stage: token verify (JWT + store lookup)", value: base.stageMs.tokenVerify, unit: "ms" },
      { path: STAGES, metric: "stage: inspectCsr (parse + signature check)", value: base.stageMs.inspectCsr, unit: "ms" },
      { path: STAGES, metric: "stage: binding check", value: base.stageMs.bindingCheck, unit: "ms" },
      { path: STAGES, metric: "stage: signFor", value: base.stageMs.signFor, unit: "ms" },
      { path: NODE, metric: "node: key generation", value: keygenMs, unit: "ms" },
      { path: NODE, metric: "node: CSR build (createCsr)", value: csrMs, unit: "ms" },
      { path: NODE, metric: "node: key + CSR rate on one core", value: 1000 / (keygenMs + csrMs), unit: "CSRs/s" },
    ];
    const transportMs = rpcCpuMs - stageSum;
    const notes = [
      ...(busyNote ? [busyNote] : []),
      `Setup: ${certs} WorkloadEntries (service accounts sa-0…sa-${certs - 1} in ${NAMESPACES} namespaces, addresses 10.32.x.y — data only, never dialed) bound round-robin to ${shape.nodes} nodes, applied in ${requests} REST requests; ${shape.nodes} node tokens minted with POST /api/v1/tokens; ${setupSec.toFixed(1)} s in all. ` +
        `Node side: ${certs} ECDSA P-256 keys and CSRs (generateWorkloadKey, createCsr) in ${genProcs} process(es), ${genWallSec.toFixed(1)} s wall; the node rows give the mean time per workload of each stage (the node's cost, not the CA's) and the resulting rate of one core.`,
      `Storm: ${UNLOADED_CALLS} calls one at a time first (unloaded latency; also the CA's warm-up), then CSR 0…${certs - 1} once each through caClient (gRPC over h2c), ${concurrency} in flight over ${connections} connections, every call with its node's token, ${CERT_TTL_SEC} s lifetime: ${s.ok} signed, ${s.errors} failed, ${unsent} unsent, ${s.wallSec.toFixed(2)} s wall. ` +
        `Every chain was checked (2 certificates, the same root): ${r.checks.chainsChecked}; ${r.checks.leavesVerified} sampled leaves parsed and verified (URI SAN = the requested identity, the CSR's key, signed by the root); check failures: ${r.checks.failures.length}. ` +
        `CA CPU is the control plane's process group from /proc/<pid>/stat over the storm (${s.caCpuSec.toFixed(2)} s = ${(s.caCpuSec / s.wallSec).toFixed(2)} cores); the load process used ${s.loadCpuSec.toFixed(2)} s of CPU on the same ${cpus().length}-core machine, every other process ${s.othersCpuSec.toFixed(2)} s (/proc/stat; other work skews the figures). ` +
        `CA RSS: ${s.caRssBeforeMiB.toFixed(0)} MiB before the storm, ${s.caRssPeakMiB.toFixed(0)} MiB peak (VmRSS sampled every 50 ms), ${s.caRssAfterMiB.toFixed(0)} MiB after; VmHWM ${s.caHwmMiB.toFixed(0)} MiB over the process's life (includes the apply).`,
      `Baseline (${BASELINE}): in a separate bun process while the control plane idles, the CA's own code — a root from material.ts loadOrCreateRoot, authority.ts signFor — signs the first ${base.signFor.count} of the same CSRs (already inspected${base.stoppedByDeadline ? `; ${base.requested} were asked for, the baseline's ${BASELINE_MAX_SEC} s deadline came first` : ""}) with ${base.signFor.concurrency} in flight: no RPC, no token, no CSR parsing; ${base.signFor.wallSec.toFixed(2)} s wall, ${base.signFor.cpuSec.toFixed(2)} s CPU (every other process meanwhile: ${base.signFor.othersCpuSec.toFixed(2)} s). ` +
        `${STAGES}: the RPC handler's stages (ca-service.ts) on the same ${base.sample} CSRs one call at a time after ${BASELINE_WARMUP} warm-up calls — tokens.verify (the node token's ES256 JWT check and its record lookup), inspectCsr (CSR parse + self-signature check), the binding Set lookup, signFor — its throughput is 1000 / (sum of the stage means); ${base.stagePass.wallSec.toFixed(2)} s wall, ${base.stagePass.cpuSec.toFixed(2)} s CPU (every other process meanwhile: ${base.stagePass.othersCpuSec.toFixed(2)} s). ` +
        `The RPC path spent ${rpcCpuMs.toFixed(2)} ms of CA CPU per certificate (every thread of the process: GC and crypto work run beside the JS thread) against ${stageSum.toFixed(2)} ms of stages one at a time in-process; ` +
          (transportMs > 0.1
            ? `the difference, ${transportMs.toFixed(2)} ms per call, is roughly what HTTP/2 + gRPC + protobuf + logging/metrics add.`
            : `the difference (${transportMs.toFixed(2)} ms) is within run-to-run noise, so the transport's share is small next to the x509 work (--profile 1 breaks it down directly).`),
      `Ratios are against ${BASELINE} measured in the same run; "throughput ÷ 1,000/s target" ≥ 1 meets the issue's target.`,
      ...(s.errorSamples.length > 0 ? [`Errors: ${s.errorSamples.join("; ")}`] : []),
      ...(prof
        ? [
            `Where the CA's CPU goes (--profile 1: the control plane ran from ${source ?? "src/"} under \`bun --cpu-prof\`, so the figures above are the profiled run's; ${prof.samples} samples of ~${prof.intervalMs.toFixed(1)} ms taken during the storm, each billed to the innermost of our own functions on its stack, else to the library it is in): ` +
              prof.categories.map((c) => `${c.name} ${pct(c.share)}`).join("; ") +
              `. Top functions by self time: ${prof.hot.slice(0, 10).map((h) => `${h.fn} ${pct(h.share)}`).join("; ")}.`,
          ]
        : []),
    ];
    return {
      baseline: BASELINE,
      columns: [BASELINE, STAGES, RPC, NODE],
      rows,
      loadNote: `${certs} certificates${base.signFor.count < certs ? ` (baseline ${base.signFor.count})` : ""}, counts not timed by --duration`,
      ratioNote: `Ratios are against \`${BASELINE}\` (the CA's signFor in-process) measured in the same run.`,
      notes,
      params: {
        certs,
        concurrency,
        connections,
        nodes: shape.nodes,
        namespaces: NAMESPACES,
        trustDomain: TRUST_DOMAIN,
        baselineCerts: base.sample,
        unloadedCalls: UNLOADED_CALLS,
        baselineWarmup: BASELINE_WARMUP,
        certTtlSec: CERT_TTL_SEC,
        targetCertsPerSec: TARGET_CERTS_PER_SEC,
        stormBudgetSec: stormBudget,
        runBudgetSec,
        controlPlane: {
          command: command ? `bun ${command.slice(1).join(" ").replace(REPO_ROOT, "")} control-plane` : "dist/mesh control-plane",
          binary: binary.version,
          builtAt: binary.builtAt,
          ...(command ? {} : { staleAgainstSrc: false }),
          store: "sqlite",
          xds: "h2c loopback",
        },
        setup: { requests, seconds: setupSec },
        nodeSide: { processes: genProcs, wallSec: genWallSec, keygenMsPerCert: keygenMs, csrMsPerCert: csrMs, cpuSec: genResults.reduce((a, g) => a + g.cpuSec, 0) },
        baselineResult: base,
        rpcResult: r,
        ...(prof ? { profile: prof } : {}),
      },
    };
  },
};
