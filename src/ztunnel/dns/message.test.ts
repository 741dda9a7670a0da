import { describe, expect, test } from "bun:test";
import { MeshError } from "../../errors/mesh-error.ts";
import { mulberry32 as prng } from "../../../test/support/seeded-random.ts";
import {
  buildHeaderReply,
  buildQuery,
  buildReply,
  CLASS_IN,
  encodeName,
  HEADER_SIZE,
  isTruncated,
  MAX_UDP_PAYLOAD,
  MIN_UDP_PAYLOAD,
  parseHead,
  parseMessage,
  parseQuery,
  RCODE,
  replyRcodeOf,
  RR_TYPE,
  sameQuestion,
  udpLimitFor,
} from "./message.ts";

const ip4 = (a: number, b: number, c: number, d: number) => new Uint8Array([a, b, c, d]);
const ip6 = (last: number) => {
  const b = new Uint8Array(16);
  b[0] = 0xfd;
  b[15] = last;
  return b;
};

/** A message from a header (qdcount etc.) and raw section bytes. */
function raw(header: { id?: number; flags?: number; qd?: number; an?: number; ns?: number; ar?: number }, ...body: number[][]): Uint8Array {
  const h = [header.id ?? 0x1234, header.flags ?? 0x0100, header.qd ?? 1, header.an ?? 0, header.ns ?? 0, header.ar ?? 0];
  const bytes: number[] = [];
  for (const v of h) bytes.push(v >> 8, v & 0xff);
  for (const part of body) bytes.push(...part);
  return new Uint8Array(bytes);
}
const label = (s: string) => [s.length, ...Array.from(s, (c) => c.charCodeAt(0))];
const qtail = [0, 1, 0, 1]; // type A, class IN

function parseError(bytes: Uint8Array): MeshError {
  try {
    parseQuery(bytes);
  } catch (err) {
    expect(err).toBeInstanceOf(MeshError);
    return err as MeshError;
  }
  throw new Error("parseQuery accepted the message");
}

describe("queries round-trip", () => {
  test("buildQuery → parseQuery keeps id, flags, question and EDNS", () => {
    const q = parseQuery(buildQuery({ id: 0xbeef, name: "ProductPage.bookinfo.svc.cluster.local.", type: RR_TYPE.AAAA, ednsUdpSize: 4096 }));
    expect(q.header).toMatchObject({ id: 0xbeef, qr: false, opcode: 0, rd: true, qdcount: 1, arcount: 1 });
    expect(q.question.name).toBe("ProductPage.bookinfo.svc.cluster.local");
    expect(q.question.type).toBe(RR_TYPE.AAAA);
    expect(q.question.class).toBe(CLASS_IN);
    expect(q.edns).toEqual({ udpSize: 4096, version: 0, dnssecOk: false });
    expect(udpLimitFor(q)).toBe(MAX_UDP_PAYLOAD);
  });

  test("no EDNS: 512 octets; a small advertised size still gets 512", () => {
    expect(udpLimitFor(parseQuery(buildQuery({ id: 1, name: "a", type: 1 })))).toBe(MIN_UDP_PAYLOAD);
    expect(udpLimitFor(parseQuery(buildQuery({ id: 1, name: "a", type: 1, ednsUdpSize: 100 })))).toBe(MIN_UDP_PAYLOAD);
  });

  test("the root", () => {
    const q = parseQuery(buildQuery({ id: 1, name: ".", type: RR_TYPE.NS, recursionDesired: false }));
    expect(q.question.name).toBe("");
    expect(q.header.rd).toBe(false);
    expect(Array.from(q.question.wire)).toEqual([0]);
  });

  test("an uncompressed question's wire form is a view, not a copy", () => {
    const bytes = buildQuery({ id: 1, name: "a.b", type: 1 });
    const q = parseQuery(bytes);
    expect(q.question.wire.buffer).toBe(bytes.buffer);
    expect(Array.from(q.question.wire)).toEqual([1, 97, 1, 98, 0]);
  });

  test("answer and authority records in a query are skipped; OPT is found among additionals", () => {
    const rr = [0xc0, 0x0c, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 10, 0, 0, 1];
    const opt = [0, 0, 41, 0x04, 0xd0, 0, 0, 0x80, 0, 0, 0];
    const q = parseQuery(raw({ an: 1, ns: 1, ar: 2 }, label("x"), [0], qtail, rr, rr, rr, opt));
    expect(q.edns).toEqual({ udpSize: 1232, version: 0, dnssecOk: true });
  });
});

