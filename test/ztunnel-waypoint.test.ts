/**
 * The ztunnel's side of waypoints, in-process: a service bound to a waypoint with two replicas,
 * one of them down. The ztunnel must tunnel to a live replica — presenting sleep's certificate,
 * requiring the waypoint's identity, with the service VIP as the CONNECT authority — and fail
 * over from the dead one. The waypoint proxy itself is another issue; here its replica is an HBONE
 * server (the real one from src/hbone) with the waypoint's certificate from the mesh CA, which
 * answers each tunnel itself and records what it saw.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import net from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import tls from "node:tls";
import { BOOKINFO_DEMO_YAML } from "../src/cli/demo/manifests.ts";
import { socksGet } from "../src/cli/demo/socks-get.ts";
import type { RunningControlPlane } from "../src/controlplane/server.ts";
import { HboneServer, type InboundTunnel } from "../src/hbone/server.ts";
import { caClient } from "../src/identity/ca-client.ts";
import { CertificateManager } from "../src/identity/cert-manager.ts";
import { systemClock } from "../src/identity/clock.ts";
import { bunRuntime } from "../src/runtime/bun.ts";
import { createLogControl } from "../src/telemetry/log.ts";
import { startZtunnel, type RunningZtunnel } from "../src/ztunnel/ztunnel.ts";
import { applyAndWait, startTestControlPlane } from "./support/control-plane.ts";
import { eventually } from "./support/eventually.ts";
import { freePort } from "./support/ports.ts";

const logs = createLogControl({ format: "text", spec: "off" });
const WAYPOINT = `apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: waypoint, namespace: bookinfo}
spec: {gatewayClassName: istio-waypoint, listeners: [{name: mesh, port: HBONE_PORT, protocol: HBONE}]}
---
apiVersion: v1
kind: Service
metadata: {name: reviews, namespace: bookinfo, labels: {istio.io/use-waypoint: waypoint}}
spec: {selector: {app: reviews}, clusterIP: 10.96.0.30, ports: [{name: http, port: 9080}]}
---
apiVersion: networking.istio.io/v1
kind: WorkloadEntry
metadata: {name: reviews-v1, namespace: bookinfo}
spec: {address: 127.0.2.30, node: node-2, labels: {app: reviews}}
---
apiVersion: networking.istio.io/v1
kind: WorkloadEntry
metadata: {name: waypoint-a, namespace: bookinfo}
spec: {address: 127.0.3.1, node: node-2, serviceAccount: waypoint, labels: {gateway.networking.k8s.io/gateway-name: waypoint}}
---
apiVersion: networking.istio.io/v1
kind: WorkloadEntry
metadata: {name: waypoint-b, namespace: bookinfo}
spec: {address: 127.0.3.2, node: node-2, serviceAccount: waypoint, labels: {gateway.networking.k8s.io/gateway-name: waypoint}}
`;

let dir: string;
let cp: RunningControlPlane;
let ztunnel: RunningZtunnel;
let replica: net.Server;
let certs: CertificateManager;
const seen: InboundTunnel[] = [];

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "mesh-zt-waypoint-"));
  const hbonePort = await freePort();
  cp = await startTestControlPlane(join(dir, "cp"));
  await applyAndWait(cp, `${BOOKINFO_DEMO_YAML}\n---\n${WAYPOINT.replace("HBONE_PORT", String(hbonePort))}`);
  // The live replica (waypoint-b) gets the waypoint identity's certificate from the mesh CA, as a waypoint on node-2 would.
  const node2 = (await cp.tokens.mint("node-2", 3600_000)).token;
  certs = new CertificateManager({ signer: caClient({ server: `http://127.0.0.1:${cp.xdsAddress.port}`, token: () => node2 }), clock: systemClock, log: logs.logger("certs") });
  const cert = await certs.get({ trustDomain: "cluster.local", namespace: "bookinfo", serviceAccount: "waypoint" });
  const roots = cp.ca.material.trustBundle;
  const context = tls.createSecureContext({ cert: cert.chain.join("\n"), key: cert.keyPem, ca: [...roots], minVersion: "TLSv1.3" });
  const server = new HboneServer({
    log: logs.logger("replica"),
    secureContextFor: () => context,
    onTunnel: (t) => {
      seen.push(t);
      const stream = t.accept();
      stream.end("HTTP/1.1 200 OK\r\ncontent-length: 19\r\nconnection: close\r\n\r\nanswered by replica");
      stream.resume();
    },
  });
  replica = net.createServer((s) => server.accept(s, { address: "127.0.3.2", port: hbonePort }, { address: s.remoteAddress ?? "", port: s.remotePort ?? 0 }));
  await new Promise<void>((r) => replica.listen(hbonePort, "127.0.3.2", r));
  const node1 = (await cp.tokens.mint("node-1", 3600_000)).token;
  ztunnel = await startZtunnel(
    {
      node: "node-1",
      controlPlane: `http://127.0.0.1:${cp.xdsAddress.port}`,
      token: () => node1,
      capture: "socks5",
      dataDir: join(dir, "node-1"),
      listen: {
        outbound: { host: "127.0.0.21", port: 0 },
        inboundPlaintext: { host: "127.0.0.21", port: 0 },
        hbone: { host: "127.0.0.21", port: hbonePort },
        socks5: { host: "127.0.0.21", port: 0 },
        dns: null,
        admin: { host: "127.0.0.21", port: 0 },
        metrics: { host: "127.0.0.21", port: 0 },
        readiness: { host: "127.0.0.21", port: 0 },
      },
      hbonePort,
      drainTimeoutMs: 500,
      connectTimeoutMs: 2000,
    },
    bunRuntime,
    logs,
  );
  await eventually(async () => expect((await fetch(`http://127.0.0.21:${ztunnel.addresses.readiness?.port}/healthz/ready`)).status).toBe(200), { timeoutMs: 10_000 });
});

afterAll(async () => {
  await ztunnel?.drain(200);
  replica?.close();
  certs?.close();
  await cp?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe("ztunnel → waypoint", () => {
  test("traffic to a service bound to a waypoint goes to a live replica, with the VIP as authority, failing over from the dead one", async () => {
    // Four requests: round-robin starts on each replica in turn, so the dead one (127.0.3.1) is tried first at least once.
    for (let i = 0; i < 4; i++) {
      const got = await socksGet({ from: "127.0.1.10", socks: { host: "127.0.0.21", port: ztunnel.addresses.socks5?.port as number }, host: "reviews.bookinfo", port: 9080 });
      expect(got).toEqual({ kind: "response", status: 200, body: "answered by replica" });
    }
    expect(seen.length).toBe(4);
    for (const t of seen) {
      expect(t.peerIdentity).toBe("spiffe://cluster.local/ns/bookinfo/sa/sleep");
      expect(t.request.target).toEqual({ address: "10.96.0.30", port: 9080 });
      expect(t.request.forwardedFor?.address).toBe("127.0.1.10");
    }
  });
});
