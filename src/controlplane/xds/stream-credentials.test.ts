/**
 * The credential watch against a real SQLite store and real node tokens: a revocation written to
 * the store (by this replica or another) ends exactly the streams it authenticated; expiry is
 * caught by the timer (clock injected into the tokens, so nothing waits for a real expiry).
 */
import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { eventually } from "../../../test/support/eventually.ts";
import type { MeshError } from "../../errors/mesh-error.ts";
import { bunRuntime } from "../../runtime/bun.ts";
import { createLogControl } from "../../telemetry/log.ts";
import { MetricsRegistry } from "../../telemetry/metrics.ts";
import { createNodeTokens, type NodeTokens } from "../ca/node-tokens.ts";
import { fileSecrets } from "../ca/secrets.ts";
import { createSqliteStore } from "../store/sqlite-store.ts";
import type { ConfigStore } from "../store/store.ts";
import { ProxyRegistry } from "./proxy-registry.ts";
import { watchStreamCredentials, type StreamCredentialWatch } from "./stream-credentials.ts";

let dir: string;
let store: ConfigStore;
let tokens: NodeTokens;
let clock: Date;
let registry: ProxyRegistry;
let watch: StreamCredentialWatch | undefined;
const log = createLogControl({ format: "text", spec: "off" }).logger("xds");

beforeEach(async () => {
  dir = mkdtempSync(join(tmpdir(), "mesh-stream-creds-"));
  store = createSqliteStore({ db: bunRuntime.openDatabase(join(dir, "store.db")) });
  clock = new Date("2026-12-04T12:00:00Z");
  tokens = await createNodeTokens({ secrets: fileSecrets(dir), store, issuer: "mesh://cluster.local", now: () => clock });
  registry = new ProxyRegistry({ log, metrics: new MetricsRegistry() });
});
afterEach(async () => {
  watch?.close();
  await store.close();
  rmSync(dir, { recursive: true, force: true });
});

/** A registered stream authenticated by `token`; `ended` fills in when the registry ends it. */
function stream(node: string, token: string) {
  const s = { ended: undefined as string | undefined };
  registry.connect(node, "ztunnel", {
    recheck: async () => void (await tokens.verify(token)),
    end: (e: MeshError) => (s.ended = `${e.code}: ${e.message}`),
  });
  return s;
}

describe("watchStreamCredentials", () => {
  test("a revocation in the store ends the streams of that token, and only those", async () => {
    const a = await tokens.mint("node-a", 3600_000);
    const b = await tokens.mint("node-b", 3600_000);
    const sa = stream("node-a", a.token);
    const sb = stream("node-b", b.token);
    watch = watchStreamCredentials({ store, registry, log, intervalMs: 3_600_000 }); // the timer never fires here
    await eventually(async () => {
      await watch?.idle();
      expect(sa.ended).toBeUndefined();
    });
    await tokens.revoke({ node: "node-a" });
    await eventually(() => expect(sa.ended).toBe(`unauthenticated: node token refused: revoked (id ${a.record.id})`));
    await watch.idle();
    expect(sb.ended).toBeUndefined();
  });

  test("an expired token's stream is ended by the timer", async () => {
    const a = await tokens.mint("node-a", 60_000);
    const sa = stream("node-a", a.token);
    watch = watchStreamCredentials({ store, registry, log, intervalMs: 50 });
    await watch.idle();
    expect(sa.ended).toBeUndefined();
    clock = new Date(clock.getTime() + 61_000);
    await eventually(() => expect(sa.ended).toBe("unauthenticated: node token refused: expired"));
  });
});
