/**
 * A minimal DER writer and reader for the CA's hot path (signing leaves, reading CSRs), where
 * pkijs's schema machinery cost ~2 ms per certificate. The reader is bounds-checked and treats
 * every malformed input as a MeshError("invalid_argument"): it parses bytes from the network.
 */
import { MeshError } from "../../errors/mesh-error.ts";

// ---- writing ----

function lengthBytes(n: number): number[] {
  if (n < 0x80) return [n];
  const out: number[] = [];
  for (let v = n; v > 0; v = Math.floor(v / 256)) out.unshift(v & 0xff);
  return [0x80 | out.length, ...out];
}

export function tlv(tag: number, ...content: Uint8Array[]): Uint8Array {
  const size = content.reduce((n, c) => n + c.length, 0);
  const head = [tag, ...lengthBytes(size)];
  const out = new Uint8Array(head.length + size);
  out.set(head, 0);
  let at = head.length;
  for (const c of content) {
    out.set(c, at);
    at += c.length;
  }
  return out;
}

export const seq = (...parts: Uint8Array[]) => tlv(0x30, ...parts);
export const octets = (bytes: Uint8Array) => tlv(0x04, bytes);
export const bitString = (bytes: Uint8Array) => tlv(0x03, Uint8Array.of(0), bytes);
export const explicit = (n: number, inner: Uint8Array) => tlv(0xa0 | n, inner);
export const TRUE = Uint8Array.of(0x01, 0x01, 0xff);

export function oid(dotted: string): Uint8Array {
  const parts = dotted.split(".").map(Number);
  const body: number[] = [(parts[0] as number) * 40 + (parts[1] as number)];
  for (const p of parts.slice(2)) {
    const chunk: number[] = [p & 0x7f];
    for (let v = Math.floor(p / 128); v > 0; v = Math.floor(v / 128)) chunk.unshift(0x80 | (v & 0x7f));
    body.push(...chunk);
  }
  return tlv(0x06, Uint8Array.from(body));
}

/** A non-negative INTEGER from big-endian bytes (a leading zero is added when the top bit is set). */
export function unsignedInt(bytes: Uint8Array): Uint8Array {
  let start = 0;
  while (start < bytes.length - 1 && bytes[start] === 0) start++;
  const trimmed = bytes.subarray(start);
  return ((trimmed[0] as number) & 0x80) !== 0 ? tlv(0x02, Uint8Array.of(0), trimmed) : tlv(0x02, trimmed);
}

/** UTCTime before 2050, GeneralizedTime from 2050 (RFC 5280 §4.1.2.5). */
export function time(d: Date): Uint8Array {
  const iso = d.toISOString(); // YYYY-MM-DDTHH:MM:SS.sssZ
  const digits = iso.slice(0, 19).replace(/[-:T]/g, "");
  const year = d.getUTCFullYear();
  return year < 2050 ? tlv(0x17, new TextEncoder().encode(`${digits.slice(2)}Z`)) : tlv(0x18, new TextEncoder().encode(`${digits}Z`));
}

// ---- reading ----

export interface Node {
  readonly tag: number;
  /** The whole element (tag, length, content). */
  readonly raw: Uint8Array;
  readonly content: Uint8Array;
}

function bad(why: string): MeshError {
  return new MeshError("invalid_argument", `bad DER: ${why}`);
}

/** Read one element at `offset`; returns it and the offset after it. */
export function readNode(buf: Uint8Array, offset = 0): { node: Node; next: number } {
  if (offset + 2 > buf.length) throw bad("truncated header");
  const tag = buf[offset] as number;
  if ((tag & 0x1f) === 0x1f) throw bad("multi-byte tags are not used here");
  let len = buf[offset + 1] as number;
  let at = offset + 2;
  if (len & 0x80) {
    const n = len & 0x7f;
    if (n === 0 || n > 4) throw bad("unsupported length form");
    if (at + n > buf.length) throw bad("truncated length");
    len = 0;
    for (let i = 0; i < n; i++) len = len * 256 + (buf[at + i] as number);
    at += n;
  }
  if (at + len > buf.length) throw bad("element runs past its container");
  return { node: { tag, raw: buf.subarray(offset, at + len), content: buf.subarray(at, at + len) }, next: at + len };
}

/** The elements inside a constructed element's content. */
export function children(content: Uint8Array): Node[] {
  const out: Node[] = [];
  for (let at = 0; at < content.length; ) {
    const { node, next } = readNode(content, at);
    out.push(node);
    at = next;
  }
  return out;
}

export function expectTag(node: Node | undefined, tag: number, what: string): Node {
  if (!node || node.tag !== tag) throw bad(`expected ${what}`);
  return node;
}

export function readOid(node: Node): string {
  const b = node.content;
  if (node.tag !== 0x06 || b.length === 0) throw bad("expected an OBJECT IDENTIFIER");
  const first = b[0] as number;
  const parts = [Math.min(2, Math.floor(first / 40)), first - Math.min(2, Math.floor(first / 40)) * 40];
  let v = 0;
  for (let i = 1; i < b.length; i++) {
    v = v * 128 + ((b[i] as number) & 0x7f);
    if (!((b[i] as number) & 0x80)) {
      parts.push(v);
      v = 0;
    }
  }
  return parts.join(".");
}
