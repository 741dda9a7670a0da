/**
 * DNS wire format (RFC 1035, with the EDNS(0) OPT record of RFC 6891): just what a proxy needs —
 * parse a query, build a reply (A/AAAA answers, NXDOMAIN, SERVFAIL, FORMERR, NOTIMP), and parse
 * any message for a client or an upstream check.
 *
 * Invariants:
 * - Parsing untrusted bytes throws only MeshError("invalid_argument"), whose `detail.rcode` says
 *   how to answer: a DNS rcode, or null when the bytes deserve no reply (too short for a header,
 *   or a response rather than a query).
 * - Every read is bounds-checked. Compression pointers must point strictly before the start of the
 *   label run being read, so each jump goes further back and a name's walk always ends (with a
 *   cap on jumps as a second fence); labels are at most 63 octets, names at most 255 on the wire.
 * - Names are text in presentation form: labels joined by ".", no trailing dot, case kept, and
 *   any byte other than a printable ASCII character escaped ("\." "\\" "\DDD"), so a label holding
 *   a dot can never pass for two labels. `encodeName` is the inverse.
 * - A question keeps its name's wire form (a view into the request when uncompressed), so replies
 *   echo the question byte for byte, case included (resolvers using 0x20 randomization check it).
 * - Replies never exceed the size the client can take: answers that do not fit are left out and
 *   TC is set.
 */
import { MeshError } from "../../errors/mesh-error.ts";

export const RR_TYPE = { A: 1, NS: 2, CNAME: 5, SOA: 6, PTR: 12, MX: 15, TXT: 16, AAAA: 28, SRV: 33, OPT: 41, HTTPS: 65, ANY: 255 } as const;
export const CLASS_IN = 1;
export const CLASS_ANY = 255;
export const OPCODE_QUERY = 0;
export const RCODE = { NOERROR: 0, FORMERR: 1, SERVFAIL: 2, NXDOMAIN: 3, NOTIMP: 4, REFUSED: 5, BADVERS: 16 } as const;

export const HEADER_SIZE = 12;
export const MAX_NAME_OCTETS = 255;
export const MAX_LABEL_OCTETS = 63;
/** A reply over UDP to a client without EDNS fits in this (RFC 1035 §4.2.1). */
export const MIN_UDP_PAYLOAD = 512;
/** The largest UDP reply mesh builds, whatever the client advertises (DNS flag day 2020). */
export const MAX_UDP_PAYLOAD = 1232;
export const MAX_MESSAGE_OCTETS = 65535;
/** Fence on compression jumps in one name; the backward-only rule already bounds them. */
const MAX_POINTER_JUMPS = 127;

export interface DnsHeader {
  readonly id: number;
  readonly qr: boolean;
  readonly opcode: number;
  readonly aa: boolean;
  readonly tc: boolean;
  readonly rd: boolean;
  readonly ra: boolean;
  readonly ad: boolean;
  readonly cd: boolean;
  /** The header's 4 bits; an OPT record may extend it (see DnsMessage.rcode). */
  readonly rcode: number;
  readonly qdcount: number;
  readonly ancount: number;
  readonly nscount: number;
  readonly arcount: number;
}

export interface DnsQuestion {
  /** Presentation form, case kept, no trailing dot; "" is the root. */
  readonly name: string;
  /** The name's uncompressed wire form (labels and the final zero octet). */
  readonly wire: Uint8Array;
  readonly type: number;
  readonly class: number;
}

export interface DnsEdns {
  /** The requester's UDP payload size as sent (values below 512 are treated as 512 when used). */
  readonly udpSize: number;
  readonly version: number;
  readonly dnssecOk: boolean;
}

export interface DnsQuery {
  readonly header: DnsHeader;
  readonly question: DnsQuestion;
  readonly edns: DnsEdns | null;
}

export interface DnsRecord {
  readonly name: string;
  readonly type: number;
  readonly class: number;
  readonly ttl: number;
  /** A view into the message; names inside it may be compressed against the whole message. */
  readonly data: Uint8Array;
}

export interface DnsMessage {
  readonly header: DnsHeader;
  /** The full rcode: the header's 4 bits, extended by an OPT record's 8 bits. */
  readonly rcode: number;
  readonly questions: readonly DnsQuestion[];
  readonly answers: readonly DnsRecord[];
  readonly authorities: readonly DnsRecord[];
  readonly additionals: readonly DnsRecord[];
  readonly edns: DnsEdns | null;
}

