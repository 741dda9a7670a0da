/**
 * The demo mesh, on loopback only, without root: a control plane on 127.0.0.10, ztunnels for
 * node-1 (127.0.0.11) and node-2 (127.0.0.12) in SOCKS5 mode, and the sample workloads on their
 * own addresses: productpage (an HTTP server) on 127.0.2.10 behind node-2, sleep (127.0.1.10) and
 * notsleep (127.0.1.11) behind node-1 as client addresses. Everything runs in this process and
 * `stop()` takes all of it down and removes the data directory.
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
import { startZtunnel, type RunningZtunnel } from "../../ztunnel/ztunnel.ts";
import { BOOKINFO_DEMO_YAML } from "./manifests.ts";

export const DEMO = {
  controlPlane: "127.0.0.10",
  nodes: { "node-1": "127.0.0.11", "node-2": "127.0.0.12" } as Record<string, string>,
  workloads: { sleep: "127.0.1.10", notsleep: "127.0.1.11", productpage: "127.0.2.10" } as Record<string, string>,
  productpagePort: 9080,
  socksPort: 15080,
  hbonePort: 15008,
} as const;

export interface DemoMesh {
  readonly dataDir: string;
  readonly cp: RunningControlPlane;
  readonly ztunnels: Readonly<Record<string, RunningZtunnel>>;
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
    const productpage = http.createServer((req, res) => {
      res.setHeader("content-type", "text/plain");
      res.end(`productpage: hello ${req.headers["user-agent"] ?? "client"} from ${req.socket.remoteAddress}\n`);
    });
    await new Promise<void>((resolve, reject) => {
      productpage.once("error", reject);
      productpage.listen(DEMO.productpagePort, DEMO.workloads.productpage, resolve);
    });
    stops.push(() => new Promise((r) => productpage.close(() => r())));

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
    await apply(BOOKINFO_DEMO_YAML);

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
    for (const [node, z] of Object.entries(ztunnels)) {
      await waitFor(`ztunnel ${node}`, async () => (await fetch(`http://${z.addresses.readiness?.address}:${z.addresses.readiness?.port}/healthz/ready`).catch(() => null))?.status === 200, 15_000);
    }
    return { dataDir, cp, ztunnels, apply, remove, stop };
  } catch (err) {
    await stop();
    if (err instanceof Error && "code" in err && err.code === "EADDRINUSE") {
      throw new MeshError("unavailable", `demo: an address it needs is taken (${err.message}); is another demo running?`, { cause: err });
    }
    throw err;
  }
}
