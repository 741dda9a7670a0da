/**
 * HPACK (RFC 7541): a complete decoder and a small encoder.
 *
 * Decoder invariants (a trust boundary: the bytes come from the peer):
 * - every failure is an H2Error COMPRESSION_ERROR with scope "connection" (RFC 9113 §4.3: the
 *   decoding context is lost, so the connection must close); nothing else is ever thrown;
 * - integers are at most 2^31 - 1 and take at most 5 continuation octets; string lengths never
 *   exceed what is left of the block; indices must name an existing static or dynamic entry;
 * - Huffman strings must not contain EOS, and their padding is fewer than 8 bits, all ones;
 * - a dynamic table size update comes only at the start of a block and never exceeds the size
 *   we advertised (SETTINGS_HEADER_TABLE_SIZE); entries are evicted oldest first so the table
 *   never exceeds its maximum (an entry larger than the maximum empties the table);
 * - the decoded header list is bounded (`maxHeaderListSize`, RFC 9113 §6.5.2 accounting: name +
 *   value + 32 per field). Past the bound the block is still decoded to keep the dynamic table
 *   in step with the peer's encoder, but fields are dropped and `oversize` is reported.
 *   Work per block is linear in its length, which the frame layer bounds.
 *
 * Encoder: literals without indexing (static-table names by index, `:status 200` fully indexed),
 * Huffman only if asked for and shorter. It never inserts into the peer's dynamic table, and the
 * first block starts with a size update to 0, so whatever table size the peer advertises later
 * our use of it stays within it.
 *
 * Names and values are handled as latin1 strings: one character per octet, so lengths in
 * characters are lengths in octets.
 */
import { connectionError, H2Code, type H2Error } from "./errors.ts";
import { HUFFMAN_BITS, HUFFMAN_CODES } from "./huffman-table.ts";
import { STATIC_TABLE } from "./static-table.ts";

export type HeaderField = readonly [name: string, value: string];

const compressionError = (message: string): H2Error => connectionError(H2Code.COMPRESSION_ERROR, `HPACK: ${message}`);

// --- Huffman decoding: a 4-bit-at-a-time state machine built from the code table at load. ---
//
// States are the internal nodes of the code tree (256 of them, the root is 0). For each state and
// nibble the table says the next state, whether a symbol was completed (at most one: the shortest
// code is 5 bits), whether EOS was hit (an error), and whether the next state may end a string
// (it lies on the all-ones path at depth <= 7, i.e. it is valid padding).
const FLAG_EMIT = 1 << 17;
const FLAG_FAIL = 1 << 18;
const FLAG_ACCEPT = 1 << 19;

function buildDecodeTable(): Int32Array {
  // children[2 * node + bit]: >= 0 internal node, < 0 leaf with symbol -(value + 1).
  const children: number[] = [-0x7fffffff, -0x7fffffff];
  let nodes = 1;
  for (let sym = 0; sym < 257; sym++) {
    const code = HUFFMAN_CODES[sym] as number;
    const bits = HUFFMAN_BITS[sym] as number;
    let node = 0;
    for (let i = bits - 1; i >= 0; i--) {
      const bit = (code >>> i) & 1;
      if (i === 0) children[2 * node + bit] = -(sym + 1);
      else {
        let next = children[2 * node + bit] as number;
        if (next === -0x7fffffff) {
          next = nodes++;
          children[2 * node + bit] = next;
          children.push(-0x7fffffff, -0x7fffffff);
        }
        node = next;
      }
    }
  }
  // The all-ones path from the root, depth 0..7: the states a string may end in.
  const accepting = new Set<number>([0]);
  for (let node = 0, depth = 1; depth <= 7; depth++) {
    node = children[2 * node + 1] as number;
    accepting.add(node);
  }
  const table = new Int32Array(nodes * 16);
  for (let state = 0; state < nodes; state++) {
    for (let nibble = 0; nibble < 16; nibble++) {
      let node = state;
      let entry = 0;
      for (let i = 3; i >= 0; i--) {
        const next = children[2 * node + ((nibble >>> i) & 1)] as number;
        if (next >= 0) {
          node = next;
          continue;
        }
        const sym = -next - 1;
        if (sym === 256) {
          entry |= FLAG_FAIL;
          break;
        }
        entry |= FLAG_EMIT | (sym << 8);
        node = 0;
      }
      if (accepting.has(node)) entry |= FLAG_ACCEPT;
      table[state * 16 + nibble] = entry | node;
    }
  }
  return table;
}

