/**
 * The admin token that guards the REST API. Generated on first start into the data directory
 * (mode 0600) unless the operator supplies one; compared in constant time.
 */
import { randomBytes, timingSafeEqual } from "node:crypto";
import { chmodSync, existsSync, readFileSync, writeFileSync } from "node:fs";
import { MeshError } from "../../errors/mesh-error.ts";

export function loadOrCreateAdminToken(path: string): string {
  if (existsSync(path)) {
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
