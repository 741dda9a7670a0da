import { afterAll, describe, expect, test } from "bun:test";
import { mkdirSync, mkdtempSync, rmSync, truncateSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { LIMITS } from "../controlplane/resources/document-budget.ts";
import { readDocuments } from "./read-documents.ts";

const dir = mkdtempSync(join(tmpdir(), "mesh-read-docs-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const noStdin = () => {
  throw new Error("stdin must not be read");
};

describe("readDocuments (the API's document budget, applied before reading)", () => {
  test("a directory's files, sorted, joined as separate documents", () => {
    const d = join(dir, "ok");
    mkdirSync(d);
    writeFileSync(join(d, "b.yaml"), "b: 2");
    writeFileSync(join(d, "a.json"), '{"a":1}');
    writeFileSync(join(d, "c.txt"), "ignored");
    expect(readDocuments(d, noStdin)).toEqual({ text: '{"a":1}\n---\nb: 2', files: [join(d, "a.json"), join(d, "b.yaml")] });
  });

  test("more files than the document limit are refused (each file is at least one document)", () => {
    const d = join(dir, "many");
    mkdirSync(d);
    for (let i = 0; i <= LIMITS.maxDocuments; i++) writeFileSync(join(d, `${String(i).padStart(4, "0")}.yaml`), "");
    expect(() => readDocuments(d, noStdin)).toThrow(`-f ${d}: more than ${LIMITS.maxDocuments} documents (empty ones count too)`);
  });

  test("a file larger than the API takes is refused before it is read", () => {
    const f = join(dir, "huge.yaml");
    writeFileSync(f, "");
    truncateSync(f, 64 * 1024 * 1024 * 1024); // sparse: 64 GiB that would never fit in memory
    expect(() => readDocuments(f, noStdin)).toThrow(`-f ${f}: larger than ${LIMITS.maxBytes} bytes`);
  });

  test("standard input over the limit is refused", () => {
    expect(() => readDocuments("-", () => "x".repeat(LIMITS.maxBytes + 1))).toThrow(`-f -: larger than ${LIMITS.maxBytes} bytes`);
  });
});
