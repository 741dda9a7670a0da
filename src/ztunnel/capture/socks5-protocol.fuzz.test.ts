/**
 * Property tests of the SOCKS5 parsers, the first code to see bytes from an explicit-proxy client.
 * Seeded, so a failure names the seed and the case (`MESH_FUZZ_SEED=<seed> bun test …`);
 * `MESH_FUZZ_SCALE=20` runs twenty times as many cases.
 *
 * For random bytes and for mutations of valid messages, cut at every byte boundary:
 * - a parser returns (never throws; the only exception allowed anywhere here is a MeshError);
 * - `consumed` is never more than the bytes given, and never zero;
 * - results are monotonic: the first prefix that is not "more" decides, every longer input gives
 *   the same result, and a value is decided exactly at its last byte;
 * - "more" is never returned past the largest legal message;
 * - error replies are what the protocol allows: greeting null or 0xFF, request 0x01, 0x07 or 0x08;
 * - an accepted destination is canonical: it encodes and parses back to itself.
 */
import { describe, expect, test } from "bun:test";
import { MeshError } from "../../errors/mesh-error.ts";
import { canonicalIp } from "../../net/ip.ts";
import { mulberry32, SeededGen } from "../../../test/support/seeded-random.ts";
import {
  encodeGreeting,
  encodeRequest,
  MAX_GREETING_BYTES,
  MAX_REQUEST_BYTES,
  parseGreeting,
  parseRequest,
  type Socks5ParseResult,
} from "./socks5-protocol.ts";

const SEED = Number(process.env.MESH_FUZZ_SEED ?? 0x736f636b);
const SCALE = Number(process.env.MESH_FUZZ_SCALE ?? 1);
const CASES = Math.round(3000 * SCALE);


class Gen extends SeededGen {
  bytes(n: number): number[] {
    return Array.from({ length: n }, () => (this.chance(0.3) ? this.pick([0, 1, 3, 4, 5, 0x2e, 0x3a, 0x61, 0x7f, 0xff]) : this.int(256)));
  }
  hostName(): string {
    const alphabet = "abcdefghijklmnopqrstuvwxyz0123456789-_.ABCXYZ:[]";
    const n = 1 + this.int(this.chance(0.1) ? 300 : 40);
    let s = "";
    for (let i = 0; i < n; i++) s += alphabet[this.int(alphabet.length)];
    return s;
  }
}

const IPS = ["127.0.0.1", "10.0.0.1", "0.0.0.0", "255.255.255.255", "::1", "::", "fd00::7", "2001:db8:0:0:1:0:0:1", "::ffff:10.1.2.3", "1:2:3:4:5:6:7:8"];
const NAMES = ["localhost", "reviews.bookinfo.svc.cluster.local", "Example.COM.", "a", "_grpc._tcp.x-y", "127.0.0.1", "[::1]", "a".repeat(63) + ".b"];

function validGreeting(g: Gen): number[] {
  const methods = Array.from({ length: g.int(6) }, () => g.int(256));
  methods.splice(g.int(methods.length + 1), 0, 0);
  return [...encodeGreeting(methods)];
}

function validRequest(g: Gen): number[] {
  const port = 1 + g.int(65535);
  if (g.chance(0.5)) return [...encodeRequest({ kind: "ip", address: g.pick(IPS), port })];
  let name: string;
  try {
    name = g.chance(0.5) ? g.pick(NAMES) : g.hostName();
    return [...encodeRequest({ kind: "name", name, port })];
  } catch (err) {
    expect(err).toBeInstanceOf(MeshError); // a name too long to encode
    return [...encodeRequest({ kind: "name", name: "x", port })];
  }
}

function mutate(g: Gen, input: number[]): number[] {
  const out = [...input];
  const rounds = 1 + g.int(3);
  for (let r = 0; r < rounds; r++) {
    const at = g.int(out.length + 1);
    switch (g.int(6)) {
      case 0: // flip a byte
        if (out.length > 0) out[Math.min(at, out.length - 1)] = g.int(256);
        break;
      case 1: // insert bytes
        out.splice(at, 0, ...g.bytes(1 + g.int(4)));
        break;
      case 2: // delete bytes
        out.splice(at, 1 + g.int(4));
        break;
      case 3: // truncate
        out.length = at;
        break;
      case 4: // a length byte set to an extreme
        if (out.length > 4) out[g.pick([1, 4])] = g.pick([0, 1, 254, 255]);
        break;
      default: // append trailing data
        out.push(...g.bytes(g.int(20)));
    }
  }
  return out;
}