describe("names", () => {
  test("compression pointers are followed, strictly backward", () => {
    // question example.com at 12; answer owned by www + pointer to 12
    const m = parseMessage(
      raw({ flags: 0x8180, an: 1 }, label("example"), label("com"), [0], qtail, label("www"), [0xc0, 12], [0, 1, 0, 1, 0, 0, 0, 5, 0, 4, 1, 2, 3, 4]),
    );
    expect(m.questions[0]?.name).toBe("example.com");
    expect(m.answers[0]).toMatchObject({ name: "www.example.com", type: 1, class: 1, ttl: 5 });
    expect(Array.from(m.answers[0]?.data ?? [])).toEqual([1, 2, 3, 4]);
  });

  test("a chain of pointers, each further back, is fine; the decoded wire form is uncompressed", () => {
    // 12: a.b. ; answer1 owner: c + ptr 12 (at 23) ; answer2 owner: d + ptr 23
    const rr = [0, 1, 0, 1, 0, 0, 0, 0, 0, 0];
    const bytes = raw({ flags: 0x8180, an: 2 }, label("a"), label("b"), [0], qtail, label("c"), [0xc0, 12], rr, label("d"), [0xc0, 21], rr);
    const m = parseMessage(bytes);
    expect(m.answers.map((a) => a.name)).toEqual(["c.a.b", "d.c.a.b"]);
    const head = parseHead(bytes);
    expect(head.question?.name).toBe("a.b");
  });

  const bad: Array<[string, Uint8Array, string]> = [
    ["a pointer to itself", raw({}, [0xc0, 12], qtail), "backward"],
    ["a pointer forward", raw({}, [0xc0, 14], [0], qtail), "backward"],
    ["a record's name pointing back into itself", raw({ an: 1 }, label("a"), [0], qtail, label("b"), [0xc0, 19]), "backward"],
    ["a pointer to a later pointer", raw({ an: 1 }, label("a"), [0], qtail, [0xc0, 21], [0xc0, 19]), "backward"],
    ["a pointer cut short", raw({}, [0xc0]), "past the end"],
    ["a label past the end", raw({}, [5, 97, 98]), "past the end"],
    ["no terminating zero", raw({}, label("abc")), "past the end"],
    ["label type 01 (extended)", raw({}, [0x41, 0], qtail), "label type"],
    ["label type 10 (reserved)", raw({}, [0x80, 0], qtail), "label type"],
    ["a name of 257 octets", raw({}, ...Array(4).fill(label("x".repeat(63))), [0], qtail), "255"],
    ["a question without type and class", raw({}, label("a"), [0], [0, 1]), "question runs past"],
    ["a record past the end", raw({ an: 1 }, label("a"), [0], qtail, [0, 0, 1, 0, 1]), "past the end"],
    ["record data past the end", raw({ an: 1 }, label("a"), [0], qtail, [0, 0, 1, 0, 1, 0, 0, 0, 0, 0, 9, 1]), "data runs past"],
    ["two OPT records", raw({ ar: 2 }, label("a"), [0], qtail, [0, 0, 41, 2, 0, 0, 0, 0, 0, 0, 0], [0, 0, 41, 2, 0, 0, 0, 0, 0, 0, 0]), "more than one OPT"],
    ["no question", raw({ qd: 0 }), "0 questions"],
    ["two questions", raw({ qd: 2 }, label("a"), [0], qtail, label("b"), [0], qtail), "2 questions"],
  ];
  for (const [what, bytes, message] of bad) {
    test(`FORMERR: ${what}`, () => {
      const err = parseError(bytes);
      expect(err.code).toBe("invalid_argument");
      expect(err.message).toContain(message);
      expect(replyRcodeOf(err)).toBe(RCODE.FORMERR);
    });
  }

  test("parseMessage: an OPT record not owned by the root", () => {
    expect(() => parseMessage(raw({ ar: 1 }, label("a"), [0], qtail, label("a"), [0, 0, 41, 2, 0, 0, 0, 0, 0, 0, 0]))).toThrow("OPT record not owned by the root");
  });

  test("a name of exactly 255 octets is accepted", () => {
    const q = parseQuery(raw({}, ...Array(3).fill(label("x".repeat(63))), label("y".repeat(61)), [0], qtail));
    expect(q.question.wire.length).toBe(255);
    expect(encodeName(q.question.name)).toEqual(q.question.wire);
  });

  test("octets outside letters and digits are escaped, and encodeName reverses it", () => {
    const q = parseQuery(raw({}, [5, 0x61, 0x2e, 0x5c, 0x00, 0xff], label("B_-"), [0], qtail));
    expect(q.question.name).toBe("a\\.\\\\\\000\\255.B_-");
    expect(encodeName(q.question.name)).toEqual(q.question.wire);
  });

  const badNames: Array<[string, string]> = [
    ["a..b", "empty label"],
    [".a", "empty label"],
    ["x".repeat(64), "label longer"],
    [Array(5).fill("x".repeat(60)).join("."), "longer than 255"],
    ["a b", "must be escaped"],
    ["é", "must be escaped"],
    ["a\\256", "not an octet"],
    ["a\\", "backslash"],
  ];
  for (const [name, message] of badNames) {
    test(`encodeName refuses ${JSON.stringify(name.slice(0, 20))}`, () => {
      expect(() => encodeName(name)).toThrow(message);
    });
  }

  test("encodeName: trailing dot, escaped trailing dot, escaped backslash before the dot", () => {
    expect(Array.from(encodeName("a."))).toEqual([1, 97, 0]);
    expect(Array.from(encodeName("a\\."))).toEqual([2, 97, 46, 0]);
    expect(Array.from(encodeName("a\\\\."))).toEqual([2, 97, 92, 0]);
  });
});

