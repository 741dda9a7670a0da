/**
 * `dist/mesh` roles as child processes for end-to-end tests: JSON logs collected line by line,
 * waiting for a log line instead of sleeping, and a stop() that signals, waits and escalates to
 * SIGKILL, so no process outlives its test.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { eventually } from "./eventually.ts";
import { meshBinary } from "./binary.ts";

export interface LogLine {
  readonly msg: string;
  readonly level: string;
  readonly component: string;
  readonly [field: string]: unknown;
}

export interface MeshProcess {
  readonly proc: ChildProcess;
  readonly logs: LogLine[];
  readonly stderrText: () => string;
  waitForLog(match: (line: LogLine) => boolean, what: string, timeoutMs?: number): Promise<LogLine>;
  /** Resolves with the exit code (or signal name). */
  stop(signal?: NodeJS.Signals, graceMs?: number): Promise<number | string>;
  readonly exited: Promise<number | string>;
}

const running = new Set<ChildProcess>();
process.once("exit", () => {
  for (const p of running) p.kill("SIGKILL");
});

/** `fdLimit`: run under this open-file limit (soft and hard), as a smaller machine would. */
export function startMesh(args: readonly string[], options: { env?: NodeJS.ProcessEnv; cwd?: string; fdLimit?: number } = {}): MeshProcess {
  const argv = [meshBinary(), ...args, "--log-format", "json"];
  const [file, ...rest] = options.fdLimit ? ["sh", "-c", 'ulimit -n "$0" && exec "$@"', String(options.fdLimit), ...argv] : argv;
  const proc = spawn(file as string, rest, {
    stdio: ["ignore", "pipe", "pipe"],
    env: { ...process.env, ...options.env },
    cwd: options.cwd,
  });
  running.add(proc);
  const logs: LogLine[] = [];
  let stderr = "";
  let partial = "";
  proc.stderr?.setEncoding("utf8").on("data", (chunk: string) => {
    stderr += chunk;
    partial += chunk;
    const lines = partial.split("\n");
    partial = lines.pop() ?? "";
    for (const line of lines) {
      try {
        logs.push(JSON.parse(line) as LogLine);
      } catch {
        // not a log line (e.g. a crash trace); kept in stderrText()
      }
    }
  });
  proc.stdout?.resume();
  const exited = new Promise<number | string>((resolve) =>
    proc.once("exit", (code, signal) => {
      running.delete(proc);
      resolve(code ?? signal ?? "unknown");
    }),
  );
  return {
    proc,
    logs,
    exited,
    stderrText: () => stderr,
    waitForLog: (match, what, timeoutMs = 10_000) =>
      eventually(
        () => {
          const hit = logs.find(match);
          if (hit) return hit;
          if (proc.exitCode !== null) throw new Error(`process exited (${proc.exitCode}) before logging ${what}: ${stderr.slice(-2000)}`);
          throw new Error(`no log line: ${what}`);
        },
        { timeoutMs, what },
      ),
    stop: async (signal = "SIGTERM", graceMs = 15_000) => {
      if (proc.exitCode === null && proc.signalCode === null) {
        proc.kill(signal);
        const timer = setTimeout(() => proc.kill("SIGKILL"), graceMs);
        const result = await exited;
        clearTimeout(timer);
        return result;
      }
      return exited;
    },
  };
}
