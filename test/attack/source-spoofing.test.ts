/**
 * Attack (issue 14 #1): a workload takes a neighbour's identity by sending from the neighbour's
 * address. `dist/mesh` in network namespaces (test/support/topology.ts, dual stack): node-1 holds
 * sleep and notsleep on their own veths, node-2 holds productpage, which an AuthorizationPolicy
 * opens to sa/sleep only. notsleep (root in its namespace) adds sleep's address to its interface
 * and connects from it — IPv4, IPv6, and with sleep's MAC address too. Each attempt must be
 * refused, productpage must never serve it, node-2's ztunnel must never log sa/sleep for it, and
 * node-1's capture must never take a forged packet for sleep's outbound traffic (the packet
 * counters of its rules capturing sleep's address stay put; before the fix, capture matched on the
 * source address alone and they counted the forged SYNs — in this routed topology the handshake
 * then died only because the node routed its SYN-ACK to the real sleep; on a shared L2 segment
 * the attacker answers ARP for it and gets through). sleep itself still gets 200. Root only;
 * everything is removed at the end, also on failure.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { meshBinary } from "../support/binary.ts";
import { run, runOk } from "../support/command.ts";
import { eventually } from "../support/eventually.ts";
import { skipReason } from "../support/requirements.ts";
import { buildTopology, type SpawnedProcess, type Topology, type TopologySpec } from "../support/topology.ts";

const skip = skipReason("source-address spoofing attack", { root: true, commands: ["ip", "iptables", "ip6tables", "curl"] });

const TOPOLOGY: TopologySpec = {
  cpLanIp: "192.168.77.2",
  cpLanIp6: "fd00:77::2",
  nodes: [
    {
      name: "node-1",
      lanIp: "192.168.77.11",
      lanIp6: "fd00:77::11",
      workloads: [
        { name: "sleep", ip: "10.0.1.10", ip6: "fd00:1::10" },
        { name: "notsleep", ip: "10.0.1.11", ip6: "fd00:1::11" },
      ],
    },
    { name: "node-2", lanIp: "192.168.77.12", lanIp6: "fd00:77::12", workloads: [{ name: "productpage", ip: "10.0.2.10", ip6: "fd00:2::10" }] },
  ],
};

const CP = "192.168.77.2";
const API = `http://${CP}:15014`;
const SLEEP_ID = "spiffe://cluster.local/ns/bookinfo/sa/sleep";
const BOOKINFO = readFileSync(new URL("../fixtures/bookinfo.yaml", import.meta.url), "utf8");
/** The same workloads' IPv6 addresses, one WorkloadEntry each, on the same interfaces. */
const IPV6_ENTRIES = [
  ["productpage-v1-v6", "fd00:2::10", "productpage", "bookinfo-productpage", "node-2", "productpage"],
  ["sleep-v6", "fd00:1::10", "sleep", "sleep", "node-1", "sleep"],
  ["notsleep-v6", "fd00:1::11", "notsleep", "notsleep", "node-1", "notsleep"],
]
  .map(([name, address, app, sa, node, iface]) =>
    `---\napiVersion: networking.istio.io/v1\nkind: WorkloadEntry\nmetadata: {name: ${name}, namespace: bookinfo}\nspec: {address: "${address}", labels: {app: ${app}}, serviceAccount: ${sa}, node: ${node}, hostInterface: ${iface}}\n`)
  .join("");

let t: Topology;
let dir: string;
let bin: string;
let productpage: SpawnedProcess;
const ztunnels: Record<string, SpawnedProcess> = {};

const mesh = (args: readonly string[]) => runOk(t.cp.exec([bin, ...args, "--server", API, "--admin-token-file", join(dir, "cp", "admin-token")]), { timeoutMs: 15_000 });

/** curl from a workload's namespace, optionally from a given local address: [exit code, output]. */
async function curl(from: string, url: string, source?: string): Promise<[number | null, string]> {
  const r = await run(t.host(from).exec(["curl", "-sS", "-g", "--max-time", "4", ...(source ? ["--interface", source] : []), url]), { timeoutMs: 10_000 });
  return [r.code, r.stdout + r.stderr];
}

/** Requests productpage has served, by client address as it saw it. */
const served = () => productpage.stdout().split("\n").filter((l) => l.startsWith("served "));
/** node-2's inbound access log lines that name sleep as the source. */
const sleepSeenByNode2 = () => (ztunnels["node-2"] as SpawnedProcess).stderr().split("\n").filter((l) => l.includes('"connection complete"') && l.includes(`"src.identity":"${SLEEP_ID}"`));