describe("what a query that cannot be answered gets", () => {
  test("a response is dropped (no rcode)", () => {
    expect(replyRcodeOf(parseError(raw({ flags: 0x8000 }, label("a"), [0], qtail)))).toBeNull();
  });
  test("a message shorter than a header is dropped", () => {
    expect(replyRcodeOf(parseError(new Uint8Array(11)))).toBeNull();
    expect(buildHeaderReply(new Uint8Array(11), RCODE.FORMERR)).toBeNull();
  });
  test("opcode STATUS gets NOTIMP", () => {
    expect(replyRcodeOf(parseError(raw({ flags: 2 << 11 }, label("a"), [0], qtail)))).toBe(RCODE.NOTIMP);
  });
  test("a header-only reply echoes id, opcode and RD", () => {
    const reply = buildHeaderReply(raw({ id: 0x4242, flags: (2 << 11) | 0x0100 }), RCODE.NOTIMP) as Uint8Array;
    const h = parseMessage(reply).header;
    expect(h).toMatchObject({ id: 0x4242, qr: true, opcode: 2, rd: true, ra: true, rcode: RCODE.NOTIMP, qdcount: 0 });
  });
  test("replyRcodeOf: anything but a MeshError carrying an rcode is a drop", () => {
    expect(replyRcodeOf(new Error("x"))).toBeNull();
    expect(replyRcodeOf(new MeshError("internal", "x"))).toBeNull();
  });
});

