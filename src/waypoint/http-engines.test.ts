import { describe, expect, test } from "bun:test";
import { PassThrough } from "node:stream";
import { eventually } from "../../test/support/eventually.ts";
import { createLogControl } from "../telemetry/log.ts";
import { engineFor, HttpEngines } from "./http-engines.ts";
import type { HttpProxy, TunnelFacts } from "./http-proxy.ts";
import type { Http2Proxy } from "./http2-proxy.ts";
import { H2_PREFACE } from "./protocol-sniff.ts";

const cases = [
  ["http", "http1"],
  ["http2", "http2"],
  ["grpc", "http2"],
  ["auto", "sniff"],
] as const;
for (const [protocol, engine] of cases) test(`port protocol ${protocol} → ${engine}`, () => expect(engineFor(protocol)).toBe(engine));

describe("HttpEngines on an auto port", () => {
  const facts: TunnelFacts = { peerIdentity: "spiffe://cluster.local/ns/bookinfo/sa/sleep", client: { address: "127.0.1.10", port: 40000 }, match: {} as TunnelFacts["match"] };
  function engines() {
    const served: string[] = [];
    const lines: Array<Record<string, unknown>> = [];
    const logs = createLogControl({ format: "json", spec: "info", write: (l) => lines.push(JSON.parse(l)) });
    const fake = (name: string) => ({ serve: () => void served.push(name), close: () => {} });
    const e = new HttpEngines({ http1: fake("http1") as unknown as HttpProxy, http2: fake("http2") as unknown as Http2Proxy, log: logs.logger("http"), sniffTimeoutMs: 50 });
    return { e, served, lines };
  }

  test("the preface goes to HTTP/2, anything else to HTTP/1.1", async () => {
    const { e, served } = engines();
    const a = new PassThrough();
    const b = new PassThrough();
    e.serve(a, facts, "auto");
    e.serve(b, facts, "auto");
    a.write(H2_PREFACE);
    b.write("GET / HTTP/1.1\r\n");
    await eventually(() => expect(served.sort()).toEqual(["http1", "http2"]));
  });

  test("a silent client is closed at the deadline with a warning naming the peer", async () => {
    const { e, served, lines } = engines();
    const s = new PassThrough();
    e.serve(s, facts, "auto");
    await eventually(() => expect(s.destroyed).toBe(true));
    expect(served).toEqual([]);
    const line = lines.find((l) => l.msg === "protocol detection failed, tunnel closed");
    expect(line?.["src.identity"]).toBe(facts.peerIdentity);
    expect(String(line?.error)).toContain("no bytes within 50 ms");
  });
});