const DECODE = buildDecodeTable();

/** Decode a Huffman-coded string (RFC 7541 §5.2) from buf[start, end). */
export function huffmanDecode(buf: Uint8Array, start: number, end: number): string {
  // The shortest code is 5 bits, so n octets hold at most 8n/5 symbols.
  const out = Buffer.allocUnsafe(Math.ceil(((end - start) * 8) / 5));
  let o = 0;
  let state = 0;
  let accept = true;
  for (let i = start; i < end; i++) {
    const b = buf[i] as number;
    let e = DECODE[state * 16 + (b >>> 4)] as number;
    if (e & FLAG_FAIL) throw compressionError("EOS inside a Huffman string");
    if (e & FLAG_EMIT) out[o++] = (e >>> 8) & 0xff;
    state = e & 0xff;
    e = DECODE[state * 16 + (b & 0xf)] as number;
    if (e & FLAG_FAIL) throw compressionError("EOS inside a Huffman string");
    if (e & FLAG_EMIT) out[o++] = (e >>> 8) & 0xff;
    state = e & 0xff;
    accept = (e & FLAG_ACCEPT) !== 0;
  }
  if (!accept) throw compressionError("Huffman padding longer than 7 bits or not all ones");
  return out.toString("latin1", 0, o);
}

/** Huffman-code a latin1 string; returns the octets. */
export function huffmanEncode(text: string): Buffer {
  const out = Buffer.allocUnsafe(huffmanLength(text));
  let acc = 0;
  let accBits = 0;
  let o = 0;
  for (let i = 0; i < text.length; i++) {
    const sym = text.charCodeAt(i) & 0xff;
    const bits = HUFFMAN_BITS[sym] as number;
    const code = HUFFMAN_CODES[sym] as number;
    // Emit in up to two steps so the accumulator never holds more than 31 bits.
    let remaining = bits;
    while (remaining > 0) {
      const take = Math.min(remaining, 24);
      const part = (code >>> (remaining - take)) & ((1 << take) - 1);
      acc = (acc << take) | part;
      accBits += take;
      remaining -= take;
      while (accBits >= 8) {
        accBits -= 8;
        out[o++] = (acc >>> accBits) & 0xff;
      }
      acc &= (1 << accBits) - 1;
    }
  }
  if (accBits > 0) out[o++] = ((acc << (8 - accBits)) | ((1 << (8 - accBits)) - 1)) & 0xff;
  return out;
}

export function huffmanLength(text: string): number {
  let bits = 0;
  for (let i = 0; i < text.length; i++) bits += HUFFMAN_BITS[text.charCodeAt(i) & 0xff] as number;
  return Math.ceil(bits / 8);
}

// --- Integers (RFC 7541 §5.1) ---

const MAX_INT = 0x7fffffff;

/** Append an integer with an N-bit prefix; `first` carries the bits above the prefix. */
export function encodeInteger(out: number[], value: number, prefixBits: number, first: number): void {
  const max = (1 << prefixBits) - 1;
  if (value < max) {
    out.push(first | value);
    return;
  }
  out.push(first | max);
  let rest = value - max;
  while (rest >= 128) {
    out.push((rest % 128) + 128);
    rest = Math.floor(rest / 128);
  }
  out.push(rest);
}

// --- Decoder ---

export interface DecodedBlock {
  readonly fields: HeaderField[];
  /** The header list exceeded `maxHeaderListSize`; `fields` holds only those within it. */
  readonly oversize: boolean;
}