describe("replies", () => {
  const query = parseQuery(buildQuery({ id: 7, name: "RevIews.bookinfo", type: RR_TYPE.A }));

  test("A answers with a TTL, echoing id, question (case kept), RD; RA and AA set", () => {
    const reply = buildReply(query, { rcode: RCODE.NOERROR, addresses: [ip4(10, 0, 0, 1), ip4(10, 0, 0, 2)], ttl: 30, authoritative: true });
    const m = parseMessage(reply);
    expect(m.header).toMatchObject({ id: 7, qr: true, aa: true, tc: false, rd: true, ra: true, rcode: 0, qdcount: 1, ancount: 2 });
    expect(m.questions[0]?.name).toBe("RevIews.bookinfo");
    expect(m.answers.map((a) => [a.name, a.type, a.class, a.ttl, Array.from(a.data).join(".")])).toEqual([
      ["RevIews.bookinfo", RR_TYPE.A, CLASS_IN, 30, "10.0.0.1"],
      ["RevIews.bookinfo", RR_TYPE.A, CLASS_IN, 30, "10.0.0.2"],
    ]);
    expect(m.edns).toBeNull();
  });

  test("AAAA answers", () => {
    const q6 = parseQuery(buildQuery({ id: 8, name: "x", type: RR_TYPE.AAAA }));
    const m = parseMessage(buildReply(q6, { rcode: 0, addresses: [ip6(1)], ttl: 5 }));
    expect(m.answers[0]?.type).toBe(RR_TYPE.AAAA);
    expect(m.answers[0]?.data).toEqual(ip6(1));
  });

  for (const rcode of [RCODE.NXDOMAIN, RCODE.SERVFAIL, RCODE.FORMERR, RCODE.NOTIMP]) {
    test(`rcode ${rcode}: no answers, question echoed`, () => {
      const m = parseMessage(buildReply(query, { rcode }));
      expect(m.header).toMatchObject({ id: 7, qr: true, aa: false, rcode, qdcount: 1, ancount: 0 });
      expect(sameQuestion(m.questions[0]!, query.question)).toBe(true);
    });
  }

  test("answers that do not fit are left out and TC is set", () => {
    const many = Array.from({ length: 100 }, (_, i) => ip4(10, 0, 0, i));
    const reply = buildReply(query, { rcode: 0, addresses: many, ttl: 1, maxSize: MIN_UDP_PAYLOAD });
    expect(reply.length).toBeLessThanOrEqual(MIN_UDP_PAYLOAD);
    expect(isTruncated(reply)).toBe(true);
    const m = parseMessage(reply);
    expect(m.answers.length).toBe(Math.floor((MIN_UDP_PAYLOAD - HEADER_SIZE - query.question.wire.length - 4) / 16));
    expect(isTruncated(buildReply(query, { rcode: 0, addresses: many, ttl: 1 }))).toBe(false);
  });

  test("a query with EDNS gets an OPT record; an extended rcode survives the round trip", () => {
    const qe = parseQuery(buildQuery({ id: 9, name: "x", type: 1, ednsUdpSize: 1232 }));
    const ok = parseMessage(buildReply(qe, { rcode: 0, addresses: [ip4(1, 1, 1, 1)] }));
    expect(ok.edns).toEqual({ udpSize: MAX_UDP_PAYLOAD, version: 0, dnssecOk: false });
    const badvers = parseMessage(buildReply(qe, { rcode: RCODE.BADVERS }));
    expect(badvers.header.rcode).toBe(0);
    expect(badvers.rcode).toBe(RCODE.BADVERS);
  });

  test("sameQuestion ignores ASCII case only", () => {
    const a = parseQuery(buildQuery({ id: 1, name: "Foo.Bar", type: 1 })).question;
    expect(sameQuestion(a, parseQuery(buildQuery({ id: 2, name: "fOO.bar", type: 1 })).question)).toBe(true);
    expect(sameQuestion(a, parseQuery(buildQuery({ id: 2, name: "foo.bar", type: 28 })).question)).toBe(false);
    expect(sameQuestion(a, parseQuery(buildQuery({ id: 2, name: "foo.baz", type: 1 })).question)).toBe(false);
  });
});


