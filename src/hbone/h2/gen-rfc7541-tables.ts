/**
 * Generates `huffman-table.ts` and `static-table.ts` from the text of RFC 7541 (HPACK): the rows
 * of Appendix A (static table) and Appendix B (Huffman code) are parsed, checked and written out,
 * so no byte of spec data is typed by hand.
 *
 *   node_modules/.bin/bun run src/hbone/h2/gen-rfc7541-tables.ts <rfc7541.txt>
 *
 * Checks before anything is written (the generator refuses otherwise):
 * - Appendix A has exactly rows 1..61, in order;
 * - Appendix B has exactly symbols 0..256, in order; in every row the bit column and the hex column
 *   agree and the length column is the number of bits;
 * - the code is prefix-free and complete (Kraft sum exactly 1), and the EOS code is 30 ones.
 *
 * The text used for the committed tables: `compression.txt` at commit 2b62aed of
 * github.com/httpwg/http2-spec (the final draft-ietf-httpbis-header-compression of May 2015,
 * whose appendices RFC 7541 published unchanged). As a cross-check, the 257 (length, code)
 * pairs were found byte for byte in Debian's libnghttp2.so.14 (its huff_sym_table).
 */
import { readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

function section(text: string, start: string, end: string): string {
  const from = text.indexOf(`\n${start}`);
  const to = text.indexOf(`\n${end}`, from + 1);
  if (from < 0 || to < 0) throw new Error(`cannot find the section between "${start}" and "${end}"`);
  return text.slice(from, to);
}

export interface HuffmanRow {
  readonly symbol: number;
  readonly code: number;
  readonly bits: number;
}

export function parseHuffman(text: string): HuffmanRow[] {
  const rows: HuffmanRow[] = [];
  const row = /^\s*(?:'.'\s+|EOS\s+)?\(\s*(\d+)\)\s+\|([01|]+)\s+([0-9a-f]+)\s+\[\s*(\d+)\]\s*$/;
  for (const line of section(text, "Appendix B.  Huffman Code", "Appendix C.").split("\n")) {
    const m = row.exec(line);
    if (!m) continue;
    const [, sym, bitText, hex, len] = m as unknown as [string, string, string, string, string];
    const bitString = bitText.replaceAll("|", "");
    const code = parseInt(hex, 16);
    const bits = Number(len);
    if (bitString.length !== bits) throw new Error(`symbol ${sym}: ${bitString.length} bits shown, length column says ${bits}`);
    if (parseInt(bitString, 2) !== code) throw new Error(`symbol ${sym}: bits ${bitString} are not ${hex}`);
    rows.push({ symbol: Number(sym), code, bits });
  }
  if (rows.length !== 257 || rows.some((r, i) => r.symbol !== i)) throw new Error(`expected symbols 0..256, got ${rows.length} rows`);
  // Complete prefix code: the Kraft sum is exactly 1 (in units of 2^-30, the longest code).
  let kraft = 0;
  for (const r of rows) kraft += 2 ** (30 - r.bits);
  if (kraft !== 2 ** 30) throw new Error(`Kraft sum ${kraft / 2 ** 30} is not 1`);
  const codes = new Set(rows.map((r) => `${r.bits}:${r.code}`));
  if (codes.size !== 257) throw new Error("duplicate codes");
  // Prefix-free: no code is a prefix of a longer one.
  for (const a of rows) for (const b of rows) if (a !== b && a.bits < b.bits && b.code >>> (b.bits - a.bits) === a.code) throw new Error(`code of ${a.symbol} is a prefix of ${b.symbol}'s`);
  const eos = rows[256] as HuffmanRow;
  if (eos.bits !== 30 || eos.code !== 0x3fffffff) throw new Error("EOS is not 30 ones");
  return rows;
}

export function parseStaticTable(text: string): Array<[string, string]> {
  const out: Array<[string, string]> = [];
  const row = /^\s*\|\s*(\d+)\s*\|\s*(\S+)\s*\|\s*(.*?)\s*\|\s*$/;
  for (const line of section(text, "Appendix A.  Static Table Definition", "Appendix B.  Huffman Code").split("\n")) {
    const m = row.exec(line);
    if (!m) continue;
    const [, index, name, value] = m as unknown as [string, string, string, string];
    if (Number(index) !== out.length + 1) throw new Error(`static table row ${index} out of order`);
    out.push([name, value]);
  }
  if (out.length !== 61) throw new Error(`expected 61 static table rows, got ${out.length}`);
  return out;
}

/** One example of RFC 7541 Appendix C.2–C.6: a header block and what decoding it must give. */
export interface HpackExample {
  readonly section: string;
  readonly hex: string;
  readonly headers: ReadonlyArray<readonly [string, string]>;
  /** The dynamic table after decoding, newest first. */
  readonly table: ReadonlyArray<readonly [string, string]>;
  readonly tableSize: number;
}

function splitField(text: string): [string, string] {
  const colon = text.indexOf(": ", text.startsWith(":") ? 1 : 0);
  if (colon < 0) throw new Error(`not a header field: ${text}`);
  return [text.slice(0, colon), text.slice(colon + 2)];
}

export function parseExamples(text: string): HpackExample[] {
  const body = section(text, "Appendix C.  Examples", "Authors' Addresses")
    .split("\n")
    .filter((l) => !/^Peon & Ruellan|^Internet-Draft\s+HPACK|^\f/.test(l));
  const out: HpackExample[] = [];
  let i = 0;
  const heading = /^(C\.[2-6]\.\d+)\.\s/;
  while (i < body.length) {
    const h = heading.exec(body[i] as string);
    i++;
    if (!h) continue;
    const sectionName = h[1] as string;
    let hex = "";
    const headers: Array<[string, string]> = [];
    const table: Array<[string, string]> = [];
    const sizes: number[] = [];
    let tableSize = -1;
    let mode: "none" | "hex" | "table" | "list" = "none";
    for (; i < body.length && !heading.test(body[i] as string) && !/^C\.\d\.\s|^Appendix|^Authors/.test(body[i] as string); i++) {
      const line = body[i] as string;
      if (/^\s*Hex dump of encoded data:/.test(line)) mode = "hex";
      else if (/^\s*Decoding process:/.test(line)) mode = "none";
      else if (/^\s*Dynamic table \(after decoding\): empty\.$/i.test(line)) {
        mode = "none";
        tableSize = 0;
      } else if (/^\s*Dynamic Table \(after decoding\):/.test(line)) mode = "table";
      else if (/^\s*Decoded header list:/.test(line)) mode = "list";
      else if (line.trim() === "") continue;
      else if (mode === "hex") {
        const m = /^\s+((?:[0-9a-f]{2,4} ?)+)\s*\|/.exec(line);
        if (!m) throw new Error(`${sectionName}: unexpected line in hex dump: ${line}`);
        hex += (m[1] as string).replaceAll(" ", "");
      } else if (mode === "table") {
        const entry = /^\s+\[\s*\d+\] \(s =\s*(\d+)\) (.*)$/.exec(line);
        const size = /^\s+Table size:\s*(\d+)/.exec(line);
        if (entry) {
          sizes.push(Number(entry[1]));
          table.push(splitField(entry[2] as string));
        } else if (size) tableSize = Number(size[1]);
        else if (table.length > 0) {
          // A long entry wraps onto the next line; the wrap point was a space.
          const last = table[table.length - 1] as [string, string];
          last[1] = `${last[1]} ${line.trim()}`;
        } else throw new Error(`${sectionName}: unexpected line in table: ${line}`);
      } else if (mode === "list") headers.push(splitField(line.trim()));
    }
    if (hex === "" || headers.length === 0 || tableSize < 0) throw new Error(`${sectionName}: incomplete example`);
    table.forEach(([n, v], k) => {
      if (n.length + v.length + 32 !== sizes[k]) throw new Error(`${sectionName}: size of table entry ${n}`);
    });
    if (sizes.reduce((a, b) => a + b, 0) !== tableSize) throw new Error(`${sectionName}: table size`);
    out.push({ section: sectionName, hex, headers, table, tableSize });
  }
  if (out.length !== 16) throw new Error(`expected 16 examples (C.2.1-C.6.3), got ${out.length}`);
  return out;
}

function hexList(values: readonly number[], perLine: number): string {
  const lines: string[] = [];
  for (let i = 0; i < values.length; i += perLine) lines.push(`  ${values.slice(i, i + perLine).map((v) => `0x${v.toString(16)}`).join(", ")},`);
  return lines.join("\n");
}

function main(): void {
  const input = process.argv[2];
  if (!input) throw new Error("usage: gen-rfc7541-tables.ts <rfc7541.txt>");
  const text = readFileSync(input, "latin1");
  const huffman = parseHuffman(text);
  const statics = parseStaticTable(text);
  const examples = parseExamples(text);
  const here = dirname(fileURLToPath(import.meta.url));
  const banner = "// GENERATED by gen-rfc7541-tables.ts from the text of RFC 7541; do not edit by hand.\n";
  writeFileSync(
    join(here, "huffman-table.ts"),
    `${banner}/**
 * RFC 7541 Appendix B, the HPACK Huffman code: symbol i (0..255 octets, 256 = EOS) is the
 * HUFFMAN_BITS[i] low bits of HUFFMAN_CODES[i], most significant bit first. Generated from the RFC
 * text and checked there (bits and hex columns agree, prefix-free, complete, EOS = 30 ones).
 */
export const HUFFMAN_CODES: readonly number[] = [
${hexList(huffman.map((r) => r.code), 8)}
];

export const HUFFMAN_BITS: readonly number[] = [
${huffman.map((r) => r.bits).join(", ").replace(/((?:\d+, ){16})/g, "$1\n  ").replace(/^/, "  ").replace(/ +\n/g, "\n")}
];
`,
  );
  writeFileSync(
    join(here, "static-table.ts"),
    `${banner}/** RFC 7541 Appendix A, the HPACK static table: entry i (1..61) is STATIC_TABLE[i - 1]. */
export const STATIC_TABLE: ReadonlyArray<readonly [name: string, value: string]> = [
${statics.map(([n, v]) => `  [${JSON.stringify(n)}, ${JSON.stringify(v)}],`).join("\n")}
];
`,
  );
  writeFileSync(
    join(here, "rfc7541-examples.test-support.ts"),
    `${banner}/**
 * RFC 7541 Appendix C.2-C.6: each header block (hex), the header list it decodes to and the
 * dynamic table after it (newest first). C.2.x each start from an empty table; C.3.x, C.4.x
 * (4096-octet table), C.5.x and C.6.x (256-octet table) are sequences on one decoder.
 */
import type { HpackExample } from "./gen-rfc7541-tables.ts";

export const RFC7541_EXAMPLES: readonly HpackExample[] = ${JSON.stringify(examples, null, 2).replace(/\[\n\s+("[^"\n]*"),\n\s+("[^"\n]*")\n\s+\]/g, "[$1, $2]")};
`,
  );
  console.log(`wrote ${huffman.length} Huffman codes and ${statics.length} static table entries`);
}

if (import.meta.main) main();
