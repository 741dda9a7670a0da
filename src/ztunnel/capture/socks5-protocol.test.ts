import { describe, expect, test } from "bun:test";
import {
  buildMethodSelection,
  buildReply,
  encodeGreeting,
  encodeRequest,
  parseGreeting,
  parseRequest,
  Socks5Reply,
  type Socks5ParseResult,
} from "./socks5-protocol.ts";

const b = (...xs: number[]) => Uint8Array.of(...xs);
const ascii = (s: string) => [...s].map((c) => c.charCodeAt(0));
const domainRequest = (name: string | number[], port = 80) => {
  const bytes = typeof name === "string" ? ascii(name) : name;
  return b(5, 1, 0, 3, bytes.length, ...bytes, port >> 8, port & 0xff);
};

describe("parseGreeting", () => {
  test("NO AUTH offered alone", () => expect(parseGreeting(b(5, 1, 0))).toEqual({ kind: "ok", value: { methods: [0] }, consumed: 3 }));
  test("NO AUTH among others; trailing bytes are not consumed", () => {
    expect(parseGreeting(b(5, 3, 2, 1, 0, 5, 1, 0))).toEqual({ kind: "ok", value: { methods: [2, 1, 0] }, consumed: 5 });
  });
  test("needs more bytes", () => {
    for (const input of [b(), b(5), b(5, 2), b(5, 2, 0)]) expect(parseGreeting(input)).toEqual({ kind: "more" });
  });
  test("only username/password offered: answer 0xFF", () => {
    const r = parseGreeting(b(5, 1, 2));
    expect(r.kind === "error" && r.reply).toBe(0xff);
  });
  test("no methods at all: answer 0xFF", () => {
    const r = parseGreeting(b(5, 0));
    expect(r.kind === "error" && r.reply).toBe(0xff);
  });
  test("SOCKS4 or HTTP: close without an answer, from the first byte", () => {
    for (const input of [b(4), b(4, 1, 0, 80, 127, 0, 0, 1, 0), b(...ascii("GET / HTTP/1.1\r\n"))]) {
      const r = parseGreeting(input);
      expect(r.kind).toBe("error");
      expect(r.kind === "error" && r.reply).toBeNull();
    }
  });
});

describe("parseRequest", () => {
  const ok: Array<[string, Uint8Array, unknown, number]> = [
    ["IPv4", b(5, 1, 0, 1, 127, 0, 0, 1, 0x1f, 0x90), { kind: "ip", address: "127.0.0.1", port: 8080 }, 10],
    ["IPv6 loopback", b(5, 1, 0, 4, ...Array(15).fill(0), 1, 0, 80), { kind: "ip", address: "::1", port: 80 }, 22],
    ["IPv6 RFC 5952", b(5, 1, 0, 4, 0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 1, 0, 80), { kind: "ip", address: "2001:db8::1:0:0:1", port: 80 }, 22],
    ["IPv4-mapped IPv6", b(5, 1, 0, 4, ...Array(10).fill(0), 0xff, 0xff, 10, 0, 0, 9, 0, 80), { kind: "ip", address: "10.0.0.9", port: 80 }, 22],
    ["domain", domainRequest("reviews.bookinfo.svc.cluster.local", 9080), { kind: "name", name: "reviews.bookinfo.svc.cluster.local", port: 9080 }, 4 + 1 + 34 + 2],
    ["domain lowered, trailing dot kept", domainRequest("Example.COM.", 443), { kind: "name", name: "example.com.", port: 443 }, 4 + 1 + 12 + 2],
    ["domain with _ and -", domainRequest("_http._tcp.my-svc", 1), { kind: "name", name: "_http._tcp.my-svc", port: 1 }, 4 + 1 + 17 + 2],
    ["IPv4 literal as domain", domainRequest("127.0.0.1", 65535), { kind: "ip", address: "127.0.0.1", port: 65535 }, 4 + 1 + 9 + 2],
    ["IPv6 literal as domain", domainRequest("0:0::1", 80), { kind: "ip", address: "::1", port: 80 }, 4 + 1 + 6 + 2],
    ["bracketed IPv6 literal as domain", domainRequest("[::1]", 80), { kind: "ip", address: "::1", port: 80 }, 4 + 1 + 5 + 2],
    ["longest name", domainRequest(Array(4).fill("a".repeat(63)).join("."), 80), { kind: "name", name: Array(4).fill("a".repeat(63)).join("."), port: 80 }, 4 + 1 + 255 + 2],
  ];
  for (const [what, input, destination, consumed] of ok) {
    test(what, () => {
      expect(parseRequest(input)).toEqual({ kind: "ok", value: { destination }, consumed } as Socks5ParseResult<never>);
      // Pipelined data after the request is left alone.
      const withData = Uint8Array.of(...input, ...ascii("GET / HTTP/1.1\r\n"));
      expect(parseRequest(withData)).toEqual({ kind: "ok", value: { destination }, consumed } as Socks5ParseResult<never>);
    });
  }

  const bad: Array<[string, Uint8Array, number]> = [
    ["version 4", b(4), Socks5Reply.generalFailure],
    ["BIND", b(5, 2), Socks5Reply.commandNotSupported],
    ["UDP ASSOCIATE", b(5, 3, 0, 1, 0, 0, 0, 0, 0, 0), Socks5Reply.commandNotSupported],
    ["reserved byte set", b(5, 1, 1), Socks5Reply.generalFailure],
    ["address type 2", b(5, 1, 0, 2), Socks5Reply.addressTypeNotSupported],
    ["address type 0xff", b(5, 1, 0, 0xff, 1, 2, 3), Socks5Reply.addressTypeNotSupported],
    ["empty domain", b(5, 1, 0, 3, 0), Socks5Reply.generalFailure],
    ["NUL in domain", domainRequest([0x61, 0x00, 0x62]), Socks5Reply.generalFailure],
    ["newline in domain", domainRequest("a\nb"), Socks5Reply.generalFailure],
    ["DEL in domain", domainRequest([0x61, 0x7f]), Socks5Reply.generalFailure],
    ["non-ASCII domain", domainRequest([0x63, 0x61, 0x66, 0xc3, 0xa9]), Socks5Reply.generalFailure],
    ["space in domain", domainRequest("a b"), Socks5Reply.generalFailure],
    ["slash in domain", domainRequest("a/b"), Socks5Reply.generalFailure],
    ["empty label", domainRequest("a..b"), Socks5Reply.generalFailure],
    ["leading dot", domainRequest(".a"), Socks5Reply.generalFailure],
    ["only a dot", domainRequest("."), Socks5Reply.generalFailure],
    ["label of 64", domainRequest("a".repeat(64) + ".com"), Socks5Reply.generalFailure],
    ["inet_aton short form", domainRequest("127.1"), Socks5Reply.generalFailure],
    ["inet_aton hex", domainRequest("0x7f.0.0.1"), Socks5Reply.generalFailure],
    ["inet_aton decimal", domainRequest("2130706433"), Socks5Reply.generalFailure],
    ["inet_aton octal", domainRequest("0177.0.0.01"), Socks5Reply.generalFailure],
    ["IPv6 with zone", domainRequest("fe80::1%eth0"), Socks5Reply.generalFailure],
    ["port 0", b(5, 1, 0, 1, 127, 0, 0, 1, 0, 0), Socks5Reply.generalFailure],
  ];
  for (const [what, input, reply] of bad) {
    test(`refuses ${what} with REP 0x0${reply}`, () => {
      const r = parseRequest(input);
      expect(r.kind).toBe("error");
      expect(r.kind === "error" && r.reply).toBe(reply);
      expect(r.kind === "error" && r.message.length > 0).toBe(true);
    });
  }

  test("needs more bytes at every cut of a valid request", () => {
    const full = domainRequest("example.com", 443);
    for (let k = 0; k < full.length; k++) expect(parseRequest(full.subarray(0, k))).toEqual({ kind: "more" });
  });
});

