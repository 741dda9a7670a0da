/**
 * An in-process control plane for integration tests: SQLite in `dataDir`, API and xDS on loopback
 * (xDS on a given port when a test restarts it and clients must find it again), logs off unless
 * the test passes its own.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import assert from "node:assert/strict";
import { planApply } from "../../src/controlplane/api/apply.ts";
import { startControlPlane, type ControlPlaneConfig, type RunningControlPlane } from "../../src/controlplane/server.ts";
import { loadRuntime } from "../../src/runtime/index.ts";
import { createLogControl, type LogControl } from "../../src/telemetry/log.ts";
import { eventually } from "./eventually.ts";

export const BOOKINFO_YAML = readFileSync(new URL("../fixtures/bookinfo.yaml", import.meta.url), "utf8");

/** A waypoint (Gateway of class istio-waypoint) in bookinfo with one replica, waypoint-1 at 10.0.2.40 on node-2. */
export const WAYPOINT_YAML = `apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: waypoint, namespace: bookinfo}
spec: {gatewayClassName: istio-waypoint, listeners: [{name: mesh, port: 15008, protocol: HBONE}]}
---
apiVersion: networking.istio.io/v1
kind: WorkloadEntry
metadata: {name: waypoint-1, namespace: bookinfo}
spec: {address: 10.0.2.40, node: node-2, serviceAccount: waypoint, labels: {gateway.networking.k8s.io/gateway-name: waypoint}}
`;

export async function startTestControlPlane(
  dataDir: string,
  options: { xdsPort?: number; ca?: ControlPlaneConfig["ca"]; now?: () => Date; xdsTls?: { cert: string; key: string }; logs?: LogControl; xdsLimits?: ControlPlaneConfig["xds"]["limits"] } = {},
): Promise<RunningControlPlane> {
  return await startControlPlane(
    {
      dataDir,
      store: { backend: "sqlite" },
      api: { host: "127.0.0.1", port: 0 },
      xds: { host: "127.0.0.1", port: options.xdsPort ?? 0, ...(options.xdsTls ? { tls: options.xdsTls } : {}), ...(options.xdsLimits ? { limits: options.xdsLimits } : {}) },
      adminTokenFile: join(dataDir, "admin-token"),
      trustDomain: "cluster.local",
      ...(options.ca ? { ca: options.ca } : {}),
      ...(options.now ? { now: options.now } : {}),
    },
    await loadRuntime(),
    options.logs ?? createLogControl({ format: "text", spec: "off" }),
  );
}

/** Commit the documents, then wait until the push pipeline has built from that revision. */
export async function applyAndWait(cp: RunningControlPlane, yaml: string) {
  const result = await cp.store.commit(planApply(yaml, "test").ops);
  await eventually(() => assert.ok(Number(cp.hub.version) >= Number(result.revision), `push built from ${cp.hub.version}, want ${result.revision}`));
  return result;
}
