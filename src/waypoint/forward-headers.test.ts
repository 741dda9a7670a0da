import { describe, expect, test } from "bun:test";
import { endToEnd, upstreamRequestHeaders } from "./forward-headers.ts";

const fixedHex = (bytes: number) => "ab".repeat(bytes);
const facts = { clientAddress: "10.0.1.10", randomHex: fixedHex };
const names = (pairs: Array<[string, string]>) => pairs.map(([n]) => n.toLowerCase());

describe("hop-by-hop headers stay on their hop (RFC 9110 §7.6.1)", () => {
  const cases: Array<[string, string[], string[]]> = [
    ["fixed list", ["Host", "a", "Connection", "keep-alive", "Keep-Alive", "timeout=5", "TE", "trailers", "Transfer-Encoding", "chunked", "Upgrade", "h2c", "Proxy-Connection", "x"], ["host"]],
    ["fields named by Connection", ["Connection", "close, X-Secret", "x-secret", "1", "x-kept", "2"], ["x-kept"]],
    ["several Connection headers", ["connection", "x-a", "connection", "X-B", "x-a", "1", "x-b", "2", "x-c", "3"], ["x-c"]],
    ["nothing to drop", ["a", "1", "b", "2"], ["a", "b"]],
  ];
  for (const [name, raw, want] of cases) test(name, () => expect(names(endToEnd(raw))).toEqual(want));
});

describe("request headers a proxy adds", () => {
  test("x-forwarded-for appends the client; x-forwarded-proto is ours", () => {
    const { headers } = upstreamRequestHeaders(["X-Forwarded-For", "1.2.3.4", "x-forwarded-proto", "https", "host", "h"], facts);
    expect(headers).toContainEqual(["x-forwarded-for", "1.2.3.4, 10.0.1.10"]);
    expect(headers.filter(([n]) => n.toLowerCase() === "x-forwarded-proto")).toEqual([["x-forwarded-proto", "http"]]);
  });
  test("x-request-id is kept when sent, made (a v4 UUID) when not", () => {
    expect(upstreamRequestHeaders(["x-request-id", "abc"], facts).requestId).toBe("abc");
    expect(upstreamRequestHeaders([], facts).requestId).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(upstreamRequestHeaders(["x-request-id", "x".repeat(300)], facts).requestId).not.toBe("x".repeat(300));
  });
  test("traceparent keeps the trace and flags, with this hop's span as parent", () => {
    const incoming = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";
    const { traceparent, headers } = upstreamRequestHeaders(["traceparent", incoming], facts);
    expect(traceparent).toBe(`00-0af7651916cd43dd8448eb211c80319c-${"ab".repeat(8)}-01`);
    expect(headers.filter(([n]) => n === "traceparent")).toEqual([["traceparent", traceparent]]);
  });
  test("a missing or malformed traceparent starts a trace", () => {
    for (const raw of [[], ["traceparent", "garbage"], ["traceparent", `00-${"0".repeat(32)}-b7ad6b7169203331-01`]]) {
      expect(upstreamRequestHeaders(raw, facts).traceparent).toBe(`00-${"ab".repeat(16)}-${"ab".repeat(8)}-01`);
    }
  });
});
