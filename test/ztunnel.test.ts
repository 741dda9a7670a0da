/**
 * The ztunnel in-process, for real: a control plane (CA + xDS), two ztunnels in SOCKS5 mode, and
 * the seed article's workloads on their own loopback addresses — sleep and notsleep behind node-1,
 * an HTTP productpage behind node-2. Real curl through SOCKS5 as the client; traffic between the
 * nodes is HBONE (mutual TLS with the workloads' certificates).
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import http from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { RunningControlPlane } from "../src/controlplane/server.ts";
import { planDeleteDocuments } from "../src/controlplane/api/apply.ts";
import { ALLOW_SLEEP_YAML, BOOKINFO_DEMO_YAML } from "../src/cli/demo/manifests.ts";
import net from "node:net";
import { encodeGreeting, encodeRequest } from "../src/ztunnel/capture/socks5-protocol.ts";
import { bunRuntime } from "../src/runtime/bun.ts";
import { createLogControl } from "../src/telemetry/log.ts";
import { startZtunnel, type RunningZtunnel, type ZtunnelConfig } from "../src/ztunnel/ztunnel.ts";
import { run } from "./support/command.ts";
import { startTestControlPlane, applyAndWait } from "./support/control-plane.ts";
import { eventually } from "./support/eventually.ts";
import { freePort } from "./support/ports.ts";
import { skipReason } from "./support/requirements.ts";

const BOOKINFO = BOOKINFO_DEMO_YAML;
const ALLOW_SLEEP = ALLOW_SLEEP_YAML;
const skip = skipReason("ztunnel in-process", { commands: ["curl"] });

let dir: string;
let cp: RunningControlPlane;
let productpage: http.Server;
const zt: Record<string, RunningZtunnel> = {};
const lines: Record<string, string[]> = { "node-1": [], "node-2": [] };
let hbonePort: number;

async function ztunnel(node: string, host: string): Promise<RunningZtunnel> {
  const token = (await cp.tokens.mint(node, 3600_000)).token;
  const logs = createLogControl({ format: "text", spec: "info", write: (l) => lines[node]?.push(l) });
  const config: ZtunnelConfig = {
    node,
    controlPlane: `http://127.0.0.1:${cp.xdsAddress.port}`,
    token: () => token,
    capture: "socks5",
    dataDir: join(dir, node),
    listen: {
      outbound: { host, port: 0 },
      inboundPlaintext: { host, port: 0 },
      hbone: { host, port: hbonePort },
      socks5: { host, port: 0 },
      dns: { host, port: 0 },
      admin: { host: "127.0.0.1", port: 0 },
      metrics: { host, port: 0 },
      readiness: { host, port: 0 },
    },
    hbonePort,
    drainTimeoutMs: 2000,
    connectTimeoutMs: 3000,
    dnsUpstreams: [],
  };
  return startZtunnel(config, bunRuntime, logs);
}

const socksOf = (z: RunningZtunnel) => `${z.addresses.socks5?.address}:${z.addresses.socks5?.port}`;

/** curl from a workload's address through its node's SOCKS5; returns [exit code, body]. */
async function curl(from: string, z: RunningZtunnel, url: string): Promise<[number | null, string]> {
  const r = await run(["curl", "-sS", "--max-time", "5", "--interface", from, "--socks5-hostname", socksOf(z), url], { timeoutMs: 10_000 });
  return [r.code, r.stdout + r.stderr];
}

beforeAll(async () => {
  if (skip) return;
  dir = mkdtempSync(join(tmpdir(), "mesh-ztunnel-"));
  hbonePort = await freePort();
  cp = await startTestControlPlane(join(dir, "cp"));
  productpage = http.createServer((req, res) => res.end(`productpage says hello to ${req.socket.remoteAddress}\n`));
  await new Promise<void>((r) => productpage.listen(9080, "127.0.2.10", r));
  await applyAndWait(cp, BOOKINFO);
  zt["node-1"] = await ztunnel("node-1", "127.0.0.11");
  zt["node-2"] = await ztunnel("node-2", "127.0.0.12");
  for (const z of Object.values(zt)) {
    await eventually(async () => {
      const r = await fetch(`http://127.0.0.1:${z.addresses.admin?.port}/healthz/ready`);
      expect(r.status).toBe(200);
    }, { timeoutMs: 10_000 });
  }
});

