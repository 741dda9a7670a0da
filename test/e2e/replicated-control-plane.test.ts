/**
 * The replicated control plane, end to end: a 3-member etcd cluster and two `dist/mesh
 * control-plane --store etcd` replicas (separate data dirs, one shared admin token), with a real
 * xDS client (a ztunnel's, node-2) subscribed to replica B. It proves that:
 *   - a write through replica A is pushed to the proxy by replica B and listed by B;
 *   - after replica A and the etcd leader (B's first endpoint) are killed -9, B fails over to
 *     the surviving members: concurrent reads through B all succeed during the failover and the
 *     leader election, and a write through B succeeds and is pushed on the same stream;
 *   - nothing acknowledged is lost: B lists all six bookinfo resources, with the change;
 *   - replica A, started again with the same flags, serves the full current config (its API
 *     returns exactly what B returns, and a proxy connected to A gets the change).
 */
import { afterEach, describe, expect, test } from "bun:test";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createLogControl } from "../../src/telemetry/log.ts";
import { caClient } from "../../src/identity/ca-client.ts";
import { createCsr, generateWorkloadKey } from "../../src/identity/x509/csr.ts";
import { XdsClient } from "../../src/xds/client.ts";
import { AUTHORIZATION_TYPE, SERVICE_TYPE, WORKLOAD_TYPE } from "../../src/xds/type-urls.ts";
import type { WorkloadView } from "../../src/state/view.ts";
import { DECODERS } from "../../src/xds/wire.ts";
import { meshBinary, REPO_ROOT } from "../support/binary.ts";
import { run, type CommandResult } from "../support/command.ts";
import { startEtcd, type EtcdCluster } from "../support/etcd.ts";
import { eventually } from "../support/eventually.ts";
import { startMesh, type MeshProcess } from "../support/mesh-process.ts";
import { freePort } from "../support/ports.ts";
import { skipReason } from "../support/requirements.ts";

const BOOKINFO_FILE = join(REPO_ROOT, "test/fixtures/bookinfo.yaml");
const BOOKINFO = readFileSync(BOOKINFO_FILE, "utf8");
const CHANGED = BOOKINFO.replace("address: 10.0.1.10", "address: 10.0.1.12");
const logs = createLogControl({ format: "text", spec: "off" });
const WAIT = { timeoutMs: 15_000, intervalMs: 50 };

interface Listed {
  items: Array<{ kind: string; metadata: { name: string; namespace?: string; resourceVersion: string }; spec: Record<string, unknown> }>;
}

let dir: string | undefined;
let etcd: EtcdCluster | undefined;
const replicas: MeshProcess[] = [];
const clients: XdsClient[] = [];

afterEach(async () => {
  for (const c of clients.splice(0)) await c.stop();
  await Promise.all(replicas.splice(0).map((r) => r.stop("SIGKILL")));
  await etcd?.stop();
  etcd = undefined;
  if (dir) rmSync(dir, { recursive: true, force: true });
  dir = undefined;
});

/** The index of the member that currently leads the cluster (asked of every member; they must agree). */
async function leaderIndex(cluster: EtcdCluster): Promise<number> {
  return eventually(
    async () => {
      const statuses = await Promise.all(
        cluster.endpoints.map(async (e) => {
          const r = await fetch(`${e}/v3/maintenance/status`, { method: "POST", body: "{}", signal: AbortSignal.timeout(2000) });
          return (await r.json()) as { header: { member_id: string }; leader?: string };
        }),
      );
      const leader = statuses[0]?.leader;
      if (!leader || leader === "0" || statuses.some((s) => s.leader !== leader)) throw new Error("no agreed leader yet");
      const i = statuses.findIndex((s) => s.header.member_id === leader);
      if (i < 0) throw new Error(`leader ${leader} is not one of our members`);
      return i;
    },
    { ...WAIT, what: "an etcd leader" },
  );
}

function xdsClient(port: number, token: string): XdsClient {
  const c = new XdsClient({
    server: `http://127.0.0.1:${port}`,
    node: "node-2",
    role: "ztunnel",
    token: () => token,
    decoders: DECODERS,
    log: logs.logger("xds-client"),
    backoff: { initialMs: 50, maxMs: 500 },
  });
  clients.push(c);
  c.start();
  return c;
}

const sortedKeys = (m: ReadonlyMap<string, unknown>) => [...m.keys()].sort();

