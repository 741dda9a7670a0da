/**
 * HPACK against RFC 7541: the Huffman code (C.4 strings, every octet, bad padding and EOS), the
 * integer examples (C.1), every header block of Appendix C.2-C.6 with the dynamic table after
 * it, the decoder's bounds, a seeded fuzz (only COMPRESSION_ERROR may come out), and the encoder.
 */
import { describe, expect, test } from "bun:test";
import { H2Error, H2Code } from "./errors.ts";
import { encodeInteger, HpackDecoder, HpackEncoder, huffmanDecode, huffmanEncode, type HeaderField } from "./hpack.ts";
import { HUFFMAN_BITS, HUFFMAN_CODES } from "./huffman-table.ts";
import { RFC7541_EXAMPLES } from "./rfc7541-examples.test-support.ts";
import { mulberry32 as prng } from "../../../test/support/seeded-random.ts";

const hex = (s: string) => Buffer.from(s.replace(/\s+/g, ""), "hex");


function expectCompressionError(fn: () => unknown): void {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(H2Error);
    expect((err as H2Error).h2Code).toBe(H2Code.COMPRESSION_ERROR);
    expect((err as H2Error).scope).toBe("connection");
    return;
  }
  throw new Error("expected a COMPRESSION_ERROR");
}

describe("Huffman code (RFC 7541 Appendix B)", () => {
  test("C.4.1-C.4.3 strings encode and decode", () => {
    const cases: Array<[string, string]> = [
      ["www.example.com", "f1e3 c2e5 f23a 6ba0 ab90 f4ff"],
      ["no-cache", "a8eb 1064 9cbf"],
      ["custom-key", "25a8 49e9 5ba9 7d7f"],
      ["custom-value", "25a8 49e9 5bb8 e8b4 bf"],
    ];
    for (const [text, code] of cases) {
      expect(huffmanEncode(text).toString("hex")).toBe(hex(code).toString("hex"));
      const b = hex(code);
      expect(huffmanDecode(b, 0, b.length)).toBe(text);
    }
  });

  test("every octet round-trips, alone and in a run of all 256", () => {
    const all = Buffer.alloc(256);
    for (let i = 0; i < 256; i++) {
      all[i] = i;
      const s = String.fromCharCode(i);
      const e = huffmanEncode(s);
      expect(huffmanDecode(e, 0, e.length)).toBe(s);
    }
    const s = all.toString("latin1");
    const e = huffmanEncode(s);
    expect(huffmanDecode(e, 0, e.length)).toBe(s);
  });

  test("EOS, long padding and non-ones padding are refused", () => {
    // EOS (30 ones) then padding: 4 octets of ones hold EOS.
    expectCompressionError(() => huffmanDecode(hex("ffffffff"), 0, 4));
    // 'a' is 00011 (5 bits) + 3 bits of padding 111 → 0x1f; padding 000 is wrong.
    expect(huffmanDecode(hex("1f"), 0, 1)).toBe("a");
    expectCompressionError(() => huffmanDecode(hex("18"), 0, 1));
    // 'a' then a full octet of ones: 11 bits of padding.
    expectCompressionError(() => huffmanDecode(hex("1fff"), 0, 2));
    // One octet of ones alone: 8 bits of padding.
    expectCompressionError(() => huffmanDecode(hex("ff"), 0, 1));
  });

  test("the generated table is a complete prefix code with 257 symbols", () => {
    expect(HUFFMAN_CODES.length).toBe(257);
    expect(HUFFMAN_BITS.length).toBe(257);
    let kraft = 0;
    for (const b of HUFFMAN_BITS) kraft += 2 ** (30 - b);
    expect(kraft).toBe(2 ** 30);
  });
});

describe("integers (RFC 7541 C.1)", () => {
  test("C.1.1-C.1.3", () => {
    const out: number[] = [];
    encodeInteger(out, 10, 5, 0);
    expect(out).toEqual([0x0a]);
    out.length = 0;
    encodeInteger(out, 1337, 5, 0);
    expect(out).toEqual([0x1f, 0x9a, 0x0a]);
    out.length = 0;
    encodeInteger(out, 42, 8, 0);
    expect(out).toEqual([0x2a]);
  });

  test("oversized integers are refused", () => {
    const d = new HpackDecoder();
    // Indexed field with index 2^31 (0x7f prefix + continuation bytes).
    expectCompressionError(() => d.decode(hex("ff 81 ff ff ff 07")));
    // Six continuation octets.
    expectCompressionError(() => new HpackDecoder().decode(hex("ff 80 80 80 80 80 01")));
    // Truncated.
    expectCompressionError(() => new HpackDecoder().decode(hex("ff 80")));
  });
});

describe("decoder against RFC 7541 Appendix C", () => {
  const run = (prefix: string, maxTableSize: number, fresh: boolean) => {
    let decoder = new HpackDecoder({ maxTableSize });
    const examples = RFC7541_EXAMPLES.filter((e) => e.section.startsWith(prefix));
    expect(examples.length).toBeGreaterThan(0);
    for (const ex of examples) {
      if (fresh) decoder = new HpackDecoder({ maxTableSize });
      // The examples run with SETTINGS_HEADER_TABLE_SIZE = maxTableSize; the decoder's table
      // starts at that size (C.5/C.6 use 256 without a size update).
      const got = decoder.decode(hex(ex.hex));
      expect({ section: ex.section, fields: got.fields }).toEqual({ section: ex.section, fields: ex.headers.map(([n, v]) => [n, v]) });
      expect(got.oversize).toBe(false);
      expect(decoder.table).toEqual(ex.table.map(([n, v]) => [n, v]));
      expect(decoder.tableSize).toBe(ex.tableSize);
    }
  };
  test("C.2 field representations", () => run("C.2.", 4096, true));
  test("C.3 requests without Huffman", () => run("C.3.", 4096, false));
  test("C.4 requests with Huffman", () => run("C.4.", 4096, false));
  test("C.5 responses without Huffman (256-octet table, eviction)", () => run("C.5.", 256, false));
  test("C.6 responses with Huffman (256-octet table, eviction)", () => run("C.6.", 256, false));
});

