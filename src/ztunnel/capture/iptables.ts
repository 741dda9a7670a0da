/**
 * iptables capture, the doing half (`mesh ztunnel --capture iptables`): keeps the node's nat
 * table capturing exactly the workloads it is given, the raw table dropping forged workload
 * sources, and rp_filter strict on the workloads' interfaces, with iptables-save to read and
 * `iptables-restore --noflush` to write (workload-rules.ts and iptables-plan.ts decide what).
 *
 * Invariants:
 * - Operations run one at a time, in call order (a promise queue); a failed one does not block
 *   the next. After close() every later sync is refused.
 * - Every write is one restore transaction per family (atomic); writes wait for the xtables lock
 *   (`-w`); every command has a deadline after which it is killed.
 * - Each sync reads the table first, so it repairs rules changed behind its back and writes
 *   nothing when the table is already right.
 * - Per family, raw is written before nat: anti-spoofing is in place before capture lends an
 *   identity; close() removes nat first, then raw.
 * - start() removes the chains and their jumps left by a run that did not close (crash, SIGKILL);
 *   close() removes them and writes back the rp_filter values it changed, so every rule this class
 *   added is gone afterwards.
 * - IPv4 is required (start fails without it); IPv6 is skipped, with the reason logged and kept in
 *   `families[6]`, when ip6tables or its nat or raw table is unavailable.
 * - Failures are MeshErrors: failed_precondition when the machine cannot do it (no iptables, not
 *   root, no nat table), unavailable for the rest (lock held, deadline, restore refused).
 */
import { spawn } from "node:child_process";
import { MeshError } from "../../errors/mesh-error.ts";
import type { Logger } from "../../telemetry/log.ts";
import {
  ANTI_SPOOF_TABLE,
  CAPTURE_CHAIN,
  CAPTURE_TABLE,
  type CapturePorts,
  type CaptureState,
  capturePorts,
  checkChainName,
  type Family,
  parseSave,
  planRemoval,
  planSync,
  type Table,
} from "./iptables-plan.ts";
import { attachmentProblem } from "./attachment.ts";
import { planRpFilter, RP_FILTER_LOOSE, RP_FILTER_STRICT, rpFilterKey } from "./rp-filter.ts";
import { addressesOf, type CaptureTarget, planWorkloadRules } from "./workload-rules.ts";

export interface CommandOutput {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs argv with `input` on stdin; rejects only when the command could not be started or timed out. */
export type CommandRunner = (argv: readonly string[], input: string) => Promise<CommandOutput>;

export interface IptablesCaptureOptions {
  readonly logger: Logger;
  readonly ports?: Partial<CapturePorts>;
  /** The chain's name (in nat and raw); the default is what a crashed run's leftovers are found by. */
  readonly chain?: string;
  /**
   * Capture the outbound traffic of workloads without a hostInterface by source address alone. Any
   * local workload can then take their identity by spoofing their address (docs/security.md).
   */
  readonly allowUnbound?: boolean;
  /** Wraps every command, e.g. `(argv) => ["ip", "netns", "exec", name, ...argv]`. */
  readonly exec?: (argv: readonly string[]) => readonly string[];
  /** How commands run; the default spawns them (node:child_process). Tests pass a fake. */
  readonly run?: CommandRunner;
  /** Seconds to wait for the xtables lock (`-w`); default 5. */
  readonly lockWaitSeconds?: number;
  /** Deadline for each command, ms; default 30 000. */
  readonly commandTimeoutMs?: number;
}

export type FamilyStatus = { readonly available: true } | { readonly available: false; readonly reason: string };

export interface SyncReport {
  /** Whether anything was written (false: the table already matched). */
  readonly changed: boolean;
  /** Addresses not captured, with why (an IPv6 address while ip6tables nat is unavailable). */
  readonly skipped: readonly { readonly address: string; readonly reason: string }[];
  /** Addresses whose outbound traffic is not captured because no single interface is recorded for them. */
  readonly refused: readonly { readonly address: string; readonly reason: string }[];
  /** Addresses captured by source address alone (allowUnbound). */
  readonly byAddressOnly: readonly string[];
}

const TOOLS: Record<Family, { readonly iptables: string; readonly save: string; readonly restore: string }> = {
  4: { iptables: "iptables", save: "iptables-save", restore: "iptables-restore" },
  6: { iptables: "ip6tables", save: "ip6tables-save", restore: "ip6tables-restore" },
};

const FAMILIES: readonly Family[] = [4, 6];
/** Write order: anti-spoofing before capture. */
const TABLES: readonly Table[] = [ANTI_SPOOF_TABLE, CAPTURE_TABLE];

export class IptablesCapture {
  readonly ports: CapturePorts;
  readonly chain: string;
  readonly #families: Record<Family, FamilyStatus> = { 4: { available: true }, 6: { available: true } };
  readonly #log: Logger;
  readonly #run: CommandRunner;
  readonly #exec: (argv: readonly string[]) => readonly string[];
  readonly #lockWait: string;
  readonly #allowUnbound: boolean;
  /** rp_filter values found on the interfaces mesh set strict, to write back. */
  readonly #rpFilter = new Map<string, string>();
  #queue: Promise<unknown> = Promise.resolve();
  #closing = false;
  #closed: Promise<void> | null = null;
  #lastReported = "";

