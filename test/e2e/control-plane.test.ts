/**
 * The control plane as an operator runs it: dist/mesh control-plane on loopback, driven by
 * dist/mesh apply/get/delete; restarts (graceful and kill -9) lose nothing acknowledged.
 */
import { afterAll, afterEach, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { meshBinary, REPO_ROOT } from "../support/binary.ts";
import { run } from "../support/command.ts";
import { startMesh, type MeshProcess } from "../support/mesh-process.ts";

const dir = mkdtempSync(join(tmpdir(), "mesh-cp-e2e-"));
const dataDir = join(dir, "data");
const bookinfo = join(REPO_ROOT, "test/fixtures/bookinfo.yaml");
afterAll(() => rmSync(dir, { recursive: true, force: true }));

let cp: MeshProcess | undefined;
afterEach(async () => {
  await cp?.stop("SIGKILL");
  cp = undefined;
});

async function startControlPlane(): Promise<string> {
  cp = startMesh(["control-plane", "--data-dir", dataDir, "--api-address", "127.0.0.1:0", "--xds-address", "127.0.0.1:0"]);
  const started = await cp.waitForLog((l) => l.msg === "control plane started", "control plane started");
  return `http://${started.api as string}`;
}

function mesh(server: string, ...args: string[]) {
  return run([meshBinary(), ...args, "--server", server, "--admin-token-file", join(dataDir, "admin-token")], { timeoutMs: 20_000 });
}

describe("mesh control-plane with mesh apply/get/delete", () => {
  test("apply, get, conflict-free re-apply, refusal of bad input, delete", async () => {
    const server = await startControlPlane();
    const applied = await mesh(server, "apply", "-f", bookinfo);
    expect(applied.stderr).toBe("");
    expect(applied.code).toBe(0);
    expect(applied.stdout.trim().split("\n")).toEqual([
      "namespace/bookinfo created",
      "service/bookinfo/productpage created",
      "workloadentry/bookinfo/productpage-v1 created",
      "workloadentry/bookinfo/sleep created",
      "workloadentry/bookinfo/notsleep created",
      "authorizationpolicy/bookinfo/productpage-viewer created",
    ]);
    expect((await mesh(server, "apply", "-f", bookinfo)).stdout).toContain("service/bookinfo/productpage unchanged");

    const table = await mesh(server, "get", "workloadentries", "-n", "bookinfo");
    expect(table.code).toBe(0);
    expect(table.stdout).toMatch(/^NAME\s+ADDRESS\s+NODE\s+SERVICE-ACCOUNT\s+AGE\n/);
    expect(table.stdout).toMatch(/productpage-v1\s+10\.0\.2\.10\s+node-2\s+bookinfo-productpage\s+\d+s/);
    const json = JSON.parse((await mesh(server, "get", "ap", "productpage-viewer", "-n", "bookinfo", "-o", "json")).stdout);
    expect(json.spec.rules[0].from[0].source.principals).toEqual(["cluster.local/ns/bookinfo/sa/sleep"]);

    const bad = join(dir, "bad.yaml");
    writeFileSync(bad, "apiVersion: v1\nkind: Service\nmetadata: {name: ok, namespace: bookinfo}\nspec: {ports: [{port: 80}]}\n---\napiVersion: v1\nkind: Service\nmetadata: {name: broken, namespace: bookinfo}\nspec: {ports: [{port: 99999}]}\n");
    const refused = await mesh(server, "apply", "-f", bad);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toContain("Service bookinfo/broken (document 2): spec.ports[0].port");
    expect((await mesh(server, "get", "svc", "ok", "-n", "bookinfo")).code).toBe(4);

    const noToken = await run([meshBinary(), "get", "svc", "--server", server, "--admin-token", "not-the-token-at-all"]);
    expect(noToken.code).toBe(6);

    expect((await mesh(server, "delete", "ap", "productpage-viewer", "-n", "bookinfo")).stdout.trim()).toBe("authorizationpolicy/bookinfo/productpage-viewer deleted");
    expect((await mesh(server, "delete", "ap", "productpage-viewer", "-n", "bookinfo")).code).toBe(4);
    // Node tokens and the CA, as an operator sees them.
    const minted = await mesh(server, "token", "create", "--node", "node-1", "--ttl", "1h");
    expect(minted.code).toBe(0);
    expect(minted.stdout.trim().split(".")).toHaveLength(3); // a JWT
    expect((await mesh(server, "token", "list")).stdout.trim()).toMatch(/^ID\s+FOR\s+EXPIRES\s+STATE\n\S+\s+node-1\s+\S+\s+valid$/);
    expect((await mesh(server, "token", "revoke", "--node", "node-1")).stdout).toMatch(/node node-1\) revoked/);
    expect((await mesh(server, "token", "list")).stdout.trim()).toMatch(/node-1\s+\S+\s+revoked$/);
    expect((await mesh(server, "token", "create", "--node", "Bad_Node")).code).toBe(2);
    expect((await mesh(server, "ca", "status")).stdout.trim()).toMatch(/^generation 1\nROOT SERIAL\s+EXPIRES\s+ROLE\n[0-9a-f]+\s+\S+\s+signing$/);
    expect((await mesh(server, "ca", "rotate", "retire")).code).toBe(7);

    expect((await cp?.stop("SIGTERM")) ?? "no process").toBe(0);
  });

  test("state survives a graceful restart and a kill -9 right after an acknowledged write", async () => {
    let server = await startControlPlane();
    await mesh(server, "apply", "-f", bookinfo);
    const svc = join(dir, "late.yaml");
    writeFileSync(svc, "apiVersion: v1\nkind: Service\nmetadata: {name: late, namespace: bookinfo}\nspec: {ports: [{port: 8080}]}\n");
    expect((await mesh(server, "apply", "-f", svc)).code).toBe(0);
    await cp?.stop("SIGKILL");

    server = await startControlPlane();
    const listed = JSON.parse((await mesh(server, "get", "services", "-o", "json")).stdout) as { items: Array<{ metadata: { name: string } }> };
    expect(listed.items.map((i) => i.metadata.name).sort()).toEqual(["late", "productpage"]);
    expect(await cp?.stop("SIGTERM")).toBe(0);

    server = await startControlPlane();
    expect((await mesh(server, "get", "svc", "late", "-n", "bookinfo")).code).toBe(0);
  });
});