afterAll(async () => {
  if (skip) return;
  await Promise.all(Object.values(zt).map((z) => z.drain(500)));
  productpage?.close();
  await cp?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe.skipIf(skip !== null)("ztunnel (SOCKS5, two nodes, in-process)", () => {
  test("sleep reaches productpage by service name through both ztunnels, and both log the identities", async () => {
    const [code, body] = await curl("127.0.1.10", zt["node-1"] as RunningZtunnel, "http://productpage.bookinfo:9080/");
    expect(code).toBe(0);
    expect(body).toContain("productpage says hello");
    await eventually(() => {
      const out = lines["node-1"]?.find((l) => l.includes("connection complete") && l.includes("direction=outbound"));
      expect(out).toContain("src.identity=spiffe://cluster.local/ns/bookinfo/sa/sleep");
      expect(out).toContain("dst.identity=spiffe://cluster.local/ns/bookinfo/sa/bookinfo-productpage");
      expect(out).toContain(`dst.addr=127.0.2.10:${hbonePort}`);
      expect(out).toContain("dst.hbone_addr=127.0.2.10:9080");
      expect(out).toContain("dst.service=productpage.bookinfo.svc.cluster.local");
      const inn = lines["node-2"]?.find((l) => l.includes("connection complete") && l.includes("direction=inbound"));
      expect(inn).toContain("src.identity=spiffe://cluster.local/ns/bookinfo/sa/sleep");
      expect(inn).toContain("src.addr=127.0.1.10:");
      expect(inn).toMatch(/bytes_sent=[1-9]/);
      expect(inn).toContain("dst.service=productpage.bookinfo.svc.cluster.local");
    });
  });

  test("an ALLOW policy for sleep refuses notsleep, and removing it restores access without restarts", async () => {
    await applyAndWait(cp, ALLOW_SLEEP);
    await eventually(async () => {
      const [code] = await curl("127.0.1.11", zt["node-1"] as RunningZtunnel, "http://productpage.bookinfo:9080/");
      expect(code).toBe(97); // SOCKS5 reply "connection not allowed by ruleset"
    });
    expect((await curl("127.0.1.10", zt["node-1"] as RunningZtunnel, "http://productpage.bookinfo:9080/"))[0]).toBe(0);
    await eventually(() => expect(lines["node-2"]?.some((l) => l.includes("error=") && l.includes("sa/notsleep") && l.includes("policy"))).toBe(true));
    const keys = planDeleteDocuments(ALLOW_SLEEP, "test");
    await cp.store.commit(keys.map((key) => ({ type: "delete" as const, key })));
    await eventually(async () => expect((await curl("127.0.1.11", zt["node-1"] as RunningZtunnel, "http://productpage.bookinfo:9080/"))[0]).toBe(0));
  });

  test("a policy change closes open connections it no longer allows", async () => {
    const socket = net.connect({ host: "127.0.0.11", port: zt["node-1"]?.addresses.socks5?.port as number, localAddress: "127.0.1.11" });
    const closed = new Promise<void>((r) => socket.once("close", () => r()));
    socket.on("error", () => {});
    let received = Buffer.alloc(0);
    socket.on("data", (d: Buffer) => (received = Buffer.concat([received, d])));
    socket.write(encodeGreeting());
    await eventually(() => expect(received.length).toBeGreaterThanOrEqual(2));
    socket.write(encodeRequest({ kind: "name", name: "productpage.bookinfo", port: 9080 }));
    await eventually(() => expect(received.length).toBeGreaterThanOrEqual(12)); // method choice + success reply
    expect(received[3]).toBe(0);
    socket.write("GET / HTTP/1.1\r\nhost: productpage\r\n\r\n"); // keep-alive: the connection stays open
    await eventually(() => expect(received.toString()).toContain("productpage says hello"));
    await applyAndWait(cp, ALLOW_SLEEP);
    await closed; // node-2 re-checked it against the new policy and closed it
    await eventually(() => expect(lines["node-2"]?.some((l) => l.includes("connection closed by policy") && l.includes("127.0.1.11"))).toBe(true));
    const keys = planDeleteDocuments(ALLOW_SLEEP, "test");
    await cp.store.commit(keys.map((key) => ({ type: "delete" as const, key })));
    await eventually(async () => expect((await curl("127.0.1.11", zt["node-1"] as RunningZtunnel, "http://productpage.bookinfo:9080/"))[0]).toBe(0));
  });

  test("metrics count the connections with Istio's labels", async () => {
    const z = zt["node-2"] as RunningZtunnel;
    const text = await (await fetch(`http://127.0.0.12:${z.addresses.metrics?.port}/metrics`)).text();
    expect(text).toMatch(/istio_tcp_connections_opened_total\{reporter="destination",source_workload="sleep",source_workload_namespace="bookinfo",source_principal="spiffe:\/\/cluster.local\/ns\/bookinfo\/sa\/sleep",destination_workload="productpage-v1"[^}]*\} [1-9]/);
    expect(text).toMatch(/istio_tcp_sent_bytes_total\{reporter="destination"[^}]*\} [1-9]/);
  });

  test("the admin endpoint dumps workloads, policies and certificates", async () => {
    const z = zt["node-1"] as RunningZtunnel;
    const dump = (await (await fetch(`http://127.0.0.1:${z.addresses.admin?.port}/config_dump`)).json()) as { node: string; workloads: { name: string; local: boolean }[]; certificates: { spiffeId: string; state: string }[] };
    expect(dump.node).toBe("node-1");
    expect(dump.workloads.filter((w) => w.local).map((w) => w.name).sort()).toEqual(["notsleep", "sleep"]);
    expect(dump.certificates.map((c) => [c.spiffeId, c.state])).toEqual([
      ["spiffe://cluster.local/ns/bookinfo/sa/notsleep", "valid"],
      ["spiffe://cluster.local/ns/bookinfo/sa/sleep", "valid"],
    ]);
  });

  test("an address that is no workload of the node cannot use its SOCKS5", async () => {
    const [code] = await curl("127.0.0.1", zt["node-1"] as RunningZtunnel, "http://productpage.bookinfo:9080/");
    expect(code).toBe(97);
  });
});
