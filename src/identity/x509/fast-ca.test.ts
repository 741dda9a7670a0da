import { describe, expect, test } from "bun:test";
import { isMeshError } from "../../errors/mesh-error.ts";
import { createCsr, generateWorkloadKey } from "./csr.ts";
import { parseCsrFast } from "./fast-ca.ts";
import { fromPem, toPem } from "./pem.ts";

describe("parseCsrFast (CSRs from the network)", () => {
  test("reads the key kind and the URI SAN of a CSR mesh built, and checks its signature", async () => {
    const pem = await createCsr(await generateWorkloadKey(), "spiffe://cluster.local/ns/a/sa/b");
    const parsed = parseCsrFast(pem);
    expect(parsed.uris).toEqual(["spiffe://cluster.local/ns/a/sa/b"]);
    expect(parsed.key).toEqual({ type: "ec", curve: "P-256" });
  });

  test("random corruption of a valid CSR is refused with a coded error, never a crash (seeded)", async () => {
    const der = fromPem("CERTIFICATE REQUEST", await createCsr(await generateWorkloadKey(), "spiffe://cluster.local/ns/a/sa/b"));
    let seed = 99;
    const rnd = (n: number) => ((seed = (seed * 1103515245 + 12345) >>> 0) % n);
    let refused = 0;
    for (let i = 0; i < 4000; i++) {
      const bytes = Uint8Array.from(der);
      const flips = 1 + rnd(4);
      for (let j = 0; j < flips; j++) bytes[rnd(bytes.length)] = rnd(256);
      const cut = i % 5 === 0 ? bytes.subarray(0, rnd(bytes.length)) : bytes;
      try {
        parseCsrFast(toPem("CERTIFICATE REQUEST", cut));
      } catch (err) {
        if (!isMeshError(err, "invalid_argument")) throw new Error(`case ${i}: ${String(err)}`);
        refused++;
      }
    }
    // Almost every corruption breaks the signature or the structure (the key is fresh each run, so
    // the exact count varies: a byte may be "flipped" to itself, or land where a parser is lenient).
    expect(refused).toBeGreaterThan(3800);
  });

  test("random bytes are refused", () => {
    let seed = 5;
    const rnd = (n: number) => ((seed = (seed * 1664525 + 1013904223) >>> 0) % n);
    for (let i = 0; i < 2000; i++) {
      const bytes = Uint8Array.from({ length: rnd(600) }, () => rnd(256));
      if (i % 3 === 0 && bytes.length > 0) bytes[0] = 0x30;
      expect(() => parseCsrFast(toPem("CERTIFICATE REQUEST", bytes))).toThrow(/bad CSR/);
    }
  });
});
