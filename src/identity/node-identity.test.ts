import { describe, expect, test } from "bun:test";
import { formatNodeUri, parseNodeUri } from "./node-identity.ts";

describe("node URIs", () => {
  test.each([
    ["urn:mesh:node:node-1", "node-1"],
    ["urn:mesh:node:worker.eu-1", "worker.eu-1"],
    ["urn:mesh:node:", undefined],
    ["urn:mesh:node:Node-1", undefined],
    ["urn:mesh:node:a/b", undefined],
    ["urn:mesh:node:-x", undefined],
    ["spiffe://cluster.local/ns/node/sa/node-1", undefined],
    ["URN:MESH:NODE:node-1", undefined],
  ])("%s → %s", (uri, node) => {
    expect(parseNodeUri(uri)).toBe(node);
  });

  test("format and parse round-trip", () => {
    expect(parseNodeUri(formatNodeUri("node-7"))).toBe("node-7");
  });
});
