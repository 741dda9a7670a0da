/**
 * The xds-scale scenario's load: many xDS clients (the proxies' own XdsClient, role ztunnel) in
 * one process, separate from the control plane. Run by the scenario as
 *   bun run bench/tools/xds-clients.ts <config.json>
 * and writes its measurements to config.resultFile. Phases, each bounded by a deadline:
 *   1. all clients start at once (nodes node-0…node-<n-1>); per client: time to synced() and to
 *      holding every resource it should (the initial push may span several responses);
 *   2. solo: a fresh client (node-0, no cache) syncs alone while the others stay connected;
 *   3. changes: one workload at a time is changed through the REST API; per change, the time from
 *      the API call's return until every client has applied the new version (the XdsClient
 *      applies a response, calls its onChange listeners and queues the ACK in the same turn).
 * CPU seconds of this process and of the control plane are read at each phase boundary.
 * Progress lines go to stderr ("progress: …"), which the scenario relays.
 */
import { readFileSync, writeFileSync } from "node:fs";
import { groupCpuSeconds } from "../lib/cpu.ts";
import { isLoopback } from "../lib/net.ts";
import { createLogControl } from "../../src/telemetry/log.ts";
import { XdsClient, type ConfigChange } from "../../src/xds/client.ts";
import { AUTHORIZATION_TYPE, SERVICE_TYPE, WORKLOAD_TYPE } from "../../src/xds/type-urls.ts";
import type { WorkloadView } from "../../src/state/view.ts";
import { DECODERS } from "../../src/xds/wire.ts";
import { CHANGE_LABEL, expectedPerNode, nodeName, workloadDoc, workloadResourceName, type MeshShape } from "../scenarios/xds-scale-config.ts";

export interface ClientsConfig {
  readonly xdsUrl: string;
  readonly apiUrl: string;
  readonly adminToken: string;
  readonly controlPlanePid: number;
  readonly shape: MeshShape;
  readonly clients: number;
  readonly changes: number;
  /** Stop making changes after this long even if fewer than `changes` were made. */
  readonly changesBudgetSec: number;
  readonly soloRepeats: number;
  readonly syncTimeoutSec: number;
  readonly changeTimeoutSec: number;
  readonly resultFile: string;
}

export interface PhaseCpu {
  readonly wallSec: number;
  readonly controlPlaneCpuSec: number;
  readonly clientsCpuSec: number;
}

export interface ClientsResult {
  readonly resourcesPerClient: { readonly workloads: number; readonly services: number; readonly authorizations: number }[];
  /** Per client, ms from start() to synced() resolving (first response of every type). */
  readonly syncedMs: number[];
  /** Per client, how many workloads it held when synced() resolved. */
  readonly workloadsAtSynced: number[];
  /** Per client, ms from start() to holding every expected resource. */
  readonly completeMs: number[];
  readonly initialPhase: PhaseCpu;
  /** Per repeat, ms for a lone fresh client to hold everything. */
  readonly soloCompleteMs: number[];
  readonly soloPhase: PhaseCpu;
  readonly changes: {
    readonly workload: string;
    readonly apiMs: number;
    /** From the API call's return until the first and until the last client applied it. */
    readonly firstMs: number;
    readonly allMs: number;
    /** Per client, ms from the API call's return (negative: applied before the call returned). */
    readonly perClientMs: number[];
  }[];
  readonly changesPhase: PhaseCpu;
  /** xDS responses the control plane sent during the changes phase (pilot_xds_pushes, all types). */
  readonly pushesDuringChanges: number;
  /** Pushes the control plane built during the changes phase, and their mean time from the change to the built push. */
  readonly pushBuilds: number;
  readonly pushBuiltAvgMs: number;
  readonly changesStoppedBy: "count" | "budget";
  /** Peak resident set of this process (VmHWM), MiB. */
  readonly clientsPeakRssMiB: number;
}

const now = () => performance.now();
const progress = (message: string) => void process.stderr.write(`progress: ${message}\n`);

function cpuOf(pid: number): number {
  return groupCpuSeconds([pid]);
}

function statusKiB(pid: number | "self", field: string): number {
  const m = new RegExp(`^${field}:\\s+(\\d+) kB`, "m").exec(readFileSync(`/proc/${pid}/status`, "utf8"));
  return m ? Number(m[1]) : NaN;
}

