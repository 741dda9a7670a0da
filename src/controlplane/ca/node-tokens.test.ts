import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { generateKeyPair, SignJWT } from "jose";
import { isMeshError } from "../../errors/mesh-error.ts";
import { bunRuntime } from "../../runtime/bun.ts";
import { createSqliteStore } from "../store/sqlite-store.ts";
import type { ConfigStore } from "../store/store.ts";
import { createNodeTokens, NODE_TOKEN_AUDIENCE, type NodeTokens } from "./node-tokens.ts";
import { fileSecrets } from "./secrets.ts";

let dir: string;
let store: ConfigStore;
let clock: Date;
let tokens: NodeTokens;

beforeEach(async () => {
  dir = mkdtempSync(join(tmpdir(), "mesh-tokens-"));
  store = createSqliteStore({ db: bunRuntime.openDatabase(join(dir, "store.db")) });
  clock = new Date("2026-11-22T00:00:00Z");
  tokens = await createNodeTokens({ secrets: fileSecrets(dir), store, issuer: "mesh://cluster.local", now: () => clock });
});
afterEach(async () => {
  await store.close();
  rmSync(dir, { recursive: true, force: true });
});

async function refused(token: string, why: RegExp) {
  try {
    await tokens.verify(token);
  } catch (err) {
    expect(isMeshError(err, "unauthenticated")).toBe(true);
    expect((err as Error).message).toMatch(why);
    return;
  }
  throw new Error("expected the token to be refused");
}

describe("node tokens", () => {
  test("a minted token speaks for its node until it expires", async () => {
    const { token, record } = await tokens.mint("node-1", 3600_000);
    expect(await tokens.verify(token)).toEqual({ node: "node-1", id: record.id });
    clock = new Date(clock.getTime() + 3601_000);
    await refused(token, /expired/);
  });

  test("verifyId: a token id holds for its node until the token is revoked or its whole-second exp passes", async () => {
    const idRefusal = (id: string, node: string) =>
      tokens.verifyId(id, node).then(
        () => "held",
        (err: unknown) => (isMeshError(err, "unauthenticated") ? (err as Error).message : `unexpected ${String(err)}`),
      );
    clock = new Date("2026-11-22T00:00:00.700Z");
    const { record } = await tokens.mint("node-1", 2000); // exp claim: 00:00:02 (whole seconds)
    expect(await idRefusal(record.id, "node-1")).toBe("held");
    expect(await idRefusal(record.id, "node-2")).toBe("node token refused: subject does not match its record");
    expect(await idRefusal("5b0c6f1e-0000-4000-8000-000000000009", "node-1")).toBe("node token refused: unknown token id");
    clock = new Date("2026-11-22T00:00:01.999Z");
    expect(await idRefusal(record.id, "node-1")).toBe("held");
    clock = new Date("2026-11-22T00:00:02.000Z");
    expect(await idRefusal(record.id, "node-1")).toBe("node token refused: expired");
    const other = await tokens.mint("node-1", 3600_000);
    await tokens.revoke({ id: other.record.id });
    expect(await idRefusal(other.record.id, "node-1")).toBe(`node token refused: revoked (id ${other.record.id})`);
  });

  test("tampered, foreign-signed, wrong-audience and unrecorded tokens are refused", async () => {
    const { token } = await tokens.mint("node-1", 3600_000);
    const [h, p, sig] = token.split(".") as [string, string, string];
    const forged = JSON.parse(Buffer.from(p, "base64url").toString());
    forged.sub = "node-2";
    forged.node = "node-2";
    await refused(`${h}.${Buffer.from(JSON.stringify(forged)).toString("base64url")}.${sig}`, /signature or format/);
    await refused(`${h}.${p}.${sig.slice(0, -4)}AAAA`, /signature or format/);
    await refused("not-a-jwt", /signature or format/);
    const foreign = await generateKeyPair("ES256");
    const claims = (aud: string) =>
      new SignJWT({ node: "node-1" }).setProtectedHeader({ alg: "ES256" }).setIssuer("mesh://cluster.local").setAudience(aud).setSubject("node-1").setJti("x").setIssuedAt(Math.floor(clock.getTime() / 1000)).setExpirationTime(Math.floor(clock.getTime() / 1000) + 60);
    await refused(await claims(NODE_TOKEN_AUDIENCE).sign(foreign.privateKey), /signature or format/);
    // Signed with the real key but never recorded (e.g. the record was lost): refused.
    const secret = await fileSecrets(dir).get("node-tokens");
    const { importPKCS8 } = await import("jose");
    const real = await importPKCS8(secret?.["signing-key.pem"] as string, "ES256");
    await refused(await claims(NODE_TOKEN_AUDIENCE).sign(real), /unknown token id/);
    await refused(await claims("someone-else").sign(real), /claim aud/);
  });

  test("revocation by id and by node; listing", async () => {
    const a = await tokens.mint("node-1", 3600_000);
    const b = await tokens.mint("node-1", 3600_000);
    const c = await tokens.mint("node-2", 3600_000);
    expect((await tokens.revoke({ id: a.record.id })).map((r) => r.id)).toEqual([a.record.id]);
    await refused(a.token, /revoked/);
    expect(await tokens.verify(b.token)).toMatchObject({ node: "node-1" });
    expect((await tokens.revoke({ node: "node-1" })).map((r) => r.id)).toEqual([b.record.id]);
    await refused(b.token, /revoked/);
    expect(await tokens.verify(c.token)).toMatchObject({ node: "node-2" });
    expect((await tokens.list()).map((r) => [r.node, r.revoked])).toEqual([["node-1", true], ["node-1", true], ["node-2", false]]);
    await expect(tokens.revoke({ id: "no-such-id" })).rejects.toThrow(/no node token/);
  });

  test("bad requests to mint are refused", async () => {
    await expect(tokens.mint("Not_A_Node", 1000)).rejects.toThrow(/DNS subdomain/);
    await expect(tokens.mint("n", 0)).rejects.toThrow(/lifetime/);
    await expect(tokens.mint("n", 400 * 24 * 3600_000)).rejects.toThrow(/lifetime/);
  });

  test("the signing key survives a restart (tokens stay valid)", async () => {
    const { token } = await tokens.mint("node-1", 3600_000);
    const again = await createNodeTokens({ secrets: fileSecrets(dir), store, issuer: "mesh://cluster.local", now: () => clock });
    expect(await again.verify(token)).toMatchObject({ node: "node-1" });
  });
});

