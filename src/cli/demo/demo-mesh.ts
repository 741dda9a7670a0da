/**
 * The demo mesh, on loopback only, without root: a control plane on 127.0.0.10, ztunnels for
 * node-1 (127.0.0.11) and node-2 (127.0.0.12) in SOCKS5 mode, a waypoint replica on node-2
 * (127.0.3.1, admin on 127.0.0.13), and the sample workloads on their own addresses: productpage
 * (an HTTP server) on 127.0.2.10 and reviews v1/v2/v3 on 127.0.2.31-33 behind node-2, sleep
 * (127.0.1.10) and notsleep (127.0.1.11) behind node-1 as client addresses. Everything runs in
 * this process and `stop()` takes all of it down and removes the data directory.
 */
import { mkdtempSync, rmSync } from "node:fs";
import http from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { planApply, planDeleteDocuments } from "../../controlplane/api/apply.ts";
import { startControlPlane, type RunningControlPlane } from "../../controlplane/server.ts";
import { MeshError } from "../../errors/mesh-error.ts";
import type { RuntimePort } from "../../runtime/port.ts";
import { createLogControl, type LogFormat } from "../../telemetry/log.ts";
import { startWaypoint, type RunningWaypoint } from "../../waypoint/waypoint.ts";
import { startZtunnel, type RunningZtunnel } from "../../ztunnel/ztunnel.ts";
import { BOOKINFO_DEMO_YAML, REVIEWS_DEMO_YAML } from "./manifests.ts";

export const DEMO = {
  controlPlane: "127.0.0.10",
  nodes: { "node-1": "127.0.0.11", "node-2": "127.0.0.12" } as Record<string, string>,
  workloads: { sleep: "127.0.1.10", notsleep: "127.0.1.11", productpage: "127.0.2.10", "reviews-v1": "127.0.2.31", "reviews-v2": "127.0.2.32", "reviews-v3": "127.0.2.33" } as Record<string, string>,
  waypoint: { replica: "127.0.3.1", admin: "127.0.0.13" },
  productpagePort: 9080,
  socksPort: 15080,
  hbonePort: 15008,
} as const;

export interface DemoMesh {
  readonly dataDir: string;
  readonly cp: RunningControlPlane;
  readonly ztunnels: Readonly<Record<string, RunningZtunnel>>;
  readonly waypoint: RunningWaypoint;
  apply(yaml: string): Promise<void>;
  remove(yaml: string): Promise<void>;
  stop(): Promise<void>;
}

export interface DemoOutput {
  /** Every log line of the demo's components, with the component's node ("control-plane", "node-1", …). */
  readonly log: (source: string, line: string) => void;
  readonly format: LogFormat;
}