  private constructor(options: IptablesCaptureOptions) {
    this.ports = capturePorts(options.ports);
    this.chain = checkChainName(options.chain ?? CAPTURE_CHAIN);
    this.#log = options.logger;
    this.#exec = options.exec ?? ((argv) => argv);
    const timeoutMs = options.commandTimeoutMs ?? 30_000;
    this.#run = options.run ?? ((argv, input) => spawnCommand(argv, input, timeoutMs));
    this.#lockWait = String(options.lockWaitSeconds ?? 5);
    this.#allowUnbound = options.allowUnbound ?? false;
  }

  /**
   * Check that iptables nat works (IPv4 required, IPv6 optional) and remove what a previous run
   * left behind. Throws failed_precondition when IPv4 capture is impossible here.
   */
  static async start(options: IptablesCaptureOptions): Promise<IptablesCapture> {
    const capture = new IptablesCapture(options);
    try {
      await capture.#probe(4);
    } catch (err) {
      throw MeshError.from(err, "failed_precondition");
    }
    try {
      await capture.#probe(6);
    } catch (err) {
      const reason = err instanceof Error ? err.message : String(err);
      capture.#families[6] = { available: false, reason };
      capture.#log.warn("IPv6 capture unavailable; IPv6 workload addresses will not be captured", { reason });
    }
    for (const family of capture.#available()) {
      for (const table of [...TABLES].reverse()) {
        const leftover = planRemoval(await capture.#read(family, table), capture.chain, table);
        if (leftover === null) continue;
        capture.#log.info("removing capture rules left by a previous run", { family, table, chain: capture.chain });
        await capture.#restore(family, leftover);
      }
    }
    if (capture.#allowUnbound) {
      capture.#log.warn("--allow-unbound-interfaces: workloads without a hostInterface are captured by source address alone; any workload on this node can take their identity by using their address", {});
    }
    const all = await capture.#command(4, ["sysctl", "-n", "net.ipv4.conf.all.rp_filter"]).catch(() => "");
    if (all.trim() === RP_FILTER_LOOSE) {
      capture.#log.warn("net.ipv4.conf.all.rp_filter is 2 (loose) and overrides strict filtering on workload interfaces; the raw-table rules still drop forged sources", {});
    }
    return capture;
  }

  /** Whether each family is captured; IPv6 carries the reason when it is not. */
  get families(): Readonly<Record<Family, FamilyStatus>> {
    return { ...this.#families };
  }

  /**
   * Capture exactly these workloads from now on, each bound to its interface (workload-rules.ts).
   * Idempotent; writes only when a table differs. Refuses invalid addresses and interface names
   * (invalid_argument) before any change.
   */
  sync(targets: readonly CaptureTarget[]): Promise<SyncReport> {
    return this.#enqueue(async () => {
      if (this.#closing) throw new MeshError("failed_precondition", "iptables capture is closed");
      const plan = planWorkloadRules(targets, { ports: this.ports, allowUnbound: this.#allowUnbound });
      const skipped: { address: string; reason: string }[] = [];
      let changed = false;
      for (const family of FAMILIES) {
        const status = this.#families[family];
        if (!status.available) {
          for (const address of addressesOf(targets, family)) skipped.push({ address, reason: status.reason });
          continue;
        }
        for (const table of TABLES) {
          const rules = plan[table][family];
          const script = planSync(await this.#read(family, table), rules, this.chain, table);
          if (script === null) continue;
          await this.#restore(family, script);
          changed = true;
          this.#log.info("capture rules updated", { family, table, chain: this.chain, rules: rules.length });
        }
      }
      await this.#syncRpFilter(plan.interfaces);
      // Report what is left out when it changes, not on every sync; refusals loudly.
      const key = JSON.stringify([skipped, plan.refused, plan.byAddressOnly]);
      if (key !== this.#lastReported) {
        if (skipped.length > 0) this.#log.warn("workload addresses not captured", { addresses: skipped.map((s) => s.address), reason: skipped[0]?.reason });
        for (const r of plan.refused) this.#log.error("workload outbound traffic refused: no identity is lent to it", r);
        if (plan.byAddressOnly.length > 0) this.#log.warn("workloads captured by source address alone (--allow-unbound-interfaces): their identity can be spoofed", { addresses: plan.byAddressOnly });
      }
      this.#lastReported = key;
      return { changed, skipped, refused: plan.refused, byAddressOnly: plan.byAddressOnly };
    });
  }

  /**
   * rp_filter strict on the wanted interfaces, the remembered value back on the others; each newly
   * bound interface is checked once to be one that can bind an identity (attachment.ts).
   */
  async #syncRpFilter(wanted: readonly string[]): Promise<void> {
    const plan = planRpFilter(this.#rpFilter, wanted);
    for (const [iface, value] of plan.restore) {
      this.#rpFilter.delete(iface);
      await this.#command(4, ["sysctl", "-qw", `${rpFilterKey(iface)}=${value}`]).catch((err: unknown) => {
        this.#log.debug("rp_filter not restored (interface gone?)", { interface: iface, error: (err as Error).message });
      });
    }
    for (const iface of plan.set) {
      try {
        const before = (await this.#command(4, ["sysctl", "-n", rpFilterKey(iface)])).trim();
        await this.#command(4, ["sysctl", "-qw", `${rpFilterKey(iface)}=${RP_FILTER_STRICT}`]);
        this.#rpFilter.set(iface, before);
        // The interface exists now: say so loudly when it cannot bind an identity (a bridge, a port).
        const problem = attachmentProblem(iface, await this.#command(4, ["ip", "-d", "-o", "link", "show", "dev", iface]));
        if (problem !== null) this.#log.error("hostInterface cannot bind a workload's identity", { interface: iface, problem });
      } catch (err) {
        this.#log.info("rp_filter not set yet (interface missing?); the raw-table rules still apply", { interface: iface, error: (err as Error).message });
      }
    }
  }

  /**
   * Remove the jump and the chain in every family. Later syncs are refused. Calling again while it
   * runs or after it succeeded returns the same promise; after a failure it tries again.
   */
  close(): Promise<void> {
    this.#closing = true;
    this.#closed ??= this.#enqueue(async () => {
      const failures: unknown[] = [];
      for (const family of this.#available()) {
        for (const table of [...TABLES].reverse()) {
          try {
            const script = planRemoval(await this.#read(family, table), this.chain, table);
            if (script !== null) await this.#restore(family, script);
          } catch (err) {
            failures.push(err);
          }
        }
      }
      await this.#syncRpFilter([]);
      if (failures.length > 0) throw failures[0];
      this.#log.info("capture rules removed", { chain: this.chain });
    }).catch((err: unknown) => {
      this.#closed = null;
      throw err;
    });
    return this.#closed;
  }

  #available(): Family[] {
    return FAMILIES.filter((f) => this.#families[f].available);
  }

  #enqueue<T>(op: () => Promise<T>): Promise<T> {
    const next = this.#queue.then(op, op);
    this.#queue = next.catch(() => undefined);
    return next;
  }

  /** The nat and raw tables are usable in this family: listing PREROUTING (waiting for the lock) and saving work. */
  async #probe(family: Family): Promise<void> {
    for (const table of TABLES) {
      await this.#command(family, [TOOLS[family].iptables, "-w", this.#lockWait, "-t", table, "-S", "PREROUTING"]);
      await this.#read(family, table);
    }
  }

  async #read(family: Family, table: Table): Promise<CaptureState> {
    // iptables-save takes no -w: it reads without the lock (nft: one netlink dump).
    return parseSave(await this.#command(family, [TOOLS[family].save, "-t", table]), this.chain, table);
  }

  async #restore(family: Family, script: string): Promise<void> {
    this.#log.debug("iptables-restore", { family, script });
    await this.#command(family, [TOOLS[family].restore, "-w", this.#lockWait, "--noflush"], script);
  }