describe("builders", () => {
  test("method selection", () => {
    expect([...buildMethodSelection(0)]).toEqual([5, 0]);
    expect([...buildMethodSelection(0xff)]).toEqual([5, 0xff]);
  });
  test("reply without a bound address is 0.0.0.0:0", () => expect([...buildReply(Socks5Reply.connectionRefused)]).toEqual([5, 5, 0, 1, 0, 0, 0, 0, 0, 0]));
  test("reply with an IPv4 bound address", () => expect([...buildReply(0, { address: "10.1.2.3", port: 0x1234 })]).toEqual([5, 0, 0, 1, 10, 1, 2, 3, 0x12, 0x34]));
  test("reply with an IPv6 bound address", () => expect([...buildReply(0, { address: "::1", port: 80 })]).toEqual([5, 0, 0, 4, ...Array(15).fill(0), 1, 0, 80]));
  test("bad arguments throw MeshError invalid_argument", () => {
    const calls = [
      () => buildReply(256),
      () => buildReply(-1),
      () => buildReply(0.5),
      () => buildReply(0, { address: "example.com", port: 80 }),
      () => buildReply(0, { address: "127.0.0.1", port: 65536 }),
      () => buildMethodSelection(300),
      () => encodeRequest({ kind: "name", name: "", port: 80 }),
      () => encodeRequest({ kind: "name", name: "a".repeat(256), port: 80 }),
      () => encodeRequest({ kind: "ip", address: "nope", port: 80 }),
      () => encodeGreeting(Array(256).fill(0)),
    ];
    for (const call of calls) expect(call).toThrow(expect.objectContaining({ name: "MeshError", code: "invalid_argument" }));
  });
  test("encodeRequest and parseRequest round-trip", () => {
    for (const destination of [
      { kind: "ip", address: "192.0.2.1", port: 1 },
      { kind: "ip", address: "fd00::7", port: 65535 },
      { kind: "name", name: "ratings.default.svc", port: 9080 },
    ] as const) {
      const bytes = encodeRequest(destination);
      expect(parseRequest(bytes)).toEqual({ kind: "ok", value: { destination }, consumed: bytes.length });
    }
  });
  test("encodeGreeting and parseGreeting round-trip", () => {
    const bytes = encodeGreeting([2, 0]);
    expect(parseGreeting(bytes)).toEqual({ kind: "ok", value: { methods: [2, 0] }, consumed: 4 });
  });
});