describe("properties (seeded)", () => {
  test("any label octets: wire → name → encodeName gives the wire back", () => {
    const rand = prng(1035);
    for (let n = 0; n < 2000; n++) {
      const parts: number[][] = [];
      let total = 1;
      const labels = 1 + Math.floor(rand() * 6);
      for (let i = 0; i < labels; i++) {
        const len = 1 + Math.floor(rand() * 40);
        if (total + len + 1 > 255) break;
        total += len + 1;
        parts.push([len, ...Array.from({ length: len }, () => Math.floor(rand() * 256))]);
      }
      const q = parseQuery(raw({}, ...parts, [0], qtail));
      expect(encodeName(q.question.name)).toEqual(q.question.wire);
      expect(parseQuery(buildQuery({ id: n, name: q.question.name, type: 1 })).question.name).toBe(q.question.name);
    }
  });

  test("fuzz: random and mutated messages parse or throw MeshError, quickly", () => {
    const rand = prng(0xd15c0);
    const int = (n: number) => Math.floor(rand() * n);
    const seeds = [
      buildQuery({ id: 1, name: "productpage.bookinfo.svc.cluster.local", type: 1, ednsUdpSize: 1232 }),
      buildReply(parseQuery(buildQuery({ id: 2, name: "a.b.c", type: 28 })), { rcode: 0, addresses: [ip6(1), ip6(2)], ttl: 9 }),
      raw({ flags: 0x8180, an: 2 }, label("a"), label("b"), [0], qtail, label("c"), [0xc0, 12], [0, 1, 0, 1, 0, 0, 0, 0, 0, 0], label("d"), [0xc0, 21], [0, 1, 0, 1, 0, 0, 0, 0, 0, 0]),
    ];
    const check = (bytes: Uint8Array) => {
      for (const parse of [parseQuery, parseMessage, parseHead]) {
        try {
          parse(bytes);
        } catch (err) {
          if (!(err instanceof MeshError)) throw new Error(`${parse.name} threw ${String(err)} for ${Buffer.from(bytes).toString("hex")}`);
        }
      }
    };
    const started = performance.now();
    let cases = 0;
    for (let n = 0; n < 20_000; n++, cases++) {
      const bytes = new Uint8Array(int(300));
      for (let i = 0; i < bytes.length; i++) bytes[i] = int(256);
      if (bytes.length > 5 && rand() < 0.5) bytes[4] = bytes[5] = 0; // small counts make deeper parses
      if (bytes.length > 5 && rand() < 0.5) bytes[5] = 1;
      check(bytes);
    }
    for (let n = 0; n < 30_000; n++, cases++) {
      const base = seeds[n % seeds.length] as Uint8Array;
      let bytes: Uint8Array = base.slice();
      for (let edits = 1 + int(4); edits > 0; edits--) {
        const at = int(bytes.length);
        switch (int(5)) {
          case 0: // flip a bit
            bytes[at] = (bytes[at] as number) ^ (1 << int(8));
            break;
          case 1: // any octet
            bytes[at] = int(256);
            break;
          case 2: // a compression pointer anywhere, to anywhere
            bytes[at] = 0xc0 | int(4);
            if (at + 1 < bytes.length) bytes[at + 1] = int(256);
            break;
          case 3: // truncate
            bytes = bytes.slice(0, at);
            break;
          default: // a huge count
            bytes[4 + 2 * int(4)] = 0xff;
            break;
        }
      }
      check(bytes);
    }
    const elapsed = performance.now() - started;
    expect(cases).toBe(50_000);
    expect(elapsed).toBeLessThan(5000);
  });
});
