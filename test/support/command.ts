/**
 * Running external commands from tests: bounded in time, output captured, the whole process group
 * killed on timeout so nothing outlives the test.
 */
import { spawn, spawnSync } from "node:child_process";

export interface CommandResult {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
}

export async function run(
  argv: readonly string[],
  options: { timeoutMs?: number; input?: string; env?: NodeJS.ProcessEnv; cwd?: string } = {},
): Promise<CommandResult> {
  const [cmd, ...args] = argv;
  if (!cmd) throw new Error("run: empty command");
  const child = spawn(cmd, args, {
    stdio: ["pipe", "pipe", "pipe"],
    detached: true,
    env: options.env ?? process.env,
    cwd: options.cwd,
  });
  let stdout = "";
  let stderr = "";
  child.stdout.setEncoding("utf8").on("data", (d: string) => (stdout += d));
  child.stderr.setEncoding("utf8").on("data", (d: string) => (stderr += d));
  child.stdin.end(options.input ?? "");
  const timer = setTimeout(() => killGroup(child.pid), options.timeoutMs ?? 15_000);
  try {
    const [code, signal] = await new Promise<[number | null, NodeJS.Signals | null]>((resolve, reject) => {
      child.once("error", reject);
      child.once("close", (c, s) => resolve([c, s]));
    });
    return { code, signal, stdout, stderr };
  } finally {
    clearTimeout(timer);
  }
}

/** Run and require exit 0, with the command's stderr in the error. */
export async function runOk(argv: readonly string[], options?: Parameters<typeof run>[1]): Promise<string> {
  const r = await run(argv, options);
  if (r.code !== 0) throw new Error(`${argv.join(" ")} exited ${r.code ?? r.signal}: ${r.stderr.trim()}`);
  return r.stdout;
}

export function killGroup(pid: number | undefined): void {
  if (pid === undefined) return;
  try {
    process.kill(-pid, "SIGKILL");
  } catch {
    // already gone
  }
}

export function haveCommand(name: string): boolean {
  return spawnSync("sh", ["-c", `command -v ${name}`], { stdio: "ignore" }).status === 0;
}

export function isRoot(): boolean {
  return typeof process.getuid === "function" && process.getuid() === 0;
}