describe.skipIf(skipReason("replicated control plane", { commands: ["etcd"] }) !== null)("replicated control plane on a 3-member etcd", () => {
  test(
    "a write through one replica is pushed by the other; killing a replica and the etcd leader loses nothing",
    async () => {
      dir = mkdtempSync(join(tmpdir(), "mesh-replicated-"));
      const tokenFile = join(dir, "admin-token");
      writeFileSync(tokenFile, "replicated-control-plane-test-token\n", { mode: 0o600 });
      etcd = await startEtcd(3);
      const cluster = etcd;

      // B lists the leader first: killing it later takes away both B's preferred endpoint and the leader.
      const leader = await leaderIndex(cluster);
      const endpoints = [cluster.endpoints[leader] as string, ...cluster.endpoints.filter((_, i) => i !== leader)];
      const ports = { apiA: await freePort(), xdsA: await freePort(), apiB: await freePort(), xdsB: await freePort() };
      const apiA = `http://127.0.0.1:${ports.apiA}`;
      const apiB = `http://127.0.0.1:${ports.apiB}`;

      const startReplica = async (name: string, api: number, xds: number): Promise<MeshProcess> => {
        const dataDir = join(dir as string, name);
        mkdirSync(dataDir, { recursive: true });
        const p = startMesh([
          "control-plane",
          "--store", "etcd",
          "--etcd-endpoints", endpoints.join(","),
          "--data-dir", dataDir,
          "--admin-token-file", tokenFile,
          "--api-address", `127.0.0.1:${api}`,
          "--xds-address", `127.0.0.1:${xds}`,
        ]);
        replicas.push(p);
        const line = await p.waitForLog((l) => l.msg === "control plane started", `replica ${name} started`, 15_000);
        expect(line.store).toBe("etcd");
        return p;
      };
      const mesh = (server: string, ...args: string[]): Promise<CommandResult> =>
        run([meshBinary(), ...args, "--server", server, "--admin-token-file", tokenFile], { timeoutMs: 25_000 });
      const applyYaml = async (server: string, name: string, yaml: string) => {
        const file = join(dir as string, name);
        writeFileSync(file, yaml);
        return mesh(server, "apply", "-f", file);
      };
      /** Every bookinfo kind through one replica's API, as JSON. */
      const listAll = async (server: string) => {
        const out: Listed["items"] = [];
        for (const plural of ["namespaces", "services", "workloadentries", "authorizationpolicies"]) {
          const r = await mesh(server, "get", plural, "-o", "json");
          if (r.code !== 0) throw new Error(`mesh get ${plural} via ${server} exited ${r.code}: ${r.stderr}`);
          out.push(...(JSON.parse(r.stdout) as Listed).items);
        }
        return out;
      };
      const names = (items: Listed["items"]) => items.map((i) => `${i.kind}/${i.metadata.namespace ?? ""}/${i.metadata.name}`).sort();
      const ALL = [
        "AuthorizationPolicy/bookinfo/productpage-viewer",
        "Namespace//bookinfo",
        "Service/bookinfo/productpage",
        "WorkloadEntry/bookinfo/notsleep",
        "WorkloadEntry/bookinfo/productpage-v1",
        "WorkloadEntry/bookinfo/sleep",
      ];

      const replicaA = await startReplica("a", ports.apiA, ports.xdsA);
      const replicaB = await startReplica("b", ports.apiB, ports.xdsB);

      // A ztunnel on node-2 follows replica B; the store is empty so far.
      // node-2's token, minted through B, is what its proxy shows to either replica.
      const minted = await mesh(apiB, "token", "create", "--node", "node-2");
      expect(minted.code).toBe(0);
      const nodeToken = minted.stdout.trim();
      const proxy = xdsClient(ports.xdsB, nodeToken);
      await proxy.synced(15_000);
      expect(proxy.resources(WORKLOAD_TYPE).size).toBe(0);

      // Write through A; B pushes it (B learns of it only through etcd's watch) and lists it.
      const applied = await mesh(apiA, "apply", "-f", BOOKINFO_FILE);
      expect(applied.stderr).toBe("");
      expect(applied.code).toBe(0);
      expect(applied.stdout.trim().split("\n")).toHaveLength(6);
      await eventually(() => {
        expect(sortedKeys(proxy.resources(WORKLOAD_TYPE))).toEqual(["bookinfo/notsleep", "bookinfo/productpage-v1", "bookinfo/sleep"]);
        expect(sortedKeys(proxy.resources(SERVICE_TYPE))).toEqual(["bookinfo/productpage.bookinfo.svc.cluster.local"]);
        expect(sortedKeys(proxy.resources(AUTHORIZATION_TYPE))).toEqual(["bookinfo/productpage-viewer"]);
      }, { ...WAIT, what: "replica B to push what was written through replica A" });
      const viaB = await mesh(apiB, "get", "workloadentries", "-n", "bookinfo");
      expect(viaB.code).toBe(0);
      expect(viaB.stdout).toMatch(/sleep\s+10\.0\.1\.10\s+node-1/);
      expect(names(await listAll(apiB))).toEqual(ALL);

      // Both replicas sign with one CA (its root lives in etcd, created by whichever started first),
      // and the node token minted through B is accepted by A's CA.
      const caA = await (await fetch(`${apiA}/api/v1/ca`, { headers: { authorization: `Bearer replicated-control-plane-test-token` } })).json();
      const caB = await (await fetch(`${apiB}/api/v1/ca`, { headers: { authorization: `Bearer replicated-control-plane-test-token` } })).json();
      expect(caA).toEqual(caB);
      const certs = caClient({ server: `http://127.0.0.1:${ports.xdsA}`, token: () => nodeToken });
      const chain = await certs.sign(await createCsr(await generateWorkloadKey(), "spiffe://cluster.local/ns/bookinfo/sa/bookinfo-productpage"), 0);
      expect(chain).toHaveLength(2);

      // Kill replica A and the etcd leader, which is also B's first endpoint.
      expect(await replicaA.stop("SIGKILL")).toBe("SIGKILL");
      cluster.kill(leader);

      // While B's etcd client fails over (and etcd elects a new leader), concurrent reads through B
      // all succeed: each request must try every member once, whatever the others are doing.
      const token = readFileSync(tokenFile, "utf8").trim();
      const reads = await Promise.all(
        Array.from({ length: 12 }, async () => {
          const r = await fetch(`${apiB}/api/v1/workloadentries`, { headers: { authorization: `Bearer ${token}` }, signal: AbortSignal.timeout(20_000) });
          return `${r.status} ${r.status === 200 ? ((await r.json()) as Listed).items.length : await r.text()}`;
        }),
      );
      expect(reads).toEqual(Array.from({ length: 12 }, () => "200 3"));

      // A write through B succeeds on the surviving members and reaches the proxy on the same stream.
      const changed = await applyYaml(apiB, "changed.yaml", CHANGED);
      expect(changed.stderr).toBe("");
      expect(changed.code).toBe(0);
      expect(changed.stdout).toContain("workloadentry/bookinfo/sleep configured");
      await eventually(
        () => expect(proxy.resources<WorkloadView>(WORKLOAD_TYPE).get("bookinfo/sleep")?.addresses).toEqual(["10.0.1.12"]),
        { ...WAIT, what: "the change written through B after the kills to reach the proxy" },
      );
      expect(proxy.connected).toBe(true);

      // Nothing lost: all six resources, with the change.
      const afterKills = await listAll(apiB);
      expect(names(afterKills)).toEqual(ALL);
      expect(afterKills.find((i) => i.kind === "WorkloadEntry" && i.metadata.name === "sleep")?.spec.address).toBe("10.0.1.12");
      expect(afterKills.find((i) => i.kind === "WorkloadEntry" && i.metadata.name === "notsleep")?.spec.address).toBe("10.0.1.11");
      expect(replicaB.proc.exitCode).toBeNull();

      // Replica A, started again with the same flags, serves exactly what B serves, API and xDS.
      await startReplica("a", ports.apiA, ports.xdsA);
      expect(await listAll(apiA)).toEqual(afterKills);
      const proxyOnA = xdsClient(ports.xdsA, nodeToken);
      await proxyOnA.synced(15_000);
      expect(sortedKeys(proxyOnA.resources(WORKLOAD_TYPE))).toEqual(["bookinfo/notsleep", "bookinfo/productpage-v1", "bookinfo/sleep"]);
      expect(proxyOnA.resources<WorkloadView>(WORKLOAD_TYPE).get("bookinfo/sleep")?.addresses).toEqual(["10.0.1.12"]);
    },
    90_000,
  );
});