describe("waypoint tokens", () => {
  test("speak for one Gateway, never a node; revoked by waypoint without touching node tokens", async () => {
    const wp = await tokens.mintWaypoint({ namespace: "bookinfo", name: "waypoint" }, 3600_000);
    const other = await tokens.mintWaypoint({ namespace: "bookinfo", name: "reviews-waypoint" }, 3600_000);
    const node = await tokens.mint("node-1", 3600_000);
    expect(wp.record).toMatchObject({ waypoint: "bookinfo/waypoint" });
    expect(wp.record.node).toBeUndefined();
    expect(await tokens.verify(wp.token)).toEqual({ waypoint: { namespace: "bookinfo", name: "waypoint" }, id: wp.record.id });
    expect((await tokens.revoke({ waypoint: "bookinfo/waypoint" })).map((r) => r.id)).toEqual([wp.record.id]);
    await refused(wp.token, /revoked/);
    expect(await tokens.verify(other.token)).toMatchObject({ waypoint: { name: "reviews-waypoint" } });
    expect(await tokens.verify(node.token)).toMatchObject({ node: "node-1" });
  });

  test("a Gateway that is not NAMESPACE/NAME of DNS labels is refused", async () => {
    for (const gateway of [{ namespace: "Bookinfo", name: "wp" }, { namespace: "a/b", name: "wp" }, { namespace: "ns", name: "" }]) {
      await expect(tokens.mintWaypoint(gateway, 3600_000)).rejects.toThrow("NAMESPACE/NAME");
    }
  });
});