function phaseMeter(cpPid: number): () => PhaseCpu {
  const t0 = now();
  const cp0 = cpuOf(cpPid);
  const self0 = cpuOf(process.pid);
  return () => ({ wallSec: (now() - t0) / 1000, controlPlaneCpuSec: cpuOf(cpPid) - cp0, clientsCpuSec: cpuOf(process.pid) - self0 });
}

function loopbackUrl(url: string): string {
  const host = new URL(url).hostname.replace(/^\[|\]$/g, "");
  if (!isLoopback(host)) throw new Error(`refusing non-loopback URL ${url}`);
  return url;
}

const logs = createLogControl({ format: "text", spec: "warn" });

/**
 * The types the benchmark is about. A ztunnel may subscribe to more (ZTUNNEL_TYPES); these three
 * carry the workloads, services and policies, and naming them keeps the clients working against
 * a control plane built from a slightly different revision than this source.
 */
const BENCH_TYPES = [WORKLOAD_TYPE, SERVICE_TYPE, AUTHORIZATION_TYPE] as const;
const decoders = Object.fromEntries(BENCH_TYPES.map((t) => [t, DECODERS[t]]));

/** One XdsClient and what it has received, counted from its onChange events. */
class Probe {
  readonly client: XdsClient;
  readonly node: string;
  readonly counts = new Map<string, number>([[WORKLOAD_TYPE, 0], [SERVICE_TYPE, 0], [AUTHORIZATION_TYPE, 0]]);
  readonly expected: ReturnType<typeof expectedPerNode>;
  startedAt = 0;
  completeAt = 0;
  #onComplete: (() => void) | undefined;
  /** Called for every workload change; set by the changes phase. */
  onWorkloads: ((change: ConfigChange, at: number) => void) | undefined;

  constructor(cfg: ClientsConfig, node: number, token: string) {
    this.expected = expectedPerNode(cfg.shape, node);
    this.node = nodeName(node);
    this.client = new XdsClient({
      server: cfg.xdsUrl,
      node: nodeName(node),
      role: "ztunnel",
      token: () => token,
      decoders,
      log: logs.logger(`xds-client.${nodeName(node)}`),
      backoff: { initialMs: 100, maxMs: 1000 },
      userAgent: "mesh-bench",
    });
    this.client.onChange((change) => {
      const at = now();
      this.counts.set(change.typeUrl, (this.counts.get(change.typeUrl) ?? 0) + change.updated.length - change.removed.length);
      if (this.completeAt === 0 && this.#isComplete()) {
        this.completeAt = at;
        this.#onComplete?.();
      }
      if (change.typeUrl === WORKLOAD_TYPE) this.onWorkloads?.(change, at);
    });
  }

  #isComplete(): boolean {
    return (
      (this.counts.get(WORKLOAD_TYPE) ?? 0) >= this.expected.workloads &&
      (this.counts.get(SERVICE_TYPE) ?? 0) >= this.expected.services &&
      (this.counts.get(AUTHORIZATION_TYPE) ?? 0) >= this.expected.authorizations
    );
  }

  start(): void {
    this.startedAt = now();
    this.client.start();
  }

  /** Resolves with [ms to synced(), workloads held then, ms to complete]. */
  async measure(timeoutMs: number): Promise<[number, number, number]> {
    await this.client.synced(timeoutMs);
    const syncedMs = now() - this.startedAt;
    const atSynced = this.counts.get(WORKLOAD_TYPE) ?? 0;
    if (this.completeAt === 0) {
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`${this.node}: not complete after ${timeoutMs} ms (${JSON.stringify([...this.counts.values()])} of ${JSON.stringify(this.expected)})`)), timeoutMs);
        this.#onComplete = () => {
          clearTimeout(timer);
          resolve();
        };
      });
    }
    return [syncedMs, atSynced, this.completeAt - this.startedAt];
  }

  /** Check the counts against the client's actual state (once, outside any timed window). */
  held(): { workloads: number; services: number; authorizations: number } {
    return {
      workloads: this.client.resources(WORKLOAD_TYPE).size,
      services: this.client.resources(SERVICE_TYPE).size,
      authorizations: this.client.resources(AUTHORIZATION_TYPE).size,
    };
  }
}

