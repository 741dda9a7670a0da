/**
 * iptables capture, the doing half (`mesh ztunnel --capture iptables`): keeps the node's nat
 * table capturing exactly the workload addresses it is given, with iptables-save to read and
 * `iptables-restore --noflush` to write (iptables-plan.ts decides what to write).
 *
 * Invariants:
 * - Operations run one at a time, in call order (a promise queue); a failed one does not block
 *   the next. After close() every later sync is refused.
 * - Every write is one restore transaction per family (atomic); writes wait for the xtables lock
 *   (`-w`); every command has a deadline after which it is killed.
 * - Each sync reads the table first, so it repairs rules changed behind its back and writes
 *   nothing when the table is already right.
 * - start() removes the chain and its jump left by a run that did not close (crash, SIGKILL);
 *   close() removes them, so every rule this class added is gone afterwards.
 * - IPv4 is required (start fails without it); IPv6 is skipped, with the reason logged and kept in
 *   `families[6]`, when ip6tables or its nat table is unavailable.
 * - Failures are MeshErrors: failed_precondition when the machine cannot do it (no iptables, not
 *   root, no nat table), unavailable for the rest (lock held, deadline, restore refused).
 */
import { spawn } from "node:child_process";
import { MeshError } from "../../errors/mesh-error.ts";
import type { Logger } from "../../telemetry/log.ts";
import {
  addressesByFamily,
  CAPTURE_CHAIN,
  CAPTURE_TABLE,
  type CapturePorts,
  type CaptureState,
  capturePorts,
  checkChainName,
  type Family,
  parseSave,
  planRemoval,
  planRules,
  planSync,
} from "./iptables-plan.ts";

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
  /** The chain's name; the default is what a crashed run's leftovers are found by. */
  readonly chain?: string;
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
}

const TOOLS: Record<Family, { readonly iptables: string; readonly save: string; readonly restore: string }> = {
  4: { iptables: "iptables", save: "iptables-save", restore: "iptables-restore" },
  6: { iptables: "ip6tables", save: "ip6tables-save", restore: "ip6tables-restore" },
};

const FAMILIES: readonly Family[] = [4, 6];

export class IptablesCapture {
  readonly ports: CapturePorts;
  readonly chain: string;
  readonly #families: Record<Family, FamilyStatus> = { 4: { available: true }, 6: { available: true } };
  readonly #log: Logger;
  readonly #run: CommandRunner;
  readonly #exec: (argv: readonly string[]) => readonly string[];
  readonly #lockWait: string;
  #queue: Promise<unknown> = Promise.resolve();
  #closing = false;
  #closed: Promise<void> | null = null;
  #lastSkipped = "";

  private constructor(options: IptablesCaptureOptions) {
    this.ports = capturePorts(options.ports);
    this.chain = checkChainName(options.chain ?? CAPTURE_CHAIN);
    this.#log = options.logger;
    this.#exec = options.exec ?? ((argv) => argv);
    const timeoutMs = options.commandTimeoutMs ?? 30_000;
    this.#run = options.run ?? ((argv, input) => spawnCommand(argv, input, timeoutMs));
    this.#lockWait = String(options.lockWaitSeconds ?? 5);
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
      const leftover = planRemoval(await capture.#read(family), capture.chain);
      if (leftover !== null) {
        capture.#log.info("removing capture rules left by a previous run", { family, chain: capture.chain });
        await capture.#restore(family, leftover);
      }
    }
    return capture;
  }

  /** Whether each family is captured; IPv6 carries the reason when it is not. */
  get families(): Readonly<Record<Family, FamilyStatus>> {
    return { ...this.#families };
  }

  /**
   * Capture exactly these workload addresses (IPv4/IPv6 text) from now on. Idempotent; writes
   * only when the table differs. Refuses invalid addresses (invalid_argument) before any change.
   */
  sync(addresses: readonly string[]): Promise<SyncReport> {
    return this.#enqueue(async () => {
      if (this.#closing) throw new MeshError("failed_precondition", "iptables capture is closed");
      const rules = planRules(addresses, this.ports);
      const skipped: { address: string; reason: string }[] = [];
      let changed = false;
      for (const family of FAMILIES) {
        const status = this.#families[family];
        if (!status.available) {
          for (const address of addressesByFamily(addresses)[family]) skipped.push({ address, reason: status.reason });
          continue;
        }
        const script = planSync(await this.#read(family), rules[family], this.chain);
        if (script === null) continue;
        await this.#restore(family, script);
        changed = true;
        this.#log.info("capture rules updated", { family, chain: this.chain, rules: rules[family].length });
      }
      // Warn when what is left out changes, not on every sync.
      const skippedKey = skipped.map((s) => s.address).join(",");
      if (skippedKey !== this.#lastSkipped && skipped.length > 0) {
        this.#log.warn("workload addresses not captured", { addresses: skipped.map((s) => s.address), reason: skipped[0]?.reason });
      }
      this.#lastSkipped = skippedKey;
      return { changed, skipped };
    });
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
        try {
          const script = planRemoval(await this.#read(family), this.chain);
          if (script !== null) await this.#restore(family, script);
        } catch (err) {
          failures.push(err);
        }
      }
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

  /** The nat table is usable in this family: listing PREROUTING (waiting for the lock) and saving work. */
  async #probe(family: Family): Promise<void> {
    await this.#command(family, [TOOLS[family].iptables, "-w", this.#lockWait, "-t", CAPTURE_TABLE, "-S", "PREROUTING"]);
    await this.#read(family);
  }

  async #read(family: Family): Promise<CaptureState> {
    // iptables-save takes no -w: it reads without the lock (nft: one netlink dump).
    return parseSave(await this.#command(family, [TOOLS[family].save, "-t", CAPTURE_TABLE]), this.chain);
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
