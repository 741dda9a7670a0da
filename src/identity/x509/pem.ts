/** PEM ↔ DER for certificates, CSRs and keys. */
import { MeshError } from "../../errors/mesh-error.ts";

export function toPem(label: string, der: ArrayBuffer | Uint8Array): string {
  const b64 = Buffer.from(der instanceof Uint8Array ? der : new Uint8Array(der)).toString("base64");
  return `-----BEGIN ${label}-----\n${b64.replace(/.{1,64}/g, "$&\n")}-----END ${label}-----\n`;
}

/** Every block with this label, in order. */
export function fromPemAll(label: string, pem: string): Uint8Array[] {
  const re = new RegExp(`-----BEGIN ${label}-----([A-Za-z0-9+/=\\s]+?)-----END ${label}-----`, "g");
  return [...pem.matchAll(re)].map((m) => new Uint8Array(Buffer.from((m[1] ?? "").replace(/\s+/g, ""), "base64")));
}

export function fromPem(label: string, pem: string): Uint8Array {
  const [first] = fromPemAll(label, pem);
  if (!first || first.length === 0) throw new MeshError("invalid_argument", `no ${label} PEM block found`);
  return first;
}

/** An ArrayBuffer holding exactly these bytes (WebCrypto and asn1js want ArrayBuffers). */
export function bufferOf(bytes: Uint8Array): ArrayBuffer {
  return bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
}
