/**
 * The ztunnel end to end, as operators run it: `dist/mesh` processes in network namespaces built
 * by the test — a control plane, node-1 (sleep, notsleep) and node-2 (productpage), each node
 * with a ztunnel in iptables mode — and real curl from the workloads' own namespaces. The seed
 * article's story, then the failure modes: no plaintext between nodes, plaintext from outside the
 * mesh (PeerAuthentication), control plane gone, one node's ztunnel gone, drain on SIGTERM, a
 * restart from the persisted config. Root only; every namespace, process and rule is removed at
 * the end, also on failure.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { meshBinary } from "../support/binary.ts";
import { run, runOk } from "../support/command.ts";
import { eventually } from "../support/eventually.ts";
import { skipReason } from "../support/requirements.ts";
import { buildTopology, SEED_TOPOLOGY, type SpawnedProcess, type Topology } from "../support/topology.ts";

const skip = skipReason("ztunnel in network namespaces", { root: true, commands: ["ip", "iptables", "curl", "tcpdump"] });

const CP = "192.168.77.2";
const API = `http://${CP}:15014`;
const BOOKINFO = readFileSync(new URL("../fixtures/bookinfo.yaml", import.meta.url), "utf8");
const SLEEP_ID = "spiffe://cluster.local/ns/bookinfo/sa/sleep";
const PRODUCTPAGE_ID = "spiffe://cluster.local/ns/bookinfo/sa/bookinfo-productpage";
const POLICY = BOOKINFO.slice(BOOKINFO.indexOf("apiVersion: security.istio.io/v1"));
const WORKLOADS = BOOKINFO.slice(0, BOOKINFO.indexOf("---\napiVersion: security.istio.io/v1"));
const STRICT = `apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata:
  name: strict
  namespace: bookinfo
spec:
  mtls:
    mode: STRICT
`;

let t: Topology;
let dir: string;
let bin: string;
let controlPlane: SpawnedProcess;
const ztunnels: Record<string, SpawnedProcess> = {};

const mesh = (where: string, args: readonly string[]) => runOk(t.host(where).exec([bin, ...args, "--server", API, "--admin-token-file", join(dir, "cp", "admin-token")]), { timeoutMs: 15_000 });
const apply = async (yaml: string) => {
  const file = join(dir, `apply-${Date.now()}.yaml`);
  writeFileSync(file, yaml);
  await mesh("cp", ["apply", "-f", file]);
};
const remove = async (yaml: string) => {
  const file = join(dir, `delete-${Date.now()}.yaml`);
  writeFileSync(file, yaml);
  await mesh("cp", ["delete", "-f", file]);
};

/** curl from a host's namespace: [exit code, body]. */
async function curl(from: string, url: string): Promise<[number | null, string]> {
  const r = await run(t.host(from).exec(["curl", "-sS", "--max-time", "5", url]), { timeoutMs: 10_000 });
  return [r.code, r.stdout + r.stderr];
}

function startZtunnel(node: string): SpawnedProcess {
  return t.spawn(node, [
    bin, "ztunnel", "--node", node, "--control-plane", `${CP}:15012`, "--token-file", join(dir, `${node}.token`),
    "--capture", "iptables", "--data-dir", join(dir, node), "--dns-upstreams", "127.0.0.1:9", "--drain-timeout", "5s", "--log-format", "json",
  ]);
}

async function ready(node: string): Promise<void> {
  await eventually(async () => expect((await curl(node, "http://127.0.0.1:15021/healthz/ready"))[0]).toBe(0), { timeoutMs: 15_000, what: `${node} ztunnel ready` });
  await eventually(async () => expect(await runOk(t.node(node).exec(["iptables-save", "-t", "nat"]))).toContain("MESH_ZTUNNEL_PREROUTING"), { what: `${node} capture rules` });
}

const accessLines = (p: SpawnedProcess) => p.stderr().split("\n").filter((l) => l.includes('"connection complete"'));

beforeAll(async () => {
  if (skip) return;
  bin = meshBinary();
  dir = mkdtempSync(join(tmpdir(), "mesh-netns-"));
  t = await buildTopology(SEED_TOPOLOGY);
  controlPlane = t.spawn("cp", [bin, "control-plane", "--data-dir", join(dir, "cp"), "--xds-address", `${CP}:15012`, "--api-address", `${CP}:15014`, "--log-format", "json"]);
  await eventually(async () => expect((await curl("cp", `${API}/healthz/ready`))[0]).toBe(0), { timeoutMs: 15_000, what: "control plane ready" });
  await apply(WORKLOADS);
  for (const node of ["node-1", "node-2"]) writeFileSync(join(dir, `${node}.token`), (await mesh("cp", ["token", "create", "--node", node])).trim());
  const server = `require("node:http").createServer((req, res) => {
      const ms = Number(new URL(req.url, "http://x").searchParams.get("ms") ?? 0);
      setTimeout(() => res.end("productpage says hello to " + req.socket.remoteAddress + "\\n"), ms);
    }).listen(9080, "0.0.0.0", () => console.log("listening"));`;
  await t.spawn("productpage", [process.execPath, "-e", server]).waitForOutput("listening");
  for (const node of ["node-1", "node-2"]) ztunnels[node] = startZtunnel(node);
  await Promise.all(["node-1", "node-2"].map(ready));
}, 60_000);

