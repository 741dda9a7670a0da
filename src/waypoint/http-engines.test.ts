import { expect, test } from "bun:test";
import { engineFor } from "./http-engines.ts";

const cases = [
  ["http", "http1"],
  ["http2", "http2"],
  ["grpc", "http2"],
  ["auto", "sniff"],
] as const;
for (const [protocol, engine] of cases) test(`port protocol ${protocol} → ${engine}`, () => expect(engineFor(protocol)).toBe(engine));
