import { describe, expect, test } from "bun:test";
import { PassThrough } from "node:stream";
import { MeshError } from "../errors/mesh-error.ts";
import { classifyPrefix, H2_PREFACE, sniffHttp } from "./protocol-sniff.ts";

describe("classifyPrefix", () => {
  const cases: Array<[string, Buffer, ReturnType<typeof classifyPrefix>]> = [
    ["empty", Buffer.alloc(0), "more"],
    ["first byte of the preface", Buffer.from("P"), "more"],
    ["23 of 24 preface bytes", H2_PREFACE.subarray(0, 23), "more"],
    ["the whole preface", H2_PREFACE, "http2"],
    ["preface and a SETTINGS frame", Buffer.concat([H2_PREFACE, Buffer.from([0, 0, 0, 4, 0, 0, 0, 0, 0])]), "http2"],
    ["POST diverges at the second byte", Buffer.from("POST / HTTP/1.1\r\n"), "http1"],
    ["GET", Buffer.from("GET / HTTP/1.1\r\n"), "http1"],
    ["PRI with HTTP/1.1", Buffer.from("PRI * HTTP/1.1\r\n\r\n"), "http1"],
    ["preface with a wrong last byte", Buffer.concat([H2_PREFACE.subarray(0, 23), Buffer.from("X")]), "http1"],
    ["TLS ClientHello", Buffer.from([0x16, 0x03, 0x01]), "http1"],
  ];
  for (const [name, bytes, want] of cases) test(name, () => expect(classifyPrefix(bytes)).toBe(want));
});

async function readAll(stream: PassThrough): Promise<Buffer> {
  const chunks: Buffer[] = [];
  stream.on("data", (c: Buffer) => chunks.push(c));
  await new Promise((r) => stream.once("end", r));
  return Buffer.concat(chunks);
}

describe("sniffHttp", () => {
  test("the preface split over chunks is detected and every byte is read again by the engine", async () => {
    const s = new PassThrough();
    const sniffed = sniffHttp(s, 1000);
    s.write(H2_PREFACE.subarray(0, 5));
    s.write(H2_PREFACE.subarray(5, 20));
    s.write(Buffer.concat([H2_PREFACE.subarray(20), Buffer.from("frames")]));
    expect(await sniffed).toBe("http2");
    s.end("more");
    expect((await readAll(s)).toString("latin1")).toBe(`${H2_PREFACE.toString("latin1")}framesmore`);
  });

  test("HTTP/1.1 is decided on the first differing byte, the bytes kept", async () => {
    const s = new PassThrough();
    const sniffed = sniffHttp(s, 1000);
    s.write("GET / HTTP/1.1\r\n");
    expect(await sniffed).toBe("http1");
    s.end("\r\n");
    expect((await readAll(s)).toString()).toBe("GET / HTTP/1.1\r\n\r\n");
  });

  test("a client that sends nothing is refused at the deadline", async () => {
    const outcome = await sniffHttp(new PassThrough(), 50);
    expect(outcome).toBeInstanceOf(MeshError);
    expect((outcome as MeshError).code).toBe("deadline_exceeded");
    expect((outcome as MeshError).message).toContain("no bytes");
  });

  test("a client that stops inside the preface is refused at the deadline", async () => {
    const s = new PassThrough();
    const sniffed = sniffHttp(s, 50);
    s.write(H2_PREFACE.subarray(0, 10));
    const outcome = await sniffed;
    expect((outcome as MeshError).message).toContain("10 bytes of the HTTP/2 preface");
  });

  test("a client that closes inside the preface is refused at once", async () => {
    const s = new PassThrough();
    const sniffed = sniffHttp(s, 10_000);
    s.end(H2_PREFACE.subarray(0, 3));
    const outcome = await sniffed;
    expect((outcome as MeshError).code).toBe("invalid_argument");
  });
});