export interface HpackDecoderOptions {
  /** Our SETTINGS_HEADER_TABLE_SIZE: the most a size update may ask for. Default 4096. */
  readonly maxTableSize?: number;
  /** Our SETTINGS_MAX_HEADER_LIST_SIZE. Default 16 KiB. */
  readonly maxHeaderListSize?: number;
}

export class HpackDecoder {
  readonly #maxTableSize: number;
  readonly #maxHeaderListSize: number;
  /** The dynamic table, oldest first (index 62 is the last element). */
  #entries: HeaderField[] = [];
  #size = 0;
  #capacity: number;
  // Cursor state for one decode() call.
  #buf: Uint8Array = new Uint8Array(0);
  #pos = 0;
  #end = 0;

  constructor(options: HpackDecoderOptions = {}) {
    this.#maxTableSize = options.maxTableSize ?? 4096;
    this.#capacity = this.#maxTableSize;
    this.#maxHeaderListSize = options.maxHeaderListSize ?? 16 * 1024;
  }

  /** The dynamic table, newest first (for tests and diagnostics). */
  get table(): HeaderField[] {
    return [...this.#entries].reverse();
  }

  get tableSize(): number {
    return this.#size;
  }

  /** Decode one complete header block. Throws only H2Error COMPRESSION_ERROR. */
  decode(block: Uint8Array): DecodedBlock {
    this.#buf = block;
    this.#pos = 0;
    this.#end = block.length;
    const fields: HeaderField[] = [];
    let listSize = 0;
    let oversize = false;
    let fieldsSeen = false;
    try {
      while (this.#pos < this.#end) {
        const b = block[this.#pos] as number;
        let field: HeaderField;
        if (b & 0x80) {
          // Indexed header field (§6.1).
          const index = this.#integer(7);
          if (index === 0) throw compressionError("index 0");
          field = this.#lookup(index);
        } else if (b & 0x40) {
          // Literal with incremental indexing (§6.2.1).
          const index = this.#integer(6);
          const name = index === 0 ? this.#string() : (this.#lookup(index)[0] as string);
          field = [name, this.#string()];
          this.#insert(field);
        } else if (b & 0x20) {
          // Dynamic table size update (§6.3): only before the first field of a block.
          if (fieldsSeen) throw compressionError("dynamic table size update after a header field");
          const size = this.#integer(5);
          if (size > this.#maxTableSize) throw compressionError(`dynamic table size update to ${size} above the ${this.#maxTableSize} allowed`);
          this.#capacity = size;
          this.#evict(0);
          continue;
        } else {
          // Literal without indexing (0000) or never indexed (0001), §6.2.2-3.
          const index = this.#integer(4);
          const name = index === 0 ? this.#string() : (this.#lookup(index)[0] as string);
          field = [name, this.#string()];
        }
        fieldsSeen = true;
        listSize += field[0].length + field[1].length + 32;
        if (listSize > this.#maxHeaderListSize) oversize = true;
        else fields.push(field);
      }
    } finally {
      this.#buf = new Uint8Array(0);
    }
    return { fields, oversize };
  }

  #integer(prefixBits: number): number {
    const max = (1 << prefixBits) - 1;
    let value = (this.#buf[this.#pos++] as number) & max;
    if (value < max) return value;
    for (let shift = 0; ; shift += 7) {
      if (shift > 28) throw compressionError("integer longer than 5 continuation octets");
      if (this.#pos >= this.#end) throw compressionError("truncated integer");
      const b = this.#buf[this.#pos++] as number;
      value += (b & 0x7f) * 2 ** shift;
      if ((b & 0x80) === 0) break;
    }
    if (value > MAX_INT) throw compressionError("integer above 2^31 - 1");
    return value;
  }

  #string(): string {
    if (this.#pos >= this.#end) throw compressionError("truncated string");
    const huffman = ((this.#buf[this.#pos] as number) & 0x80) !== 0;
    const length = this.#integer(7);
    if (length > this.#end - this.#pos) throw compressionError("string longer than the block");
    const start = this.#pos;
    this.#pos += length;
    if (huffman) return huffmanDecode(this.#buf, start, this.#pos);
    return Buffer.from(this.#buf.buffer, this.#buf.byteOffset + start, length).toString("latin1");
  }

  #lookup(index: number): HeaderField {
    if (index <= STATIC_TABLE.length) return STATIC_TABLE[index - 1] as HeaderField;
    const d = index - STATIC_TABLE.length - 1;
    if (d >= this.#entries.length) throw compressionError(`index ${index} beyond the ${STATIC_TABLE.length + this.#entries.length} entries`);
    return this.#entries[this.#entries.length - 1 - d] as HeaderField;
  }

  #insert(field: HeaderField): void {
    const size = field[0].length + field[1].length + 32;
    if (size > this.#capacity) {
      this.#entries = [];
      this.#size = 0;
      return;
    }
    this.#evict(size);
    this.#entries.push(field);
    this.#size += size;
  }

  /** Evict oldest entries until `room` more octets fit. */
  #evict(room: number): void {
    let drop = 0;
    let size = this.#size;
    while (size + room > this.#capacity && drop < this.#entries.length) {
      const [n, v] = this.#entries[drop++] as HeaderField;
      size -= n.length + v.length + 32;
    }
    if (drop > 0) this.#entries.splice(0, drop);
    this.#size = size;
  }
}

// --- Encoder ---

/** Static-table lookups for the encoder: name → first index, "name\0value" → index. */
const STATIC_NAME = new Map<string, number>();
const STATIC_FIELD = new Map<string, number>();
STATIC_TABLE.forEach(([name, value], i) => {
  if (!STATIC_NAME.has(name)) STATIC_NAME.set(name, i + 1);
  STATIC_FIELD.set(`${name}\0${value}`, i + 1);
});

export interface HpackEncoderOptions {
  /** Huffman-code strings when that is shorter (default false: raw literals, valid HPACK). */
  readonly huffman?: boolean;
}

export class HpackEncoder {
  readonly #huffman: boolean;
  #sizeUpdatePending = true;

  constructor(options: HpackEncoderOptions = {}) {
    this.#huffman = options.huffman ?? false;
  }

  /** The peer changed SETTINGS_HEADER_TABLE_SIZE; our table stays at 0, restated next block. */
  peerTableSizeChanged(): void {
    this.#sizeUpdatePending = true;
  }

  encode(fields: Iterable<HeaderField>): Buffer {
    const out: number[] = [];
    const parts: Buffer[] = [];
    if (this.#sizeUpdatePending) {
      out.push(0x20); // dynamic table size update to 0: we never index
      this.#sizeUpdatePending = false;
    }
    for (const [name, value] of fields) {
      const exact = STATIC_FIELD.get(`${name}\0${value}`);
      if (exact !== undefined) {
        encodeInteger(out, exact, 7, 0x80);
        continue;
      }
      const nameIndex = STATIC_NAME.get(name);
      if (nameIndex !== undefined) encodeInteger(out, nameIndex, 4, 0x00);
      else {
        out.push(0x00);
        this.#string(out, parts, name);
      }
      this.#string(out, parts, value);
    }
    if (parts.length === 0) return Buffer.from(out);
    parts.push(Buffer.from(out));
    return Buffer.concat(parts);
  }

  #string(out: number[], parts: Buffer[], text: string): void {
    if (this.#huffman) {
      const hl = huffmanLength(text);
      if (hl < text.length) {
        encodeInteger(out, hl, 7, 0x80);
        flush(out, parts, huffmanEncode(text));
        return;
      }
    }
    encodeInteger(out, text.length, 7, 0x00);
    if (text.length < 64) for (let i = 0; i < text.length; i++) out.push(text.charCodeAt(i) & 0xff);
    else flush(out, parts, Buffer.from(text, "latin1"));
  }
}

function flush(out: number[], parts: Buffer[], bytes: Buffer): void {
  parts.push(Buffer.from(out), bytes);
  out.length = 0;
}
