/** Checks shared by the xDS codecs: every refusal names the resource and the field at fault. */
import { MeshError } from "../errors/mesh-error.ts";
import { formatIp, parseIp } from "../net/ip.ts";

export function bad(resource: string, field: string, why: string): MeshError {
  return new MeshError("invalid_argument", `${resource}: ${field}: ${why}`, { detail: { path: field } });
}

export const ipBytes = (ip: string): Uint8Array => {
  const b = parseIp(ip);
  if (!b) throw new MeshError("internal", `not an IP address: ${ip}`);
  return b;
};

export function ipText(resource: string, field: string, bytes: Uint8Array): string {
  if (bytes.length !== 4 && bytes.length !== 16) throw bad(resource, field, `an address must be 4 or 16 bytes, got ${bytes.length}`);
  return formatIp(bytes);
}

export function port(resource: string, field: string, n: number, allowZero = false): number {
  if (!Number.isInteger(n) || n > 65535 || (n === 0 && !allowZero)) throw bad(resource, field, `${n} is not a port`);
  return n;
}
