/**
 * A waypoint in-process on loopback for tests: a control plane with the bookinfo demo manifests
 * plus the test's own, two ztunnels in SOCKS5 mode (node-1 for clients such as sleep at
 * 127.0.1.10, node-2 for the destinations and the waypoint replica) and one waypoint replica —
 * all real (mTLS, HBONE, the mesh CA). Each test file picks its own addresses so files do not
 * collide; `close()` stops everything and removes the data directory.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { BOOKINFO_DEMO_YAML } from "../../src/cli/demo/manifests.ts";
import type { RunningControlPlane } from "../../src/controlplane/server.ts";
import { loadRuntime } from "../../src/runtime/index.ts";
import { createLogControl, type LogControl } from "../../src/telemetry/log.ts";
import { startWaypoint, type RunningWaypoint } from "../../src/waypoint/waypoint.ts";
import { startZtunnel, type RunningZtunnel } from "../../src/ztunnel/ztunnel.ts";
import { applyAndWait, startTestControlPlane } from "./control-plane.ts";
import { eventually } from "./eventually.ts";
import { freePort } from "./ports.ts";

export type LogRecord = Record<string, unknown>;

export interface WaypointMeshOptions {
  /** Manifests beside the bookinfo demo's; HBONE_PORT is replaced by the mesh's HBONE port. */
  readonly yaml: string;
  /** Listen addresses of ztunnel node-1, ztunnel node-2 and the waypoint's admin endpoints. */
  readonly addresses: { readonly node1: string; readonly node2: string; readonly waypointAdmin: string };
  /** Log spec; records are collected in `records`. */
  readonly logSpec?: string;
  /** PEM CA bundle the waypoint trusts for https jwksUri (its --jwks-ca-file). */
  readonly jwksCa?: string;
}

export interface WaypointMesh {
  readonly cp: RunningControlPlane;
  readonly waypoint: RunningWaypoint;
  readonly ztunnels: readonly RunningZtunnel[];
  /** node-1's SOCKS5 listener. */
  readonly socks: { readonly host: string; readonly port: number };
  readonly records: LogRecord[];
  apply(yaml: string): Promise<void>;
  metrics(): Promise<string>;
  close(): Promise<void>;
}

const untilReady = (url: string) =>
  eventually(
    async () => {
      const status = (await fetch(url)).status;
      if (status !== 200) throw new Error(`${url}: ${status}`);
    },
    { timeoutMs: 15_000 },
  );

async function zt(cp: RunningControlPlane, logs: LogControl, dir: string, node: string, address: string, hbonePort: number): Promise<RunningZtunnel> {
  const token = (await cp.tokens.mint(node, 3600_000)).token;
  const z = await startZtunnel(
    {
      node,
      controlPlane: `http://127.0.0.1:${cp.xdsAddress.port}`,
      token: () => token,
      capture: "socks5",
      dataDir: join(dir, node),
      listen: {
        outbound: { host: address, port: 0 },
        inboundPlaintext: { host: address, port: 0 },
        hbone: { host: address, port: hbonePort },
        socks5: { host: address, port: 0 },
        dns: null,
        admin: { host: address, port: 0 },
        metrics: { host: address, port: 0 },
        readiness: { host: address, port: 0 },
      },
      hbonePort,
      drainTimeoutMs: 500,
      connectTimeoutMs: 2000,
    },
    await loadRuntime(),
    logs,
  );
  await untilReady(`http://${address}:${z.addresses.readiness?.port}/healthz/ready`);
  return z;
}

export async function startWaypointMesh(options: WaypointMeshOptions): Promise<WaypointMesh> {
  const records: LogRecord[] = [];
  const logs = createLogControl({ format: "json", spec: options.logSpec ?? "off,access=info,waypoint=info,http=info", write: (line) => records.push(JSON.parse(line)) });
  const dir = mkdtempSync(join(tmpdir(), "mesh-waypoint-"));
  const ztunnels: RunningZtunnel[] = [];
  let cp: RunningControlPlane | undefined;
  let waypoint: RunningWaypoint | undefined;
  const close = async () => {
    await waypoint?.drain(200);
    for (const z of ztunnels) await z.drain(200);
    await cp?.close();
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    const { node1, node2, waypointAdmin } = options.addresses;
    const hbonePort = await freePort();
    const plane = await startTestControlPlane(join(dir, "cp"));
    cp = plane;
    await applyAndWait(plane, `${BOOKINFO_DEMO_YAML}\n---\n${options.yaml.replaceAll("HBONE_PORT", String(hbonePort))}`);
    const z1 = await zt(plane, logs, dir, "node-1", node1, hbonePort);
    ztunnels.push(z1);
    ztunnels.push(await zt(plane, logs, dir, "node-2", node2, hbonePort));
    const token = (await plane.tokens.mint("node-2", 3600_000)).token;
    const w = await startWaypoint(
      {
        gateway: { namespace: "bookinfo", name: "waypoint" },
        node: "node-2",
        controlPlane: `http://127.0.0.1:${plane.xdsAddress.port}`,
        token: () => token,
        dataDir: join(dir, "waypoint"),
        listen: { admin: { host: waypointAdmin, port: 0 }, metrics: { host: waypointAdmin, port: 0 }, readiness: { host: waypointAdmin, port: 0 } },
        hbonePort,
        drainTimeoutMs: 500,
        connectTimeoutMs: 2000,
        ...(options.jwksCa ? { jwksCa: options.jwksCa } : {}),
      },
      await loadRuntime(),
      logs,
    );
    waypoint = w;
    await untilReady(`http://${waypointAdmin}:${w.addresses.readiness?.port}/healthz/ready`);
    return {
      cp: plane,
      waypoint: w,
      ztunnels,
      socks: { host: node1, port: z1.addresses.socks5?.port as number },
      records,
      apply: async (yaml) => void (await applyAndWait(plane, yaml)),
      metrics: async () => (await fetch(`http://${waypointAdmin}:${w.addresses.metrics?.port}/metrics`)).text(),
      close,
    };
  } catch (err) {
    await close().catch(() => {});
    throw err;
  }
}