async function waitFor(what: string, check: () => boolean | Promise<boolean>, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new MeshError("deadline_exceeded", `demo: ${what} not ready after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

export async function startDemoMesh(rt: RuntimePort, output: DemoOutput): Promise<DemoMesh> {
  const dataDir = mkdtempSync(join(tmpdir(), "mesh-demo-"));
  const stops: Array<() => Promise<void>> = [async () => rmSync(dataDir, { recursive: true, force: true })];
  const stop = async () => {
    for (const s of stops.splice(0).reverse()) await s().catch(() => {});
  };
  try {
    const logsFor = (source: string, spec: string) => createLogControl({ format: output.format, spec, write: (line) => output.log(source, line) });
    const serve = async (name: string, answer: (req: http.IncomingMessage) => string) => {
      const server = http.createServer((req, res) => {
        res.setHeader("content-type", "text/plain");
        res.end(answer(req));
      });
      await new Promise<void>((resolve, reject) => {
        server.once("error", reject);
        server.listen(DEMO.productpagePort, DEMO.workloads[name], resolve);
      });
      stops.push(() => new Promise((r) => server.close(() => r())));
    };
    await serve("productpage", (req) => `productpage: hello ${req.headers["user-agent"] ?? "client"} from ${req.socket.remoteAddress}\n`);
    for (const v of ["v1", "v2", "v3"]) await serve(`reviews-${v}`, (req) => `reviews-${v}: ${req.url} (x-forwarded-for ${req.headers["x-forwarded-for"] ?? "-"})\n`);

    const cp = await startControlPlane(
      {
        dataDir: join(dataDir, "control-plane"),
        store: { backend: "sqlite" },
        api: { host: DEMO.controlPlane, port: 15014 },
        xds: { host: DEMO.controlPlane, port: 15012 },
        adminTokenFile: join(dataDir, "control-plane", "admin-token"),
        trustDomain: "cluster.local",
      },
      rt,
      logsFor("control-plane", "warn"),
    );
    stops.push(() => cp.close());

    const apply = async (yaml: string) => {
      const result = await cp.store.commit(planApply(yaml, "demo").ops);
      await waitFor("config push", () => Number(cp.hub.version) >= Number(result.revision), 10_000);
    };
    const remove = async (yaml: string) => {
      const result = await cp.store.commit(planDeleteDocuments(yaml, "demo").map((key) => ({ type: "delete" as const, key })));
      await waitFor("config push", () => Number(cp.hub.version) >= Number(result.revision), 10_000);
    };
    await apply(`${BOOKINFO_DEMO_YAML}\n---\n${REVIEWS_DEMO_YAML}`);

    const ztunnels: Record<string, RunningZtunnel> = {};
    for (const [node, host] of Object.entries(DEMO.nodes)) {
      const token = (await cp.tokens.mint(node, 24 * 3600_000)).token;
      const z = await startZtunnel(
        {
          node,
          controlPlane: `http://${DEMO.controlPlane}:15012`,
          token: () => token,
          capture: "socks5",
          dataDir: join(dataDir, node),
          listen: {
            outbound: { host, port: 15001 },
            inboundPlaintext: { host, port: 15006 },
            hbone: { host, port: DEMO.hbonePort },
            socks5: { host, port: DEMO.socksPort },
            dns: { host, port: 15053 },
            admin: { host, port: 15000 },
            metrics: { host, port: 15020 },
            readiness: { host, port: 15021 },
          },
          hbonePort: DEMO.hbonePort,
          drainTimeoutMs: 1000,
          connectTimeoutMs: 3000,
          dnsUpstreams: [],
        },
        rt,
        logsFor(node, "info"),
      );
      stops.push(() => z.drain(1000));
      ztunnels[node] = z;
    }
    // The waypoint's own credential: it can have only its identity signed and only its config served.
    const waypointToken = (await cp.tokens.mintWaypoint({ namespace: "bookinfo", name: "waypoint" }, 24 * 3600_000)).token;
    const admin = DEMO.waypoint.admin;
    const waypoint = await startWaypoint(
      {
        gateway: { namespace: "bookinfo", name: "waypoint" },
        node: "node-2",
        controlPlane: `http://${DEMO.controlPlane}:15012`,
        token: () => waypointToken,
        dataDir: join(dataDir, "waypoint"),
        listen: { admin: { host: admin, port: 15000 }, metrics: { host: admin, port: 15020 }, readiness: { host: admin, port: 15021 } },
        hbonePort: DEMO.hbonePort,
        drainTimeoutMs: 1000,
        connectTimeoutMs: 3000,
      },
      rt,
      logsFor("waypoint", "info"),
    );
    stops.push(() => waypoint.drain(1000));
    const ready = async (address: { address: string; port: number } | undefined) => (await fetch(`http://${address?.address}:${address?.port}/healthz/ready`).catch(() => null))?.status === 200;
    for (const [node, z] of Object.entries(ztunnels)) await waitFor(`ztunnel ${node}`, () => ready(z.addresses.readiness), 15_000);
    await waitFor("waypoint", () => ready(waypoint.addresses.readiness), 15_000);
    return { dataDir, cp, ztunnels, waypoint, apply, remove, stop };
  } catch (err) {
    await stop();
    if (err instanceof Error && "code" in err && err.code === "EADDRINUSE") {
      throw new MeshError("unavailable", `demo: an address it needs is taken (${err.message}); is another demo running?`, { cause: err });
    }
    throw err;
  }
}