/** Parse every prefix of `input`; check the invariants; return the deciding result. */
function checkPrefixes<T>(parse: (b: Uint8Array) => Socks5ParseResult<T>, input: Uint8Array, maxMessage: number, allowedReplies: ReadonlyArray<number | null>): Socks5ParseResult<T> {
  let decided: { at: number; result: Socks5ParseResult<T> } | null = null;
  for (let k = 0; k <= input.length; k++) {
    const prefix = input.subarray(0, k);
    let result: Socks5ParseResult<T>;
    try {
      result = parse(prefix);
    } catch (err) {
      throw new Error(`parser threw on ${hex(prefix)}: ${String(err)}`, { cause: err });
    }
    if (result.kind === "more") {
      if (decided) throw new Error(`"more" after a decision at ${decided.at} for ${hex(prefix)}`);
      if (k > maxMessage) throw new Error(`"more" past ${maxMessage} bytes for ${hex(prefix)}`);
      continue;
    }
    if (result.kind === "ok") {
      if (result.consumed < 1 || result.consumed > k) throw new Error(`consumed ${result.consumed} of ${k} for ${hex(prefix)}`);
    } else {
      if (!allowedReplies.includes(result.reply)) throw new Error(`reply ${result.reply} for ${hex(prefix)}`);
      if (result.message.length === 0) throw new Error(`empty message for ${hex(prefix)}`);
    }
    if (decided === null) {
      decided = { at: k, result };
      if (result.kind === "ok" && result.consumed !== k) throw new Error(`decided at ${k} but consumed ${result.consumed} for ${hex(prefix)}`);
    } else {
      expect(result as Socks5ParseResult<T>).toEqual(decided.result);
    }
  }
  return decided?.result ?? { kind: "more" };
}

/** Name the seed, case and input of a failure, so it can be replayed. */
function inCase<T>(i: number, input: Uint8Array, run: () => T): T {
  try {
    return run();
  } catch (err) {
    throw new Error(`seed ${SEED} case ${i} input ${hex(input)}: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
  }
}

function hex(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString("hex");
}

describe(`SOCKS5 parsers under fuzzing (seed ${SEED}, ${CASES} cases each)`, () => {
  test(
    "greeting",
    () => {
      const g = new Gen(mulberry32(SEED));
      const seen = { ok: 0, error: 0, more: 0 };
      for (let i = 0; i < CASES; i++) {
        const input = Uint8Array.from(g.chance(0.3) ? g.bytes(g.int(300)) : g.chance(0.3) ? validGreeting(g) : mutate(g, validGreeting(g)));
        const result = inCase(i, input, () => checkPrefixes(parseGreeting, input, MAX_GREETING_BYTES, [null, 0xff]));
        seen[result.kind]++;
        if (result.kind === "ok") expect(result.value.methods).toContain(0);
      }
      // The generator reaches every outcome.
      expect(seen.ok).toBeGreaterThan(CASES / 10);
      expect(seen.error).toBeGreaterThan(CASES / 10);
      expect(seen.more).toBeGreaterThan(0);
    },
    60_000 * SCALE,
  );

  test(
    "request",
    () => {
      const g = new Gen(mulberry32(SEED + 1));
      const seen = { ok: 0, error: 0, more: 0, names: 0 };
      for (let i = 0; i < CASES; i++) {
        const input = Uint8Array.from(g.chance(0.2) ? g.bytes(g.int(300)) : g.chance(0.3) ? validRequest(g) : mutate(g, validRequest(g)));
        const result = inCase(i, input, () => checkPrefixes(parseRequest, input, MAX_REQUEST_BYTES, [0x01, 0x07, 0x08]));
        seen[result.kind]++;
        if (result.kind !== "ok") continue;
        const { destination } = result.value;
        expect(destination.port).toBeGreaterThanOrEqual(1);
        expect(destination.port).toBeLessThanOrEqual(65535);
        if (destination.kind === "ip") {
          expect(canonicalIp(destination.address)).toBe(destination.address);
        } else {
          seen.names++;
          expect(destination.name).toMatch(/^[a-z0-9_-]{1,63}(\.[a-z0-9_-]{1,63})*\.?$/);
        }
        // Canonical: what was accepted encodes and parses back to itself.
        const again = parseRequest(encodeRequest(destination));
        expect(again.kind === "ok" && again.value.destination).toEqual(destination);
      }
      expect(seen.ok).toBeGreaterThan(CASES / 10);
      expect(seen.names).toBeGreaterThan(CASES / 50);
      expect(seen.error).toBeGreaterThan(CASES / 10);
      expect(seen.more).toBeGreaterThan(0);
    },
    60_000 * SCALE,
  );
});