/** The rcode a parse failure should be answered with, or null: send nothing. */
export function replyRcodeOf(err: unknown): number | null {
  if (err instanceof MeshError && typeof err.detail.rcode === "number") return err.detail.rcode;
  return null;
}

function malformed(message: string, rcode: number | null = RCODE.FORMERR): MeshError {
  return new MeshError("invalid_argument", `dns: ${message}`, { detail: { rcode } });
}

// ---------------------------------------------------------------------------------------------
// Reading

const u16 = (b: Uint8Array, at: number): number => ((b[at] as number) << 8) | (b[at + 1] as number);
const u32 = (b: Uint8Array, at: number): number => u16(b, at) * 0x10000 + u16(b, at + 2);

export function parseHeader(bytes: Uint8Array): DnsHeader {
  if (bytes.length < HEADER_SIZE) throw malformed(`message of ${bytes.length} octets is shorter than a header`, null);
  const f1 = bytes[2] as number;
  const f2 = bytes[3] as number;
  return {
    id: u16(bytes, 0),
    qr: (f1 & 0x80) !== 0,
    opcode: (f1 >> 3) & 0x0f,
    aa: (f1 & 0x04) !== 0,
    tc: (f1 & 0x02) !== 0,
    rd: (f1 & 0x01) !== 0,
    ra: (f2 & 0x80) !== 0,
    ad: (f2 & 0x20) !== 0,
    cd: (f2 & 0x10) !== 0,
    rcode: f2 & 0x0f,
    qdcount: u16(bytes, 4),
    ancount: u16(bytes, 6),
    nscount: u16(bytes, 8),
    arcount: u16(bytes, 10),
  };
}

/**
 * Walk a name at `start`; returns the offset just past it in the message (past the first pointer
 * if compressed). With `out`, also decodes it. One walk does both the checks and the decoding.
 */
function walkName(bytes: Uint8Array, start: number, out: { name: string; wire: Uint8Array } | null): number {
  let pos = start;
  let runStart = start;
  let end = -1;
  let wireLen = 0;
  let jumps = 0;
  let name = "";
  for (;;) {
    if (pos >= bytes.length) throw malformed("name runs past the end of the message");
    const len = bytes[pos] as number;
    if (len === 0) {
      wireLen += 1;
      if (end < 0) end = pos + 1;
      break;
    }
    const kind = len & 0xc0;
    if (kind === 0xc0) {
      if (pos + 1 >= bytes.length) throw malformed("compression pointer runs past the end of the message");
      const target = ((len & 0x3f) << 8) | (bytes[pos + 1] as number);
      if (target >= runStart) throw malformed("compression pointer does not point backward");
      if (++jumps > MAX_POINTER_JUMPS) throw malformed("too many compression pointers in a name");
      if (end < 0) end = pos + 2;
      pos = runStart = target;
      continue;
    }
    if (kind !== 0) throw malformed(`unsupported label type 0x${kind.toString(16)}`);
    if (pos + 1 + len > bytes.length) throw malformed("label runs past the end of the message");
    wireLen += 1 + len;
    if (wireLen + 1 > MAX_NAME_OCTETS) throw malformed(`name longer than ${MAX_NAME_OCTETS} octets`);
    if (out) name = name === "" ? labelText(bytes, pos + 1, len) : `${name}.${labelText(bytes, pos + 1, len)}`;
    pos += 1 + len;
  }
  if (out) {
    out.name = name;
    out.wire = jumps === 0 ? bytes.subarray(start, end) : copyWire(bytes, start, wireLen);
  }
  return end;
}

/** The uncompressed wire form of an already-validated compressed name. */
function copyWire(bytes: Uint8Array, start: number, wireLen: number): Uint8Array {
  const wire = new Uint8Array(wireLen);
  let pos = start;
  let w = 0;
  for (;;) {
    const len = bytes[pos] as number;
    if (len === 0) break;
    if ((len & 0xc0) === 0xc0) {
      pos = ((len & 0x3f) << 8) | (bytes[pos + 1] as number);
      continue;
    }
    wire.set(bytes.subarray(pos, pos + 1 + len), w);
    w += 1 + len;
    pos += 1 + len;
  }
  return wire; // last octet already 0
}

/** Letters, digits, '-' and '_' need no escaping and are by far the common case. */
function plainOctet(c: number): boolean {
  return (c >= 0x61 && c <= 0x7a) || (c >= 0x41 && c <= 0x5a) || (c >= 0x30 && c <= 0x39) || c === 0x2d || c === 0x5f;
}

