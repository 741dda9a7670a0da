/**
 * The admin token that guards the REST API. Generated on first start into the data directory
 * (mode 0600) unless the operator supplies one; compared in constant time. A token file that
 * anyone but its owner may read or write is refused (as ssh refuses such a key): whoever reads it
 * controls the mesh.
 */
import { randomBytes, timingSafeEqual } from "node:crypto";
import { chmodSync, existsSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { MeshError } from "../../errors/mesh-error.ts";

export function loadOrCreateAdminToken(path: string): string {
  if (existsSync(path)) {
    const mode = statSync(path).mode & 0o777;
    if ((mode & 0o077) !== 0) {
      throw new MeshError("failed_precondition", `admin token file ${path} is accessible by others (mode ${mode.toString(8).padStart(4, "0")}); make it readable by its owner only: chmod 600 ${path}`);
    }
    const token = readFileSync(path, "utf8").trim();
    if (token.length < 16) throw new MeshError("invalid_argument", `admin token in ${path} is shorter than 16 characters`);
    return token;
  }
  const token = randomBytes(32).toString("base64url");
  writeFileSync(path, token + "\n", { mode: 0o600, flag: "wx" });
  chmodSync(path, 0o600);
  return token;
}

export function tokenMatches(expected: string, presented: string | undefined): boolean {
  if (presented === undefined) return false;
  const a = Buffer.from(expected);
  const b = Buffer.from(presented);
  return a.length === b.length && timingSafeEqual(a, b);
}
