/**
 * Frame headers and the incremental frame reader: round trips, a stream of mixed frames split at
 * every octet, zero-copy DATA views, and the size checks.
 */
import { describe, expect, test } from "bun:test";
import { H2Code, H2Error } from "./errors.ts";
import { decodeFrameHeader, encodeFrame, encodeFrameHeader, Flag, FrameReader, FrameType, goawayFrame, parseSettings, pingFrame, rstStreamFrame, settingsFrame, windowUpdateFrame, type FrameSink } from "./frames.ts";

interface Seen {
  type: number;
  flags: number;
  streamId: number;
  payload: string;
  /** For DATA: the length the flow control is charged. */
  length?: number;
}

/** A sink that records frames, joining DATA pieces back together (and counting the pieces). */
function recorder(): { sink: FrameSink; frames: Seen[]; pieces: Buffer[] } {
  const frames: Seen[] = [];
  const pieces: Buffer[] = [];
  let data: { flags: number; streamId: number; length: number; parts: Buffer[] } | undefined;
  const sink: FrameSink = {
    onFrame: (type, flags, streamId, payload) => frames.push({ type, flags, streamId, payload: payload.toString("hex") }),
    onDataStart: (flags, streamId, length) => {
      data = { flags, streamId, length, parts: [] };
    },
    onData: (piece) => {
      pieces.push(piece);
      data?.parts.push(Buffer.from(piece));
    },
    onDataEnd: () => {
      if (!data) throw new Error("DATA end without start");
      frames.push({ type: FrameType.DATA, flags: data.flags, streamId: data.streamId, payload: Buffer.concat(data.parts).toString("hex"), length: data.length });
      data = undefined;
    },
  };
  return { sink, frames, pieces };
}

const payload = (n: number, seed = 1) => Buffer.from(Array.from({ length: n }, (_, i) => (i * 31 + seed) & 0xff));

describe("frame header", () => {
  test("encode and decode round-trip, the reserved bit ignored", () => {
    for (const [length, type, flags, id] of [
      [0, 0, 0, 0],
      [16_384, 1, 0x25, 1],
      [16_777_215, 9, 0xff, 0x7fffffff],
      [65_536, 0xfe, 0, 12345],
    ] as const) {
      const h = encodeFrameHeader(length, type, flags, id);
      expect(h.length).toBe(9);
      expect(decodeFrameHeader(h)).toEqual({ length, type, flags, streamId: id });
    }
    const h = encodeFrameHeader(1, 0, 0, 5);
    h[5] = (h[5] as number) | 0x80;
    expect(decodeFrameHeader(h).streamId).toBe(5);
  });

  test("control frame builders", () => {
    expect(parseSettings(settingsFrame([[4, 4 << 20], [5, 1 << 20]]).subarray(9))).toEqual([[4, 4 << 20], [5, 1 << 20]]);
    expect(windowUpdateFrame(3, 1000).toString("hex")).toBe("000004080000000003000003e8");
    expect(rstStreamFrame(1, H2Code.CANCEL).toString("hex")).toBe("00000403000000000100000008");
    expect(goawayFrame(7, H2Code.ENHANCE_YOUR_CALM, "x").toString("hex")).toBe("000009" + "07" + "00" + "00000000" + "00000007" + "0000000b" + "78");
    expect(pingFrame(Buffer.alloc(8, 1), true).subarray(0, 9).toString("hex")).toBe("000008060100000000");
  });
});