function labelText(bytes: Uint8Array, at: number, len: number): string {
  let plain = true;
  for (let i = at; i < at + len; i++) {
    if (!plainOctet(bytes[i] as number)) {
      plain = false;
      break;
    }
  }
  if (plain) return String.fromCharCode.apply(null, bytes.subarray(at, at + len) as unknown as number[]);
  let text = "";
  for (let i = at; i < at + len; i++) {
    const c = bytes[i] as number;
    if (c === 0x2e || c === 0x5c) text += "\\" + String.fromCharCode(c);
    else if (c > 0x20 && c < 0x7f) text += String.fromCharCode(c);
    else text += "\\" + String(c).padStart(3, "0");
  }
  return text;
}

function readQuestion(bytes: Uint8Array, at: number): { question: DnsQuestion; end: number } {
  const out = { name: "", wire: bytes };
  const end = walkName(bytes, at, out);
  if (end + 4 > bytes.length) throw malformed("question runs past the end of the message");
  return { question: { name: out.name, wire: out.wire, type: u16(bytes, end), class: u16(bytes, end + 2) }, end: end + 4 };
}

/** Offset past one resource record; with `decode`, the record too. */
function readRecord(bytes: Uint8Array, at: number, decode: boolean): { record: DnsRecord | null; end: number } {
  const out = decode ? { name: "", wire: bytes } : null;
  const fixed = walkName(bytes, at, out);
  if (fixed + 10 > bytes.length) throw malformed("resource record runs past the end of the message");
  const rdlength = u16(bytes, fixed + 8);
  const end = fixed + 10 + rdlength;
  if (end > bytes.length) throw malformed("resource record data runs past the end of the message");
  if (!out) return { record: null, end };
  return {
    record: { name: out.name, type: u16(bytes, fixed), class: u16(bytes, fixed + 2), ttl: u32(bytes, fixed + 4), data: bytes.subarray(fixed + 10, end) },
    end,
  };
}

/** OPT is at the root, at most once (RFC 6891 §6.1.1). */
function ednsOf(record: DnsRecord, seen: DnsEdns | null): DnsEdns {
  if (record.name !== "") throw malformed("OPT record not owned by the root");
  if (seen) throw malformed("more than one OPT record");
  return { udpSize: record.class, version: (record.ttl >>> 16) & 0xff, dnssecOk: (record.ttl & 0x8000) !== 0 };
}

/**
 * A query as a server receives it: one question, opcode QUERY. Answer and authority records are
 * skipped without decoding; the additional section is read only for an OPT record.
 */
export function parseQuery(bytes: Uint8Array): DnsQuery {
  const header = parseHeader(bytes);
  if (header.qr) throw malformed("message is a response, not a query", null);
  if (header.opcode !== OPCODE_QUERY) throw malformed(`opcode ${header.opcode} is not implemented`, RCODE.NOTIMP);
  if (header.qdcount !== 1) throw malformed(`query holds ${header.qdcount} questions, not 1`);
  const { question, end } = readQuestion(bytes, HEADER_SIZE);
  let at = end;
  for (let i = header.ancount + header.nscount; i > 0; i--) at = readRecord(bytes, at, false).end;
  let edns: DnsEdns | null = null;
  for (let i = header.arcount; i > 0; i--) {
    if (at + 3 <= bytes.length && bytes[at] === 0 && u16(bytes, at + 1) === RR_TYPE.OPT) {
      const { record, end: next } = readRecord(bytes, at, true);
      edns = ednsOf(record as DnsRecord, edns);
      at = next;
    } else {
      at = readRecord(bytes, at, false).end;
    }
  }
  return { header, question, edns };
}

/** The header and first question only (null when there is none): enough to match a reply to its query. */
export function parseHead(bytes: Uint8Array): { header: DnsHeader; question: DnsQuestion | null } {
  const header = parseHeader(bytes);
  return { header, question: header.qdcount === 0 ? null : readQuestion(bytes, HEADER_SIZE).question };
}

/** Any message, every section decoded (for clients, tests and upstream checks). */
export function parseMessage(bytes: Uint8Array): DnsMessage {
  const header = parseHeader(bytes);
  let at = HEADER_SIZE;
  const questions: DnsQuestion[] = [];
  for (let i = 0; i < header.qdcount; i++) {
    const q = readQuestion(bytes, at);
    questions.push(q.question);
    at = q.end;
  }
  const section = (count: number): DnsRecord[] => {
    const records: DnsRecord[] = [];
    for (let i = 0; i < count; i++) {
      const r = readRecord(bytes, at, true);
      records.push(r.record as DnsRecord);
      at = r.end;
    }
    return records;
  };
  const answers = section(header.ancount);
  const authorities = section(header.nscount);
  const additionals = section(header.arcount);
  let edns: DnsEdns | null = null;
  let rcode = header.rcode;
  for (const r of additionals) {
    if (r.type !== RR_TYPE.OPT) continue;
    edns = ednsOf(r, edns);
    rcode |= (r.ttl >>> 24) << 4;
  }
  return { header, rcode, questions, answers, authorities, additionals, edns };
}

