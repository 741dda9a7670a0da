/**
 * Child processes for benchmarks.
 *
 * Invariant: every child is spawned as the leader of its own process group and registered for
 * teardown before the spawning function returns, so the child and anything it forks (nginx
 * workers, say) are killed on every exit path: scope close, thrown error, signal, or exit. A
 * signal sent to the harness never reaches the children by itself (they are in other groups), so
 * this is the only thing that stops them.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { closeSync, openSync, readFileSync } from "node:fs";
import { onExit } from "./exit-hooks.ts";
import type { Scope } from "./scope.ts";

export interface Exit {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
}

export function killGroup(pgid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pgid, signal);
  } catch {
    // the group is already empty
  }
}

function exitOf(child: ChildProcess): Promise<Exit> {
  return new Promise((resolve) => child.once("exit", (code, signal) => resolve({ code, signal })));
}

/** Resolves with the pid once the child has started; rejects with the spawn error (ENOENT…). */
function started(child: ChildProcess, command: string): Promise<number> {
  return new Promise((resolve, reject) => {
    if (child.pid !== undefined) return resolve(child.pid);
    child.once("spawn", () => resolve(child.pid as number));
    child.once("error", (err) => reject(new Error(`cannot start ${command}: ${err.message}`)));
  });
}

function within<T>(promise: Promise<T>, ms: number): Promise<T | undefined> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => resolve(undefined), ms);
    promise.then(
      (value) => {
        clearTimeout(timer);
        resolve(value);
      },
      (err: unknown) => {
        clearTimeout(timer);
        reject(err);
      },
    );
  });
}

/** A long-running child (server, proxy) whose output goes to a log file. */
export interface Daemon {
  readonly name: string;
  readonly pid: number;
  readonly logPath: string;
  readonly exited: Promise<Exit>;
  /** null while running; otherwise how it ended. */
  exit(): Exit | null;
  /** The last lines of its log, for error messages. */
  logTail(lines?: number): string;
  /** SIGTERM the group, SIGKILL it after a grace period; idempotent. Also run by the scope. */
  stop(): Promise<void>;
  /** Write to its stdin (only with `stdin: "pipe"`). */
  write(text: string): void;
}

export interface DaemonOptions {
  readonly logPath: string;
  readonly cwd?: string;
  readonly env?: NodeJS.ProcessEnv;
  /** "pipe" to talk to it through write() (default: no stdin). */
  readonly stdin?: "ignore" | "pipe";
}

export async function startDaemon(scope: Scope, name: string, argv: readonly string[], options: DaemonOptions): Promise<Daemon> {
  const [command, ...args] = argv;
  if (!command) throw new Error(`${name}: empty command`);
  const log = openSync(options.logPath, "a");
  let child: ChildProcess;
  try {
    child = spawn(command, args, { detached: true, stdio: [options.stdin ?? "ignore", log, log], cwd: options.cwd, env: options.env ?? process.env });
  } finally {
    closeSync(log);
  }
  child.stdin?.on("error", () => undefined); // EPIPE after it exited: its exit is reported through `exited`
  const exited = exitOf(child);
  const pid = await started(child, command);
  const unregister = onExit(() => killGroup(pid, "SIGKILL"));
  let ended: Exit | null = null;
  void exited.then((e) => (ended = e));
  let stopping: Promise<void> | null = null;

  const stop = (): Promise<void> =>
    (stopping ??= (async () => {
      if (ended === null) {
        killGroup(pid, "SIGTERM");
        if ((await within(exited, 3000)) === undefined) {
          killGroup(pid, "SIGKILL");
          await within(exited, 2000);
        }
      }
      killGroup(pid, "SIGKILL"); // stragglers the leader left behind
      unregister();
    })());

  scope.defer(stop);
  return {
    name,
    pid,
    logPath: options.logPath,
    exited,
    exit: () => ended,
    logTail: (lines = 20) => tail(options.logPath, lines),
    stop,
    write: (text) => {
      if (!child.stdin) throw new Error(`${name}: started without stdin: "pipe"`);
      child.stdin.write(text);
    },
  };
}

function tail(path: string, lines: number): string {
  try {
    return readFileSync(path, "utf8").trimEnd().split("\n").slice(-lines).join("\n");
  } catch {
    return "";
  }
}

export interface RunResult extends Exit {
  readonly stdout: string;
  readonly stderr: string;
  readonly timedOut: boolean;
}

/** Run a command to completion with a hard deadline (its whole group is SIGKILLed at the deadline). */
export async function runBounded(
  argv: readonly string[],
  options: { readonly timeoutMs: number; readonly cwd?: string; readonly env?: NodeJS.ProcessEnv },
): Promise<RunResult> {
  const [command, ...args] = argv;
  if (!command) throw new Error("runBounded: empty command");
  const child = spawn(command, args, { detached: true, stdio: ["ignore", "pipe", "pipe"], cwd: options.cwd, env: options.env ?? process.env });
  let stdout = "";
  let stderr = "";
  child.stdout?.setEncoding("utf8").on("data", (d: string) => (stdout += d));
  child.stderr?.setEncoding("utf8").on("data", (d: string) => (stderr += d));
  const closed = new Promise<Exit>((resolve) => child.once("close", (code, signal) => resolve({ code, signal })));
  const pid = await started(child, command);
  const unregister = onExit(() => killGroup(pid, "SIGKILL"));
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    killGroup(pid, "SIGKILL");
  }, options.timeoutMs);
  try {
    const exit = await closed;
    return { ...exit, stdout, stderr, timedOut };
  } finally {
    clearTimeout(timer);
    killGroup(pid, "SIGKILL");
    unregister();
  }
}

/** runBounded, requiring exit 0; the error carries the command's stderr. */
export async function runOk(argv: readonly string[], timeoutMs = 15_000): Promise<string> {
  const r = await runBounded(argv, { timeoutMs });
  if (r.code !== 0) {
    const how = r.timedOut ? `timed out after ${timeoutMs} ms` : `exited ${r.code ?? r.signal}`;
    throw new Error(`${argv.join(" ")} ${how}: ${(r.stderr || r.stdout).trim()}`);
  }
  return r.stdout;
}