describe("frame reader", () => {
  const frames = [
    settingsFrame([[3, 100], [4, 4 << 20]]),
    encodeFrame(FrameType.HEADERS, Flag.END_HEADERS, 1, payload(20)),
    encodeFrame(FrameType.DATA, 0, 1, payload(1000, 2)),
    encodeFrame(FrameType.DATA, Flag.END_STREAM, 3, Buffer.alloc(0)),
    // Padded DATA: pad length 3, 5 octets of content, 3 of padding.
    encodeFrame(FrameType.DATA, Flag.PADDED, 5, Buffer.concat([Buffer.from([3]), payload(5, 3), Buffer.alloc(3)])),
    encodeFrame(0x42, 0, 0, payload(17)), // unknown type: skipped
    encodeFrame(0x43, 0, 0), // unknown, empty
    encodeFrame(FrameType.CONTINUATION, Flag.END_HEADERS, 1, Buffer.alloc(0)),
    pingFrame(payload(8), false),
    windowUpdateFrame(0, 1 << 24),
  ];
  const wire = Buffer.concat(frames);
  const expected = [
    { type: 4, flags: 0, streamId: 0, payload: settingsFrame([[3, 100], [4, 4 << 20]]).subarray(9).toString("hex") },
    { type: 1, flags: 4, streamId: 1, payload: payload(20).toString("hex") },
    { type: 0, flags: 0, streamId: 1, payload: payload(1000, 2).toString("hex"), length: 1000 },
    { type: 0, flags: 1, streamId: 3, payload: "", length: 0 },
    { type: 0, flags: 8, streamId: 5, payload: payload(5, 3).toString("hex"), length: 9 },
    { type: 9, flags: 4, streamId: 1, payload: "" },
    { type: 6, flags: 0, streamId: 0, payload: payload(8).toString("hex") },
    { type: 8, flags: 0, streamId: 0, payload: "01000000" },
  ];

  test("one chunk: every frame, DATA as a view without copying", () => {
    const r = recorder();
    new FrameReader(r.sink, { maxFrameSize: 16_384 }).push(wire);
    expect(r.frames).toEqual(expected);
    // The 1000-octet DATA payload arrived as one view into the chunk.
    const big = r.pieces.find((p) => p.length === 1000) as Buffer;
    expect(big.buffer).toBe(wire.buffer);
  });

  test("split at every octet, and fed one octet at a time", () => {
    for (let cut = 1; cut < wire.length; cut++) {
      const r = recorder();
      const reader = new FrameReader(r.sink, { maxFrameSize: 16_384 });
      reader.push(wire.subarray(0, cut));
      reader.push(wire.subarray(cut));
      expect(r.frames).toEqual(expected);
    }
    const r = recorder();
    const reader = new FrameReader(r.sink, { maxFrameSize: 16_384 });
    for (let i = 0; i < wire.length; i++) reader.push(wire.subarray(i, i + 1));
    expect(r.frames).toEqual(expected);
  });

  test("a frame above our SETTINGS_MAX_FRAME_SIZE is a FRAME_SIZE_ERROR from its header alone", () => {
    const r = recorder();
    const reader = new FrameReader(r.sink, { maxFrameSize: 16_384 });
    const err = (() => {
      try {
        reader.push(encodeFrameHeader(16_385, FrameType.DATA, 0, 1));
      } catch (e) {
        return e as H2Error;
      }
      return undefined;
    })();
    expect(err?.h2Code).toBe(H2Code.FRAME_SIZE_ERROR);
    expect(err?.scope).toBe("connection");
  });

  test("a non-DATA frame above the buffering bound is refused before buffering", () => {
    const reader = new FrameReader(recorder().sink, { maxFrameSize: 1 << 20, maxBufferedFrameSize: 32_768 });
    expect(() => reader.push(encodeFrameHeader(32_769, FrameType.HEADERS, 0, 1))).toThrow(H2Error);
    // DATA of the same size is fine (streamed, not buffered).
    const r = recorder();
    new FrameReader(r.sink, { maxFrameSize: 1 << 20, maxBufferedFrameSize: 32_768 }).push(encodeFrame(FrameType.DATA, 0, 1, payload(40_000)));
    expect(r.frames[0]?.length).toBe(40_000);
  });

  test("padding as long as the frame is a PROTOCOL_ERROR", () => {
    const reader = new FrameReader(recorder().sink, { maxFrameSize: 16_384 });
    try {
      reader.push(encodeFrame(FrameType.DATA, Flag.PADDED, 1, Buffer.from([4, 0, 0, 0])));
      throw new Error("no error");
    } catch (e) {
      expect((e as H2Error).h2Code).toBe(H2Code.PROTOCOL_ERROR);
    }
  });
});