afterAll(async () => {
  if (skip) return;
  await t?.destroy();
  rmSync(dir, { recursive: true, force: true });
});

describe.skipIf(skip !== null)("ztunnel in network namespaces (iptables capture, dist/mesh)", () => {
  test("sleep reaches productpage by VIP and by address through both ztunnels; the logs show both identities", async () => {
    for (const url of ["http://10.96.0.20:9080/", "http://10.0.2.10:9080/"]) {
      const [code, body] = await curl("sleep", url);
      expect({ code, body }).toEqual({ code: 0, body: expect.stringContaining("productpage says hello") });
    }
    await eventually(() => {
      const out = accessLines(ztunnels["node-1"] as SpawnedProcess).find((l) => l.includes('"direction":"outbound"') && l.includes("10.96.0.20") === false && l.includes(SLEEP_ID));
      expect(out).toBeDefined();
      const line = JSON.parse(out as string) as Record<string, unknown>;
      expect(line).toMatchObject({ "src.identity": SLEEP_ID, "dst.identity": PRODUCTPAGE_ID, "dst.addr": "10.0.2.10:15008", "dst.hbone_addr": "10.0.2.10:9080", "dst.service": "productpage.bookinfo.svc.cluster.local" });
      const inn = accessLines(ztunnels["node-2"] as SpawnedProcess).map((l) => JSON.parse(l) as Record<string, unknown>).find((l) => l.direction === "inbound" && l["src.identity"] === SLEEP_ID);
      expect(inn).toMatchObject({ "src.addr": expect.stringMatching(/^10\.0\.1\.10:/), "dst.identity": PRODUCTPAGE_ID });
    });
  });

  test("only TLS crosses the LAN: no HTTP, no port 9080, only HBONE (15008)", async () => {
    const pcap = join(dir, "lan.pcap");
    const dump = t.spawn("lan", ["tcpdump", "-i", "any", "--immediate-mode", "-U", "-w", pcap, "tcp"]);
    await dump.waitForOutput("listening on", { stream: "stderr" });
    expect((await curl("sleep", "http://10.96.0.20:9080/"))[0]).toBe(0);
    await new Promise((r) => setTimeout(r, 300)); // let tcpdump write what it has seen
    await dump.stop("SIGINT");
    const text = (await run(["tcpdump", "-r", pcap, "-nn", "-A"])).stdout;
    expect(text).toContain(".15008");
    expect(text).not.toContain(".9080");
    expect(text).not.toContain("productpage says");
    expect(text).not.toContain("GET /");
  });

  test("the policy lets sleep in and resets notsleep (curl exit 56); removing it restores access", async () => {
    await apply(POLICY);
    await eventually(async () => expect((await curl("notsleep", "http://10.96.0.20:9080/"))[0]).toBe(56), { timeoutMs: 10_000 });
    expect((await curl("sleep", "http://10.96.0.20:9080/"))[0]).toBe(0);
    await eventually(() => {
      const denied = accessLines(ztunnels["node-2"] as SpawnedProcess).map((l) => JSON.parse(l) as Record<string, unknown>).find((l) => l["src.identity"] === "spiffe://cluster.local/ns/bookinfo/sa/notsleep" && typeof l.error === "string");
      expect(String(denied?.error)).toContain("policy");
    });
    await remove(POLICY);
    await eventually(async () => expect((await curl("notsleep", "http://10.96.0.20:9080/"))[0]).toBe(0), { timeoutMs: 10_000 });
  });

  test("plaintext from outside the mesh: PERMISSIVE admits it on 15006, STRICT refuses it", async () => {
    expect((await curl("cp", "http://10.0.2.10:9080/"))[0]).toBe(0);
    await eventually(() => {
      const plain = accessLines(ztunnels["node-2"] as SpawnedProcess).map((l) => JSON.parse(l) as Record<string, unknown>).find((l) => l["src.addr"]?.toString().startsWith(`${CP}:`));
      expect(plain).toMatchObject({ direction: "inbound", "dst.addr": "10.0.2.10:9080" });
    });
    await apply(STRICT);
    await eventually(async () => expect((await curl("cp", "http://10.0.2.10:9080/"))[0]).toBe(56), { timeoutMs: 10_000 });
    expect((await curl("sleep", "http://10.96.0.20:9080/"))[0]).toBe(0); // mTLS still passes STRICT
    await remove(STRICT);
    await eventually(async () => expect((await curl("cp", "http://10.0.2.10:9080/"))[0]).toBe(0), { timeoutMs: 10_000 });
  });

  test("admin endpoint and ztunnel-config see the node's workloads and certificates", async () => {
    const dump = JSON.parse(await runOk(t.node("node-1").exec(["curl", "-sS", "http://127.0.0.1:15000/config_dump"]))) as { workloads: { name: string; local: boolean }[]; certificates: { spiffeId: string; state: string }[] };
    expect(dump.workloads.filter((w) => w.local).map((w) => w.name).sort()).toEqual(["notsleep", "sleep"]);
    expect(dump.certificates.every((c) => c.state === "valid")).toBe(true);
    const table = await runOk(t.node("node-1").exec([bin, "ztunnel-config", "workloads"]));
    expect(table).toMatch(/^NAMESPACE\s+NAME\s+ADDRESS\s+NODE\s+IDENTITY/);
    expect(table).toMatch(/bookinfo\s+sleep\s+10\.0\.1\.10\s+node-1\*\s+spiffe:\/\/cluster\.local\/ns\/bookinfo\/sa\/sleep\s+-\s+HBONE/);
    const certs = await runOk(t.node("node-1").exec([bin, "ztunnel-config", "certificates"]));
    expect(certs).toMatch(/spiffe:\/\/cluster\.local\/ns\/bookinfo\/sa\/notsleep\s+valid/);
    const metrics = await runOk(t.node("node-2").exec(["curl", "-sS", "http://127.0.0.1:15020/metrics"]));
    expect(metrics).toMatch(/istio_tcp_connections_opened_total\{reporter="destination",source_workload="sleep"/);
  });

  test("the DNS proxy answers mesh names with service VIPs", async () => {
    for (const name of ["productpage.bookinfo.svc.cluster.local", "productpage.bookinfo"]) {
      expect((await runOk(t.node("node-1").exec(["dig", "+short", "+time=2", "+tries=1", "@127.0.0.1", "-p", "15053", name]))).trim()).toBe("10.96.0.20");
    }
  });

  test("with the control plane gone, open and new connections keep working", async () => {
    const long = run(t.workload("sleep").exec(["curl", "-sS", "--max-time", "10", "http://10.96.0.20:9080/?ms=1500"]), { timeoutMs: 15_000 });
    await new Promise((r) => setTimeout(r, 200));
    await controlPlane.stop("SIGKILL");
    expect((await long).code).toBe(0);
    expect((await curl("sleep", "http://10.96.0.20:9080/"))[0]).toBe(0);
    expect((await curl("notsleep", "http://10.0.2.10:9080/"))[0]).toBe(0);
  });

  test("SIGTERM drains node-1: a connection that finishes within the deadline is not reset; the rules go, rp_filter is restored", async () => {
    const z = ztunnels["node-1"] as SpawnedProcess;
    const long = run(t.workload("sleep").exec(["curl", "-sS", "--max-time", "10", "http://10.96.0.20:9080/?ms=2000"]), { timeoutMs: 15_000 });
    await new Promise((r) => setTimeout(r, 300));
    const exited = z.stop("SIGTERM", 10_000);
    const r = await long;
    expect({ code: r.code, out: r.stdout }).toEqual({ code: 0, out: expect.stringContaining("productpage says hello") });
    expect(await exited).toBe(0);
    // Capture (nat) and anti-spoofing (raw) rules gone in both families, rp_filter as it was.
    for (const save of ["iptables-save", "ip6tables-save"]) expect(await runOk(t.node("node-1").exec([save]))).not.toContain("MESH_ZTUNNEL");
    expect((await runOk(t.node("node-1").exec(["sysctl", "-n", "net.ipv4.conf.sleep.rp_filter"]))).trim()).toBe("0");
  });

  test("node-1's ztunnel gone does not disturb node-2; a restart resumes from the persisted config with the control plane still down", async () => {
    expect((await curl("cp", "http://10.0.2.10:9080/"))[0]).toBe(0); // node-2 serves plaintext inbound as before
    const restarted = startZtunnel("node-1");
    ztunnels["node-1"] = restarted;
    await restarted.waitForOutput("loaded persisted xDS config", { stream: "stderr", timeoutMs: 15_000 });
    await eventually(async () => {
      const dump = JSON.parse(await runOk(t.node("node-1").exec(["curl", "-sS", "http://127.0.0.1:15000/config_dump"]))) as { workloads: { name: string; local: boolean }[] };
      expect(dump.workloads.filter((w) => w.local).map((w) => w.name).sort()).toEqual(["notsleep", "sleep"]);
    }, { timeoutMs: 10_000 });
    await eventually(async () => expect(await runOk(t.node("node-1").exec(["iptables-save", "-t", "nat"]))).toContain("MESH_ZTUNNEL_PREROUTING"));
  });
});
