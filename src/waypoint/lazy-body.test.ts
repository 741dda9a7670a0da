import { describe, expect, test } from "bun:test";
import { PassThrough, Readable } from "node:stream";
import { lazyBody, untouchedSource } from "./lazy-body.ts";

describe("lazy bodies", () => {
  test("an unread body gives its node stream back, untouched", async () => {
    const source = new PassThrough();
    source.end("hello");
    const body = lazyBody(source);
    await new Promise((r) => setTimeout(r, 10));
    expect(untouchedSource(body)).toBe(source);
    expect(source.readableLength).toBe(5); // nothing pulled
  });
  test("a read body yields every byte, and is no longer handed back", async () => {
    const body = lazyBody(Readable.from([Buffer.from("ab"), Buffer.from("cd"), Buffer.from("e")]));
    const text = await new Response(body).text();
    expect(text).toBe("abcde");
    expect(untouchedSource(body)).toBeUndefined();
  });
  test("a large body arrives whole through the web stream", async () => {
    const chunks = Array.from({ length: 200 }, (_, i) => Buffer.alloc(16 * 1024, i % 251));
    const bytes = new Uint8Array(await new Response(lazyBody(Readable.from(chunks))).arrayBuffer());
    expect(bytes.length).toBe(200 * 16 * 1024);
    expect(bytes[16 * 1024 * 7]).toBe(7);
  });
  test("a source error errors the web stream", async () => {
    const source = new PassThrough();
    const body = lazyBody(source);
    const reading = new Response(body).text();
    source.destroy(new Error("reset"));
    expect(await reading.then(() => "ok", (e: Error) => e.message)).toContain("reset");
  });
  test("cancelling destroys the source", async () => {
    const source = new PassThrough();
    const body = lazyBody(source);
    await body.cancel(new Error("no thanks"));
    expect(source.destroyed).toBe(true);
  });
});
