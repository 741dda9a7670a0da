import { describe, expect, test } from "bun:test";
import { formatNodeTokenCommonName, formatNodeUri, parseNodeTokenCommonName, parseNodeUri } from "./node-identity.ts";

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

describe("the node token a node certificate names (subject CN)", () => {
  const ID = "5b0c6f1e-0000-4000-8000-000000000001";
  test.each([
    [`node-token:${ID}`, ID],
    [undefined, undefined],
    ["", undefined],
    [ID, undefined],
    ["node-token:", undefined],
    [`node-token:${ID.toUpperCase()}`, undefined],
    [`node-token:${ID}/x`, undefined],
    [`NODE-TOKEN:${ID}`, undefined],
  ])("%s → %s", (cn, id) => {
    expect(parseNodeTokenCommonName(cn)).toBe(id);
  });

  test("format and parse round-trip", () => {
    expect(parseNodeTokenCommonName(formatNodeTokenCommonName(ID))).toBe(ID);
  });
});