// ---------------------------------------------------------------------------------------------
// Writing

/** Presentation form → wire form; "" and "." are the root. Throws MeshError("invalid_argument"). */
export function encodeName(text: string): Uint8Array {
  const bad = (why: string) => new MeshError("invalid_argument", `dns: name "${text.slice(0, 300)}": ${why}`);
  const out = new Uint8Array(MAX_NAME_OCTETS);
  if (text === "" || text === ".") return out.slice(0, 1);
  let w = 0; // where the current label's length octet goes
  let len = 0;
  const push = (c: number) => {
    if (++len > MAX_LABEL_OCTETS) throw bad(`label longer than ${MAX_LABEL_OCTETS} octets`);
    if (w + len + 1 >= MAX_NAME_OCTETS) throw bad(`longer than ${MAX_NAME_OCTETS} octets`);
    out[w + len] = c;
  };
  const closeLabel = () => {
    if (len === 0) throw bad("empty label");
    out[w] = len;
    w += len + 1;
    len = 0;
  };
  let endsWithDot = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    endsWithDot = c === 0x2e;
    if (c === 0x2e) {
      closeLabel();
    } else if (c === 0x5c) {
      const d = text.slice(i + 1, i + 4);
      if (/^\d{3}$/.test(d)) {
        const v = Number(d);
        if (v > 255) throw bad(`escape \\${d} is not an octet`);
        push(v);
        i += 3;
      } else {
        const e = text.charCodeAt(++i); // NaN past the end
        if (!(e >= 0x20 && e < 0x7f)) throw bad("a backslash must escape a printable character or three digits");
        push(e);
      }
    } else if (c > 0x20 && c < 0x7f) {
      push(c);
    } else {
      throw bad(`character U+${c.toString(16).padStart(4, "0")} must be escaped`);
    }
  }
  if (!endsWithDot) closeLabel(); // a trailing unescaped dot is the root, already closed
  out[w] = 0;
  return out.slice(0, w + 1);
}

function writeU16(b: Uint8Array, at: number, v: number): void {
  b[at] = (v >>> 8) & 0xff;
  b[at + 1] = v & 0xff;
}

function writeU32(b: Uint8Array, at: number, v: number): void {
  writeU16(b, at, (v >>> 16) & 0xffff);
  writeU16(b, at + 2, v & 0xffff);
}

const OPT_RECORD_OCTETS = 11;

function writeOpt(b: Uint8Array, at: number, rcode: number, udpSize: number): void {
  b[at] = 0;
  writeU16(b, at + 1, RR_TYPE.OPT);
  writeU16(b, at + 3, udpSize);
  writeU32(b, at + 5, ((rcode >>> 4) & 0xff) * 0x1000000); // extended rcode, version 0, no flags
  writeU16(b, at + 9, 0);
}

/** The UDP payload a reply to this query may fill. */
export function udpLimitFor(query: DnsQuery): number {
  if (!query.edns) return MIN_UDP_PAYLOAD;
  return Math.min(MAX_UDP_PAYLOAD, Math.max(MIN_UDP_PAYLOAD, query.edns.udpSize));
}

export interface ReplyOptions {
  readonly rcode: number;
  /** 4-octet (A) or 16-octet (AAAA) addresses, each owned by the question's name. */
  readonly addresses?: readonly Uint8Array[];
  /** Seconds. */
  readonly ttl?: number;
  /** AA: mesh answers are authoritative; relayed or error replies are not. */
  readonly authoritative?: boolean;
  /** Octets the reply may take; answers beyond it are dropped and TC set. Default: MAX_MESSAGE_OCTETS. */
  readonly maxSize?: number;
}