describe("decoder bounds", () => {
  test("bad indices", () => {
    expectCompressionError(() => new HpackDecoder().decode(hex("80")));
    expectCompressionError(() => new HpackDecoder().decode(hex("be"))); // 62, empty dynamic table
    expectCompressionError(() => new HpackDecoder().decode(hex("7f 00 01 61"))); // name index 63
  });

  test("size updates: bounded, only at the start, evicting", () => {
    expectCompressionError(() => new HpackDecoder({ maxTableSize: 4096 }).decode(hex("3f e2 1f"))); // 4097 (4096 is 3f e1 1f)
    const d = new HpackDecoder();
    d.decode(hex("400a637573746f6d2d6b65790d637573746f6d2d686561646572")); // C.2.1 adds 55 octets
    expect(d.tableSize).toBe(55);
    expectCompressionError(() => d.decode(hex("82 20")));
    const d2 = new HpackDecoder();
    d2.decode(hex("400a637573746f6d2d6b65790d637573746f6d2d686561646572"));
    expect(d2.decode(hex("20 3f e1 1f 82")).fields).toEqual([[":method", "GET"]]);
    expect(d2.tableSize).toBe(0);
  });

  test("an entry larger than the table empties it", () => {
    const d = new HpackDecoder({ maxTableSize: 64 });
    d.decode(hex("400a637573746f6d2d6b65790d637573746f6d2d686561646572"));
    expect(d.tableSize).toBe(55);
    const long = "x".repeat(40);
    const block = Buffer.concat([Buffer.from([0x40, 1, 0x61, long.length]), Buffer.from(long)]);
    expect(d.decode(block).fields).toEqual([["a", long]]);
    expect(d.tableSize).toBe(0);
  });

  test("strings longer than the block and a truncated block", () => {
    expectCompressionError(() => new HpackDecoder().decode(hex("00 05 61")));
    expectCompressionError(() => new HpackDecoder().decode(hex("00")));
    expectCompressionError(() => new HpackDecoder().decode(hex("00 01 61")));
  });

  test("a header list beyond maxHeaderListSize is decoded but reported oversize", () => {
    const d = new HpackDecoder({ maxHeaderListSize: 100 });
    const enc = new HpackEncoder();
    const got = d.decode(enc.encode([["a", "x".repeat(50)], ["b", "y".repeat(50)], [":method", "GET"]]));
    expect(got.oversize).toBe(true);
    expect(got.fields).toEqual([["a", "x".repeat(50)]]);
  });

  test("seeded fuzz: random and mutated blocks end in a decode or a COMPRESSION_ERROR", () => {
    const rand = prng(7541);
    const seeds = RFC7541_EXAMPLES.map((e) => hex(e.hex));
    let errors = 0;
    let decoded = 0;
    for (let i = 0; i < 20_000; i++) {
      let block: Buffer;
      if (i % 2 === 0) {
        block = Buffer.alloc(Math.floor(rand() * 64));
        for (let j = 0; j < block.length; j++) block[j] = Math.floor(rand() * 256);
      } else {
        block = Buffer.from(seeds[Math.floor(rand() * seeds.length)] as Buffer);
        for (let k = 0; k < 3; k++) block[Math.floor(rand() * block.length)] = Math.floor(rand() * 256);
      }
      const d = new HpackDecoder({ maxTableSize: 256, maxHeaderListSize: 1024 });
      try {
        for (let k = 0; k < 3; k++) d.decode(block);
        decoded++;
      } catch (err) {
        if (!(err instanceof H2Error) || err.h2Code !== H2Code.COMPRESSION_ERROR) throw err;
        errors++;
      }
      expect(d.tableSize).toBeLessThanOrEqual(256);
    }
    expect(errors).toBeGreaterThan(0);
    expect(decoded).toBeGreaterThan(0);
  });
});

describe("encoder", () => {
  const roundTrip = (fields: HeaderField[], huffman: boolean) => {
    const enc = new HpackEncoder({ huffman });
    const dec = new HpackDecoder();
    for (let i = 0; i < 3; i++) expect(dec.decode(enc.encode(fields)).fields).toEqual(fields.map(([n, v]) => [n, v]));
    expect(dec.tableSize).toBe(0);
  };

  test("CONNECT requests and responses round-trip, with and without Huffman", () => {
    const request: HeaderField[] = [
      [":method", "CONNECT"],
      [":authority", "10.0.0.1:8080"],
      ["forwarded", 'for="10.0.1.10:41000"'],
      ["baggage", "k8s.namespace.name=bookinfo," + "x".repeat(300)],
      ["traceparent", "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"],
    ];
    roundTrip(request, false);
    roundTrip(request, true);
    roundTrip([[":status", "200"]], false);
    roundTrip([[":status", "503"]], true);
  });

  test(":status 200 is one octet after the initial size update", () => {
    const enc = new HpackEncoder();
    expect(enc.encode([[":status", "200"]]).toString("hex")).toBe("2088");
    expect(enc.encode([[":status", "200"]]).toString("hex")).toBe("88");
  });
});
