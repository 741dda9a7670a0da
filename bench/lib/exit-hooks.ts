/**
 * Last-resort teardown for everything a benchmark creates outside this process.
 *
 * Invariant: a child process group or temp dir registers a synchronous undo here the moment it
 * exists, and unregisters once it has been torn down normally. The hooks run on process exit;
 * SIGINT, SIGTERM and SIGHUP are turned into an exit, so nothing outlives the harness whichever
 * way it ends.
 */

const hooks = new Map<number, () => void>();
let nextId = 0;
let installed = false;

/** Register a synchronous undo; returns the function that unregisters it. */
export function onExit(undo: () => void): () => void {
  install();
  const id = nextId++;
  hooks.set(id, undo);
  return () => {
    hooks.delete(id);
  };
}

/** Run every registered undo now, newest first. Exposed for the signal path and for tests. */
export function runExitHooks(): void {
  for (const [id, undo] of [...hooks].reverse()) {
    hooks.delete(id);
    try {
      undo();
    } catch {
      // best effort: the next hook must still run
    }
  }
}

const SIGNALS = [
  ["SIGINT", 2],
  ["SIGTERM", 15],
  ["SIGHUP", 1],
] as const;

function install(): void {
  if (installed) return;
  installed = true;
  process.on("exit", runExitHooks);
  for (const [signal, number] of SIGNALS) {
    process.on(signal, () => {
      process.stderr.write(`\nbench: ${signal}, stopping every child process\n`);
      runExitHooks();
      process.exit(128 + number);
    });
  }
}
