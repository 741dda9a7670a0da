/**
 * Throwaway directories for configs, certs, logs and pid files. Removed when the scope closes or,
 * failing that, at process exit. BENCH_KEEP_TMP=1 keeps them (the path is printed) for debugging.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { onExit } from "./exit-hooks.ts";
import type { Scope } from "./scope.ts";

export function makeTempDir(scope: Scope, prefix = "mesh-bench-"): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  if (process.env.BENCH_KEEP_TMP === "1") {
    process.stderr.write(`bench: keeping ${dir}\n`);
    return dir;
  }
  const remove = (): void => rmSync(dir, { recursive: true, force: true });
  const unregister = onExit(remove);
  scope.defer(() => {
    remove();
    unregister();
  });
  return dir;
}