async function applyWorkload(cfg: ClientsConfig, index: number, change: number): Promise<void> {
  const res = await fetch(`${cfg.apiUrl}/api/v1/apply`, {
    method: "POST",
    headers: { authorization: `Bearer ${cfg.adminToken}`, "content-type": "application/json" },
    body: JSON.stringify(workloadDoc(cfg.shape, index, change)),
    signal: AbortSignal.timeout(10_000),
  });
  const text = await res.text();
  if (!res.ok) throw new Error(`apply of workload ${index} failed: HTTP ${res.status} ${text.slice(0, 500)}`);
}

interface CpCounters {
  /** pilot_xds_pushes summed over types: xDS responses sent. */
  readonly pushes: number;
  /** pilot_proxy_convergence_time: seconds from a config change to its push being built (debounce + rebuild). */
  readonly convergenceSum: number;
  readonly convergenceCount: number;
}

/** The control plane's counters this benchmark reads (GET /metrics needs no token). */
async function cpCounters(cfg: ClientsConfig): Promise<CpCounters> {
  const res = await fetch(`${cfg.apiUrl}/metrics`, { signal: AbortSignal.timeout(10_000) });
  const text = await res.text();
  if (!res.ok) throw new Error(`GET /metrics: HTTP ${res.status}`);
  let pushes = 0;
  let convergenceSum = 0;
  let convergenceCount = 0;
  for (const line of text.split("\n")) {
    const value = Number(line.slice(line.lastIndexOf(" ") + 1));
    if (line.startsWith("pilot_xds_pushes{")) pushes += value;
    else if (/^pilot_proxy_convergence_time_sum[ {]/.test(line)) convergenceSum += value;
    else if (/^pilot_proxy_convergence_time_count[ {]/.test(line)) convergenceCount += value;
  }
  return { pushes, convergenceSum, convergenceCount };
}

/** One node token per node, minted through the REST API (a ztunnel's credential for xDS and the CA). */
async function mintTokens(cfg: ClientsConfig): Promise<string[]> {
  const tokens: string[] = [];
  for (let n = 0; n < cfg.shape.nodes; n++) {
    const res = await fetch(`${cfg.apiUrl}/api/v1/tokens`, {
      method: "POST",
      headers: { authorization: `Bearer ${cfg.adminToken}`, "content-type": "application/json" },
      body: JSON.stringify({ node: nodeName(n), ttl: "2h" }),
      signal: AbortSignal.timeout(10_000),
    });
    if (!res.ok) throw new Error(`minting a token for ${nodeName(n)}: HTTP ${res.status} ${await res.text()}`);
    tokens.push(((await res.json()) as { token: string }).token);
  }
  return tokens;
}

async function run(cfg: ClientsConfig): Promise<ClientsResult> {
  loopbackUrl(cfg.xdsUrl);
  loopbackUrl(cfg.apiUrl);
  const tokens = await mintTokens(cfg);
  const probe = (i: number) => new Probe(cfg, i % cfg.shape.nodes, tokens[i % cfg.shape.nodes] as string);
  const probes = Array.from({ length: cfg.clients }, (_, i) => probe(i));
  const stopAll = async (list: readonly Probe[]) => Promise.all(list.map((p) => p.client.stop()));
  try {
    // 1. Everyone at once.
    progress(`starting ${cfg.clients} clients`);
    let meter = phaseMeter(cfg.controlPlanePid);
    for (const p of probes) p.start();
    const measured = await Promise.all(probes.map((p) => p.measure(cfg.syncTimeoutSec * 1000)));
    const initialPhase = meter();
    progress(`all ${cfg.clients} clients hold every resource after ${(initialPhase.wallSec * 1000).toFixed(0)} ms`);
    const resourcesPerClient = probes.map((p) => p.held());
    probes.forEach((p, i) => {
      const got = resourcesPerClient[i];
      if (JSON.stringify(got) !== JSON.stringify(p.expected)) throw new Error(`client ${i} holds ${JSON.stringify(got)}, expected ${JSON.stringify(p.expected)}`);
    });

    // 2. One fresh client alone (the others connected and idle).
    meter = phaseMeter(cfg.controlPlanePid);
    const soloCompleteMs: number[] = [];
    for (let r = 0; r < cfg.soloRepeats; r++) {
      const solo = probe(0);
      solo.start();
      try {
        const [, , complete] = await solo.measure(cfg.syncTimeoutSec * 1000);
        soloCompleteMs.push(complete);
      } finally {
        await solo.client.stop();
      }
    }
    const soloPhase = meter();
    progress(`solo sync: ${soloCompleteMs.map((m) => m.toFixed(0)).join(", ")} ms`);

    // 3. One workload change at a time.
    const countersBefore = await cpCounters(cfg);
    meter = phaseMeter(cfg.controlPlanePid);
    const changes: ClientsResult["changes"][number][] = [];
    const budgetEnd = now() + cfg.changesBudgetSec * 1000;
    let stoppedBy: ClientsResult["changesStoppedBy"] = "count";
    for (let k = 0; k < cfg.changes; k++) {
      if (now() >= budgetEnd) {
        stoppedBy = "budget";
        break;
      }
      const index = (k * 7919 + 13) % cfg.shape.workloads;
      const name = workloadResourceName(cfg.shape, index);
      const seen = new Array<number>(probes.length).fill(NaN);
      let remaining = probes.length;
      let done: () => void = () => {};
      const allSeen = new Promise<void>((resolve) => (done = resolve));
      probes.forEach((p, i) => {
        p.onWorkloads = (change, at) => {
          if (Number.isNaN(seen[i] as number) && change.updated.includes(name)) {
            seen[i] = at;
            if (--remaining === 0) done();
          }
        };
      });
      const sent = now();
      await applyWorkload(cfg, index, k + 1);
      const returned = now();
      let timer: ReturnType<typeof setTimeout> | undefined;
      const timedOut = new Promise<"timeout">((resolve) => (timer = setTimeout(() => resolve("timeout"), cfg.changeTimeoutSec * 1000)));
      const outcome = await Promise.race([allSeen, timedOut]);
      clearTimeout(timer);
      for (const p of probes) p.onWorkloads = undefined;
      if (outcome === "timeout") throw new Error(`change ${k + 1} (${name}): ${remaining} of ${probes.length} clients had not applied it after ${cfg.changeTimeoutSec} s`);
      const perClientMs = seen.map((t) => t - returned);
      changes.push({ workload: name, apiMs: returned - sent, firstMs: Math.min(...perClientMs), allMs: Math.max(...perClientMs), perClientMs });
      const value = probes[0]?.client.resources<WorkloadView>(WORKLOAD_TYPE).get(name);
      if (value?.labels[CHANGE_LABEL] !== String(k + 1)) throw new Error(`change ${k + 1} (${name}): client 0 holds label ${value?.labels[CHANGE_LABEL]}`);
      if ((k + 1) % 10 === 0) progress(`${k + 1} changes, last: every client after ${(changes.at(-1)?.allMs ?? NaN).toFixed(0)} ms`);
    }
    const changesPhase = meter();
    const countersAfter = await cpCounters(cfg);
    const pushesDuringChanges = countersAfter.pushes - countersBefore.pushes;
    const builds = countersAfter.convergenceCount - countersBefore.convergenceCount;
    const pushBuiltAvgMs = builds > 0 ? ((countersAfter.convergenceSum - countersBefore.convergenceSum) / builds) * 1000 : NaN;
    return {
      resourcesPerClient,
      syncedMs: measured.map((m) => m[0]),
      workloadsAtSynced: measured.map((m) => m[1]),
      completeMs: measured.map((m) => m[2]),
      initialPhase,
      soloCompleteMs,
      soloPhase,
      changes,
      changesPhase,
      changesStoppedBy: stoppedBy,
      pushesDuringChanges,
      pushBuilds: builds,
      pushBuiltAvgMs,
      clientsPeakRssMiB: statusKiB("self", "VmHWM") / 1024,
    };
  } finally {
    await stopAll(probes);
  }
}

if (import.meta.main) {
  const file = process.argv[2];
  if (!file) {
    process.stderr.write("usage: bun run bench/tools/xds-clients.ts <config.json>\n");
    process.exit(2);
  }
  const cfg = JSON.parse(readFileSync(file, "utf8")) as ClientsConfig;
  try {
    const result = await run(cfg);
    writeFileSync(cfg.resultFile, JSON.stringify(result));
    progress("done");
    process.exit(0);
  } catch (err) {
    process.stderr.write(`xds-clients failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exit(1);
  }
}
