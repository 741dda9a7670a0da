/**
 * Attack (issue 14 #8): passthrough leaves the ztunnel from the node's address, so a captured
 * workload must not be able to use it to reach what trusts that address. `dist/mesh` in network
 * namespaces (test/support/topology.ts): a control plane, node-1 with sleep captured by its
 * ztunnel (iptables mode), node-2 with no ztunnel. In node-1 a service on the node's own address
 * answers only callers with a node address (as a kubelet, a node exporter or a local admin port
 * would trust them). From sleep, through the capture, the attacker tries that service, the
 * control plane's API and xDS ports, and the ztunnel's own metrics port on the workloads'
 * gateway address: every one must be refused (TCP reset) and logged, while
 * passthrough to another host (a server on node-2) still works. Root only; the topology
 * removes every namespace, process and rule, also on failure.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { meshBinary } from "../support/binary.ts";
import { run, runOk } from "../support/command.ts";
import { eventually } from "../support/eventually.ts";
import { skipReason } from "../support/requirements.ts";
import { buildTopology, type SpawnedProcess, type Topology } from "../support/topology.ts";

const skip = skipReason("passthrough from the node's address (attack)", { root: true, commands: ["ip", "iptables", "curl"] });

const CP = "192.168.77.2";
const NODE1 = "192.168.77.11";
const NODE2 = "192.168.77.12";
const GATEWAY = "10.0.1.1";
const API = `http://${CP}:15014`;
const SLEEP = `apiVersion: v1
kind: Namespace
metadata: {name: bookinfo, labels: {istio.io/dataplane-mode: ambient}}
---
apiVersion: networking.istio.io/v1
kind: WorkloadEntry
metadata: {name: sleep, namespace: bookinfo}
spec: {address: 10.0.1.10, node: node-1, hostInterface: sleep, serviceAccount: sleep, labels: {app: sleep}}
`;

/** An HTTP server that answers only callers in `trusted` (by source address) and says who called. */
const server = (host: string, port: number, trusted: readonly string[]) => `require("node:http").createServer((req, res) => {
    const from = req.socket.remoteAddress;
    if (!${JSON.stringify(trusted)}.includes(from)) { res.statusCode = 403; return res.end("not for " + from + "\\n"); }
    res.end("node-only secret for " + from + "\\n");
  }).listen(${port}, "${host}", () => console.log("listening"));`;

let t: Topology;
let dir: string;
let bin: string;
let ztunnel: SpawnedProcess;

/** curl from sleep's own namespace: [exit code, output]. */
async function curl(url: string): Promise<[number | null, string]> {
  const r = await run(t.host("sleep").exec(["curl", "-sS", "--max-time", "5", url]), { timeoutMs: 10_000 });
  return [r.code, r.stdout + r.stderr];
}

beforeAll(async () => {
  if (skip) return;
  bin = meshBinary();
  dir = mkdtempSync(join(tmpdir(), "mesh-attack-passthrough-"));
  t = await buildTopology({ cpLanIp: CP, nodes: [{ name: "node-1", lanIp: NODE1, workloads: [{ name: "sleep", ip: "10.0.1.10" }] }, { name: "node-2", lanIp: NODE2 }] });
  t.spawn("cp", [bin, "control-plane", "--data-dir", join(dir, "cp"), "--xds-address", `${CP}:15012`, "--api-address", `${CP}:15014`, "--log-format", "json"]);
  const mesh = (args: readonly string[]) => runOk(t.host("cp").exec([bin, ...args, "--server", API, "--admin-token-file", join(dir, "cp", "admin-token")]), { timeoutMs: 15_000 });
  await eventually(async () => expect((await run(t.host("cp").exec(["curl", "-sS", "--max-time", "2", `${API}/healthz/ready`]))).code).toBe(0), { timeoutMs: 15_000, what: "control plane ready" });
  writeFileSync(join(dir, "sleep.yaml"), SLEEP);
  await mesh(["apply", "-f", join(dir, "sleep.yaml")]);
  writeFileSync(join(dir, "node-1.token"), (await mesh(["token", "create", "--node", "node-1"])).trim());
  // Services that trust node-1's addresses: on node-1 itself, and on node-2 (another host).
  await t.spawn("node-1", [process.execPath, "-e", server(NODE1, 7777, [NODE1, GATEWAY, "127.0.0.1"])]).waitForOutput("listening");
  await t.spawn("node-2", [process.execPath, "-e", server(NODE2, 7777, [NODE1])]).waitForOutput("listening");
  ztunnel = t.spawn("node-1", [
    bin, "ztunnel", "--node", "node-1", "--control-plane", `${CP}:15012`, "--token-file", join(dir, "node-1.token"),
    "--capture", "iptables", "--data-dir", join(dir, "node-1"), "--dns-upstreams", "127.0.0.1:9", "--log-format", "json",
  ]);
  await eventually(async () => expect((await run(t.host("node-1").exec(["curl", "-sS", "--max-time", "2", "http://127.0.0.1:15021/healthz/ready"]))).code).toBe(0), { timeoutMs: 15_000, what: "ztunnel ready" });
  await eventually(async () => expect(await runOk(t.host("node-1").exec(["iptables-save", "-t", "nat"]))).toContain("10.0.1.10/32"), { what: "sleep captured" });
}, 60_000);

afterAll(async () => {
  if (skip) return;
  await t?.destroy();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe.skipIf(skip !== null)("attack: passthrough from the node's address (issue 14 #8, dist/mesh, iptables capture)", () => {
  test("passthrough to another host still works (and comes from node-1's address)", async () => {
    expect(await curl(`http://${NODE2}:7777/`)).toEqual([0, `node-only secret for ${NODE1}\n`]);
  });

  test.each([
    ["a service on node-1's own address that trusts node addresses", `http://${NODE1}:7777/`, NODE1],
    ["the control plane's API port", `${API}/healthz/ready`, CP],
    ["the control plane's xDS and CA port", `http://${CP}:15012/`, CP],
    ["the ztunnel's own metrics port, on the workloads' gateway address", `http://${GATEWAY}:15020/metrics`, GATEWAY],
  ])("sleep cannot reach %s through the capture (reset, logged)", async (_what, url, address) => {
    const [code, out] = await curl(url);
    // A reset: curl says 56 when it arrives after curl saw the connection up, 7 when it arrives first.
    expect(`exit ${code}: ${out.trim()}`).toMatch(/^exit (56: curl: \(56\) .*Connection reset|7: curl: \(7\) Failed to connect)/);
    await eventually(() => expect(ztunnel.stderr()).toMatch(new RegExp(`passthrough to ${address.replaceAll(".", "\\.")}:\\d+ refused`)));
  });
});
