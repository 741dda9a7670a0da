/**
 * The compiled `dist/mesh` for end-to-end tests; built with `npm run compile` when it is missing.
 * MESH_TEST_BINARY names another build instead (e.g. an older commit's, to see an attack test
 * fail against the code before its fix).
 */
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { join } from "node:path";

export const REPO_ROOT = new URL("../..", import.meta.url).pathname;
export const MESH_BINARY = join(REPO_ROOT, "dist/mesh");

export function meshBinary(): string {
  const other = process.env.MESH_TEST_BINARY;
  if (other) return other;
  if (!existsSync(MESH_BINARY)) {
    const r = spawnSync("npm", ["run", "--silent", "compile"], { cwd: REPO_ROOT, stdio: "inherit" });
    if (r.status !== 0) throw new Error(`npm run compile failed (exit ${r.status})`);
  }
  return MESH_BINARY;
}