/** Packets node-1's capture took as `address`'s outbound traffic (redirected to 15001), from the rule counters. */
async function capturedAs(address: string): Promise<number> {
  const save = await runOk(t.node("node-1").exec([address.includes(":") ? "ip6tables-save" : "iptables-save", "-c", "-t", "nat"]));
  const prefix = address.includes(":") ? "/128" : "/32";
  return save
    .split("\n")
    .filter((l) => l.includes(` -s ${address}${prefix} `) && l.includes("--to-ports 15001"))
    .reduce((sum, l) => sum + Number(/^\[(\d+):/.exec(l)?.[1] ?? 0), 0);
}

/**
 * notsleep takes sleep's address (and optionally MAC) and asks productpage from it: refused, never
 * served, never attributed to sleep. The address is removed again afterwards.
 */
async function spoofFails(target: string, sleepAddress: string, prefix: 32 | 128): Promise<void> {
  const notsleep = t.workload("notsleep");
  const seenBefore = sleepSeenByNode2().length;
  const servedBefore = served().length;
  const capturedBefore = await capturedAs(sleepAddress);
  await runOk(notsleep.exec(["ip", "addr", "add", `${sleepAddress}/${prefix}`, "dev", "eth0", ...(prefix === 128 ? ["nodad"] : [])]));
  // Forget the gateway, so notsleep has to ask for it again (ARP / neighbour solicitation), now as sleep.
  await runOk(notsleep.exec(["ip", "neigh", "flush", "dev", "eth0"]));
  try {
    const [code, out] = await curl("notsleep", target, sleepAddress);
    expect({ code: code === 0 ? 0 : "refused", out: out.includes("productpage says hello") }).toEqual({ code: "refused", out: false });
  } finally {
    await runOk(notsleep.exec(["ip", "addr", "del", `${sleepAddress}/${prefix}`, "dev", "eth0"]));
  }
  expect({ served: served().length, seenAsSleep: sleepSeenByNode2().length, capturedAsSleep: await capturedAs(sleepAddress) }).toEqual({
    served: servedBefore,
    seenAsSleep: seenBefore,
    capturedAsSleep: capturedBefore,
  });
  // Neither ARP nor NDP taught node-1 that sleep's address lives behind notsleep's veth.
  expect(await runOk(t.node("node-1").exec(["ip", "neigh", "show", sleepAddress, "dev", "notsleep"]))).toBe("");
}

/** sleep itself: 200, served, and node-2 logs it as sa/sleep (the control for the checks above). */
async function sleepStillServed(target: string, sleepAddress: string): Promise<void> {
  const seenBefore = sleepSeenByNode2().length;
  const [code, out] = await curl("sleep", target);
  expect({ code, out: out.includes("productpage says hello") }).toEqual({ code: 0, out: true });
  await eventually(() => expect(sleepSeenByNode2().length).toBeGreaterThan(seenBefore));
  expect(await capturedAs(sleepAddress)).toBeGreaterThan(0);
}

beforeAll(async () => {
  if (skip) return;
  bin = meshBinary();
  dir = mkdtempSync(join(tmpdir(), "mesh-attack-spoof-"));
  t = await buildTopology(TOPOLOGY);
  t.spawn("cp", [bin, "control-plane", "--data-dir", join(dir, "cp"), "--xds-address", `${CP}:15012`, "--api-address", `${CP}:15014`, "--log-format", "json"]);
  await eventually(async () => expect((await run(t.cp.exec(["curl", "-sS", "--max-time", "2", `${API}/healthz/ready`]))).code).toBe(0), { timeoutMs: 15_000, what: "control plane ready" });
  const file = join(dir, "bookinfo.yaml");
  writeFileSync(file, BOOKINFO + IPV6_ENTRIES); // with the policy: only sa/sleep reaches productpage
  await mesh(["apply", "-f", file]);
  const server = `require("node:http").createServer((req, res) => {
      console.log("served " + req.socket.remoteAddress);
      res.end("productpage says hello to " + req.socket.remoteAddress + "\\n");
    }).listen(9080, "::", () => console.log("listening"));`;
  productpage = t.spawn("productpage", [process.execPath, "-e", server]);
  await productpage.waitForOutput("listening");
  for (const node of ["node-1", "node-2"]) {
    writeFileSync(join(dir, `${node}.token`), (await mesh(["token", "create", "--node", node])).trim());
    ztunnels[node] = t.spawn(node, [
      bin, "ztunnel", "--node", node, "--control-plane", `${CP}:15012`, "--token-file", join(dir, `${node}.token`), "--capture", "iptables",
      "--outbound-address", "[::]:15001", "--inbound-plaintext-address", "[::]:15006", "--hbone-address", "[::]:15008",
      "--data-dir", join(dir, node), "--no-dns", "--log-format", "json",
    ]);
  }
  try {
    await ready();
  } catch (err) {
    for (const [node, z] of Object.entries(ztunnels)) console.error(`${node} ztunnel log (tail):\n${z.stderr().slice(-4000)}`);
    throw err;
  }
}, 90_000);

async function ready(): Promise<void> {
  for (const node of ["node-1", "node-2"]) {
    await eventually(async () => expect((await run(t.node(node).exec(["curl", "-sS", "--max-time", "2", "http://127.0.0.1:15021/healthz/ready"]))).code).toBe(0), { timeoutMs: 20_000, what: `${node} ztunnel ready` });
  }
  // The policy is in force: notsleep, from its own addresses, is refused; sleep gets through.
  await eventually(async () => expect((await curl("notsleep", "http://10.96.0.20:9080/"))[0]).not.toBe(0), { timeoutMs: 15_000, what: "policy in force" });
  await eventually(async () => expect((await curl("sleep", "http://10.96.0.20:9080/"))[0]).toBe(0), { timeoutMs: 15_000, what: "sleep served over IPv4" });
  await eventually(async () => expect((await curl("sleep", "http://[fd00:2::10]:9080/"))[0]).toBe(0), { timeoutMs: 15_000, what: "sleep served over IPv6" });
  expect((await curl("notsleep", "http://[fd00:2::10]:9080/"))[0]).not.toBe(0);
}

afterAll(async () => {
  if (skip) return;
  await t?.destroy();
  rmSync(dir, { recursive: true, force: true });
});

describe.skipIf(skip !== null)("attack: a workload sends from another workload's address (iptables capture, dist/mesh)", () => {
  test("IPv4: notsleep with sleep's address is refused, never captured, served or logged as sleep, and poisons no ARP entry; sleep still gets 200", async () => {
    await spoofFails("http://10.96.0.20:9080/", "10.0.1.10", 32);
    await sleepStillServed("http://10.96.0.20:9080/", "10.0.1.10");
  });

  test("IPv6: the same with sleep's IPv6 address (NDP instead of ARP)", async () => {
    await spoofFails("http://[fd00:2::10]:9080/", "fd00:1::10", 128);
    await sleepStillServed("http://[fd00:2::10]:9080/", "fd00:1::10");
  });

  test("a workload whose interface is not recorded gets no outbound capture, so no identity; recording it restores both", async () => {
    const entry = (iface: string) =>
      `apiVersion: networking.istio.io/v1\nkind: WorkloadEntry\nmetadata: {name: notsleep, namespace: bookinfo}\nspec: {address: 10.0.1.11, labels: {app: notsleep}, serviceAccount: notsleep, node: node-1${iface}}\n`;
    const apply = async (yaml: string) => {
      const file = join(dir, `notsleep-${Date.now()}.yaml`);
      writeFileSync(file, yaml);
      await mesh(["apply", "-f", file]);
    };
    const outboundRule = async () => (await runOk(t.node("node-1").exec(["iptables-save", "-t", "nat"]))).includes("-s 10.0.1.11/32 -i notsleep");
    await apply(entry(""));
    try {
      await eventually(async () => expect(await outboundRule()).toBe(false), { what: "notsleep's outbound capture removed" });
      await eventually(() => {
        const refusal = (ztunnels["node-1"] as SpawnedProcess).stderr().split("\n").find((l) => l.includes("workload outbound traffic refused") && l.includes("10.0.1.11"));
        expect(refusal ?? "no refusal logged").toContain('"level":"error"');
      });
      expect(await capturedAs("10.0.1.11")).toBe(0);
    } finally {
      await apply(entry(", hostInterface: notsleep"));
    }
    await eventually(async () => expect(await outboundRule()).toBe(true), { what: "notsleep's outbound capture back" });
  });

  test("MAC/ARP: notsleep with sleep's MAC address as well is refused just the same", async () => {
    const notsleep = t.workload("notsleep");
    const mac = (ns: string[]) => runOk(ns).then((out) => /link\/ether ([0-9a-f:]+)/.exec(out)?.[1] ?? "");
    const sleepMac = await mac(t.workload("sleep").exec(["ip", "link", "show", "eth0"]));
    const ownMac = await mac(notsleep.exec(["ip", "link", "show", "eth0"]));
    expect(sleepMac).not.toBe("");
    await runOk(notsleep.exec(["ip", "link", "set", "eth0", "address", sleepMac]));
    try {
      await spoofFails("http://10.96.0.20:9080/", "10.0.1.10", 32);
    } finally {
      await runOk(notsleep.exec(["ip", "link", "set", "eth0", "address", ownMac]));
    }
    await sleepStillServed("http://10.96.0.20:9080/", "10.0.1.10");
  });
});