/** A reply echoing the query's id, question, RD and CD, with RA set; an OPT record iff the query had one. */
export function buildReply(query: DnsQuery, options: ReplyOptions): Uint8Array {
  const addresses = options.addresses ?? [];
  const qname = query.question.wire;
  const maxSize = Math.min(options.maxSize ?? MAX_MESSAGE_OCTETS, MAX_MESSAGE_OCTETS);
  const fixed = HEADER_SIZE + qname.length + 4 + (query.edns ? OPT_RECORD_OCTETS : 0);
  let size = fixed;
  let count = 0;
  for (const a of addresses) {
    const rr = 12 + a.length; // pointer(2) type(2) class(2) ttl(4) rdlength(2) rdata
    if (size + rr > maxSize) break;
    size += rr;
    count++;
  }
  const truncated = count < addresses.length;
  const b = new Uint8Array(size);
  writeU16(b, 0, query.header.id);
  b[2] = 0x80 | (OPCODE_QUERY << 3) | (options.authoritative ? 0x04 : 0) | (truncated ? 0x02 : 0) | (query.header.rd ? 0x01 : 0);
  b[3] = 0x80 | (query.header.cd ? 0x10 : 0) | (options.rcode & 0x0f);
  writeU16(b, 4, 1);
  writeU16(b, 6, count);
  writeU16(b, 8, 0);
  writeU16(b, 10, query.edns ? 1 : 0);
  b.set(qname, HEADER_SIZE);
  let at = HEADER_SIZE + qname.length;
  writeU16(b, at, query.question.type);
  writeU16(b, at + 2, query.question.class);
  at += 4;
  const ttl = Math.max(0, Math.min(0x7fffffff, Math.floor(options.ttl ?? 0)));
  for (let i = 0; i < count; i++) {
    const a = addresses[i] as Uint8Array;
    writeU16(b, at, 0xc000 | HEADER_SIZE); // the question's name
    writeU16(b, at + 2, a.length === 16 ? RR_TYPE.AAAA : RR_TYPE.A);
    writeU16(b, at + 4, CLASS_IN);
    writeU32(b, at + 6, ttl);
    writeU16(b, at + 10, a.length);
    b.set(a, at + 12);
    at += 12 + a.length;
  }
  if (query.edns) writeOpt(b, at, options.rcode, MAX_UDP_PAYLOAD);
  return b;
}

/**
 * A header-only reply to a request whose question could not be used (FORMERR, NOTIMP): id, opcode
 * and RD echoed. Null when the request is too short to carry an id worth answering.
 */
export function buildHeaderReply(request: Uint8Array, rcode: number): Uint8Array | null {
  if (request.length < HEADER_SIZE) return null;
  const b = new Uint8Array(HEADER_SIZE);
  b[0] = request[0] as number;
  b[1] = request[1] as number;
  b[2] = 0x80 | ((request[2] as number) & 0x79); // QR, opcode and RD kept; AA, TC cleared
  b[3] = 0x80 | (rcode & 0x0f);
  return b;
}

export interface QueryOptions {
  readonly id: number;
  readonly name: string;
  readonly type: number;
  readonly class?: number;
  /** Default true. */
  readonly recursionDesired?: boolean;
  /** Adds an OPT record advertising this UDP payload size. */
  readonly ednsUdpSize?: number;
}

/** A standard query (for clients and tests). */
export function buildQuery(options: QueryOptions): Uint8Array {
  const qname = encodeName(options.name);
  const edns = options.ednsUdpSize !== undefined;
  const b = new Uint8Array(HEADER_SIZE + qname.length + 4 + (edns ? OPT_RECORD_OCTETS : 0));
  writeU16(b, 0, options.id & 0xffff);
  b[2] = options.recursionDesired === false ? 0 : 0x01;
  writeU16(b, 4, 1);
  writeU16(b, 10, edns ? 1 : 0);
  b.set(qname, HEADER_SIZE);
  const at = HEADER_SIZE + qname.length;
  writeU16(b, at, options.type);
  writeU16(b, at + 2, options.class ?? CLASS_IN);
  if (edns) writeOpt(b, at + 4, 0, options.ednsUdpSize ?? MIN_UDP_PAYLOAD);
  return b;
}

/** Same question (name case-insensitively for ASCII, type, class)? Used to match an upstream reply to its query. */
export function sameQuestion(a: DnsQuestion, b: DnsQuestion): boolean {
  if (a.type !== b.type || a.class !== b.class || a.wire.length !== b.wire.length) return false;
  for (let i = 0; i < a.wire.length; i++) {
    let x = a.wire[i] as number;
    let y = b.wire[i] as number;
    if (x >= 0x41 && x <= 0x5a) x |= 0x20;
    if (y >= 0x41 && y <= 0x5a) y |= 0x20;
    if (x !== y) return false;
  }
  return true;
}

/** The TC bit of a message, without parsing it. */
export function isTruncated(bytes: Uint8Array): boolean {
  return bytes.length >= HEADER_SIZE && ((bytes[2] as number) & 0x02) !== 0;
}