  async #command(family: Family, argv: readonly string[], input = ""): Promise<string> {
    const full = this.#exec(argv);
    let out: CommandOutput;
    try {
      out = await this.#run(full, input);
    } catch (err) {
      throw classifyFailure(family, full, null, err);
    }
    if (out.code !== 0) throw classifyFailure(family, full, out, undefined);
    return out.stdout;
  }
}

const PRECONDITION_PATTERNS = [
  /permission denied/i,
  /must be root/i,
  /operation not permitted/i,
  /no such file or directory/i,
  /not found/i,
  /table does not exist/i,
  /can't initialize/i,
  /not supported/i,
  /could not fetch rule set/i,
];

/** A failed command as a MeshError: failed_precondition when retrying cannot help, else unavailable. */
export function classifyFailure(family: Family, argv: readonly string[], out: CommandOutput | null, err: unknown): MeshError {
  const command = argv.join(" ");
  if (out === null) {
    const code = (err as NodeJS.ErrnoException | undefined)?.code;
    if (code === "ENOENT") {
      return new MeshError("failed_precondition", `IPv${family} capture: ${argv[0]} is not installed`, { cause: err });
    }
    const message = err instanceof Error ? err.message : String(err);
    return new MeshError("unavailable", `IPv${family} capture: ${command}: ${message}`, { cause: err });
  }
  const stderr = out.stderr.trim();
  const message = `IPv${family} capture: ${command} exited ${out.code ?? "by signal"}: ${stderr.split("\n").slice(0, 5).join("; ")}`;
  const cause = new Error(stderr || `exit ${out.code}`);
  const code = PRECONDITION_PATTERNS.some((p) => p.test(stderr)) ? "failed_precondition" : "unavailable";
  return new MeshError(code, message, { cause, detail: { command, stderr } });
}

/** Spawn a command with stdin, collect its output, kill it (SIGKILL) after the deadline. */
export function spawnCommand(argv: readonly string[], input: string, timeoutMs: number): Promise<CommandOutput> {
  const [cmd, ...args] = argv;
  if (cmd === undefined) return Promise.reject(new Error("empty command"));
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ["pipe", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill("SIGKILL");
    }, timeoutMs);
    child.stdout.setEncoding("utf8").on("data", (d: string) => (stdout += d));
    child.stderr.setEncoding("utf8").on("data", (d: string) => (stderr += d));
    child.stdin.on("error", () => undefined); // EPIPE when the command exits without reading; its exit code tells
    child.stdin.end(input);
    child.once("error", (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.once("close", (code) => {
      clearTimeout(timer);
      if (timedOut) reject(new Error(`timed out after ${timeoutMs} ms`));
      else resolve({ code, stdout, stderr });
    });
  });
}
