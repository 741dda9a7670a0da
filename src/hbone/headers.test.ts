import { describe, expect, test } from "bun:test";
import { MeshError } from "../errors/mesh-error.ts";
import { parseEndpoint } from "../net/endpoint.ts";
import { connectHeaders, newTraceparent, parseConnectRequest } from "./headers.ts";

describe("parseEndpoint", () => {
  test.each([
    ["10.0.0.1:80", { address: "10.0.0.1", port: 80 }],
    ["[2001:db8::1]:443", { address: "2001:db8::1", port: 443 }],
    ["[2001:DB8:0:0::1]:443", { address: "2001:db8::1", port: 443 }],
    ["10.0.0.1:0", null],
    ["10.0.0.1:65536", null],
    ["10.0.0.1:+80", null],
    ["2001:db8::1:80", null],
    ["[10.0.0.1]:80", null],
    ["productpage:9080", null],
    ["10.0.0.1", null],
    ["", null],
  ])("%p", (text, want) => expect(parseEndpoint(text)).toEqual(want));
});

describe("parseConnectRequest", () => {
  const ok = { ":method": "CONNECT", ":authority": "10.0.2.10:9080" };
  test("round trip with what the client sends", () => {
    const headers = connectHeaders({ target: { address: "10.0.2.10", port: 9080 }, source: { address: "fd00::5", port: 1234 }, baggage: { "k8s.namespace.name": "book info,x" }, traceparent: newTraceparent(() => 0.5) });
    expect(parseConnectRequest(headers)).toEqual({
      target: { address: "10.0.2.10", port: 9080 },
      forwardedFor: { address: "fd00::5", port: 1234 },
      baggage: { "k8s.namespace.name": "book info,x" },
      traceparent: "00-88888888888888888888888888888888-8888888888888888-01",
    });
  });
  test.each([
    [{ ...ok, ":method": "GET" }, "takes only CONNECT"],
    [{ ...ok, ":path": "/" }, ":path is not allowed"],
    [{ ...ok, ":protocol": "websocket" }, ":protocol is not allowed"],
    [{ ":method": "CONNECT" }, "without :authority"],
    [{ ...ok, ":authority": ["10.0.0.1:1", "10.0.0.2:1"] }, "given 2 times"],
    [{ ...ok, forwarded: "proto=http" }, "without for="],
    [{ ...ok, forwarded: 'for="unknown"' }, "not an address"],
    [{ ...ok, baggage: "a" }, "without key=value"],
    [{ ...ok, baggage: "a b=c" }, "not a token"],
    [{ ...ok, baggage: "a=%zz" }, "percent-encoded"],
    [{ ...ok, baggage: "x".repeat(5000) }, "longer than"],
  ])("refuses %p", (headers, why) => {
    expect(() => parseConnectRequest(headers)).toThrow(why);
  });
  test("a malformed traceparent is dropped, not refused", () => {
    expect(parseConnectRequest({ ...ok, traceparent: "junk" })).toEqual({ target: { address: "10.0.2.10", port: 9080 } });
  });
  test("random header sets: a request or a MeshError, nothing else (seeded)", () => {
    let seed = 42;
    const rand = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
    const alphabet = 'CONECT:[]%,;=" forabcdef0123456789.\u0000\u00ff';
    const junk = () => Array.from({ length: Math.floor(rand() * 40) }, () => alphabet[Math.floor(rand() * alphabet.length)]).join("");
    const names = [":method", ":authority", ":path", "forwarded", "baggage", "traceparent"];
    for (let i = 0; i < 5000; i++) {
      const headers: Record<string, string> = { ":method": "CONNECT", ":authority": "10.0.0.1:80" };
      for (const n of names) if (rand() < 0.4) headers[n] = junk();
      try {
        const r = parseConnectRequest(headers);
        expect(r.target.port).toBeGreaterThan(0);
      } catch (err) {
        expect(err).toBeInstanceOf(MeshError);
      }
    }
  });
});
