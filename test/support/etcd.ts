/**
 * Real etcd for tests (Debian's etcd-server): a single member or a cluster, on loopback ports, in
 * a temporary directory. stop() kills every member and removes the data; members can be killed
 * one by one to test failover.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { eventually } from "./eventually.ts";
import { freePort } from "./ports.ts";

export interface EtcdCluster {
  readonly endpoints: string[];
  kill(member: number): void;
  stop(): Promise<void>;
}

export async function startEtcd(members = 1): Promise<EtcdCluster> {
  const dir = mkdtempSync(join(tmpdir(), "mesh-etcd-"));
  const ports = await Promise.all(Array.from({ length: members }, async () => ({ client: await freePort(), peer: await freePort() })));
  const names = ports.map((_, i) => `m${i}`);
  const initialCluster = ports.map((p, i) => `${names[i]}=http://127.0.0.1:${p.peer}`).join(",");
  const procs: ChildProcess[] = ports.map((p, i) =>
    spawn(
      "etcd",
      [
        "--name", names[i] as string,
        "--data-dir", join(dir, names[i] as string),
        "--listen-client-urls", `http://127.0.0.1:${p.client}`,
        "--advertise-client-urls", `http://127.0.0.1:${p.client}`,
        "--listen-peer-urls", `http://127.0.0.1:${p.peer}`,
        "--initial-advertise-peer-urls", `http://127.0.0.1:${p.peer}`,
        "--initial-cluster", initialCluster,
        "--initial-cluster-token", `mesh-test-${process.pid}`,
        "--initial-cluster-state", "new",
        "--log-level", "error",
      ],
      { stdio: ["ignore", "ignore", "pipe"] },
    ),
  );
  const endpoints = ports.map((p) => `http://127.0.0.1:${p.client}`);
  const cluster: EtcdCluster = {
    endpoints,
    kill: (i) => procs[i]?.kill("SIGKILL"),
    stop: async () => {
      await Promise.all(
        procs.map(
          (p) =>
            new Promise<void>((resolve) => {
              if (p.exitCode !== null || p.signalCode !== null) return resolve();
              p.once("exit", () => resolve());
              p.kill("SIGKILL");
            }),
        ),
      );
      rmSync(dir, { recursive: true, force: true });
    },
  };
  try {
    await eventually(
      async () => {
        for (const e of endpoints) {
          const r = await fetch(`${e}/health`, { signal: AbortSignal.timeout(1000) });
          const body = (await r.json()) as { health?: string };
          if (body.health !== "true") throw new Error(`${e} not healthy yet`);
        }
      },
      { timeoutMs: 20_000, intervalMs: 100, what: "etcd to become healthy" },
    );
  } catch (err) {
    await cluster.stop();
    throw err;
  }
  return cluster;
}
