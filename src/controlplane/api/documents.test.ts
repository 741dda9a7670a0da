import { describe, expect, test } from "bun:test";
import { MeshError } from "../../errors/mesh-error.ts";
import { LIMITS, parseDocuments } from "../resources/parse.ts";
import { countJsonKeys, parseRequestDocuments } from "./documents.ts";

/** What a parser made of a text: its documents, or its error's code and message. */
function outcome(parse: (text: string, source: string) => unknown[], text: string): unknown {
  try {
    return { docs: parse(text, "body") };
  } catch (err) {
    const e = MeshError.from(err);
    return { code: e.code, message: e.message };
  }
}

const workload = (i: number) => ({
  apiVersion: "networking.istio.io/v1",
  kind: "WorkloadEntry",
  metadata: { name: `wl-${i}`, namespace: "ns", labels: { app: "a", "x.dev/k": 'q"uo\\te' } },
  spec: { address: `10.0.0.${i}`, ports: [1, 2.5, -3e2], weight: null, enabled: true, node: "n\u00e9\ud83d\ude00" },
});

const deep = (n: number): string => (n === 0 ? "1" : `{"a":${deep(n - 1)}}`);

describe("parseRequestDocuments", () => {
  // Each text gives exactly what the YAML path gives (documents, or the same error).
  const cases: Array<[string, string]> = [
    ["one JSON document", JSON.stringify(workload(1))],
    ["a JSON List", JSON.stringify({ apiVersion: "v1", kind: "List", items: [workload(1), workload(2)] })],
    ["pretty-printed JSON with blanks around", `\n  ${JSON.stringify(workload(3), null, 2)}\n\t`],
    ["escaped quotes and colons inside strings", '{"a":"x\\":\\"y","b":{"c:d":"e:"}}'],
    ["an empty object", "{}"],
    ["duplicate keys (refused, as in YAML)", '{"a":1,"a":2}'],
    ["nested duplicate keys", '{"kind":"List","items":[{"m":{"x":1,"y":2,"x":3}}]}'],
    ["__proto__ as a key", '{"__proto__":{"a":1},"b":2}'],
    ["YAML flow style that is not strict JSON", "{a: 1, b: [x, y]}"],
    ["YAML", "apiVersion: v1\nkind: Namespace\nmetadata: {name: x}\n"],
    ["two JSON documents separated by ---", '{"a":1}\n---\n{"b":2}'],
    ["invalid JSON", '{"a":'],
    ["a JSON array at the top", "[1,2]"],
    ["a List whose items is not an array", '{"kind":"List","items":{"a":1}}'],
    ["nested deeper than the limit", deep(LIMITS.maxDepth + 1)],
    ["nested up to the limit", deep(LIMITS.maxDepth - 1)],
  ];
  for (const [name, text] of cases) {
    test(name, () => {
      expect(outcome(parseRequestDocuments, text)).toEqual(outcome(parseDocuments, text));
    });
  }

  test("more documents than the limit are refused", () => {
    const items = Array.from({ length: LIMITS.maxDocuments + 1 }, (_, i) => ({ i }));
    const text = JSON.stringify({ kind: "List", items });
    expect(outcome(parseRequestDocuments, text)).toEqual(outcome(parseDocuments, text));
    expect(outcome(parseRequestDocuments, text)).toMatchObject({ code: "invalid_argument" });
  });

  test("a large List gives the same documents as the YAML path", () => {
    const text = JSON.stringify({ apiVersion: "v1", kind: "List", items: Array.from({ length: 500 }, (_, i) => workload(i)) });
    expect(parseRequestDocuments(text, "body")).toEqual(parseDocuments(text, "body"));
  });
});

describe("countJsonKeys", () => {
  test.each([
    ["{}", 0],
    ['{"a":1}', 1],
    ['{"a" :\n 1, "b": {"c": [ {"d": "e"} ]}}', 4],
    ['{"a":"b:c","d":"\\"e\\":"}', 2],
    ['["a", "b"]', 0],
  ])("%s has %d keys", (text, keys) => {
    expect(countJsonKeys(text)).toBe(keys);
  });
});
