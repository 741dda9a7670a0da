import { describe, expect, test } from "bun:test";
import { run, runOk } from "./support/command.ts";
import { skipReason } from "./support/requirements.ts";
import { buildTopology, SEED_TOPOLOGY, type Topology, withTopology } from "./support/topology.ts";

const skip = skipReason("namespace topology", { root: true, commands: ["ip", "curl", "iptables-save"] });

/** A plain HTTP server (node:http, run by the test's own runtime) answering with who it is and who asked. */
function httpServer(t: Topology, where: string, port: number) {
  const script = `
    const http = require("node:http");
    http.createServer((req, res) => res.end(JSON.stringify({ server: ${JSON.stringify(where)}, client: req.socket.remoteAddress })))
      .listen(${port}, "0.0.0.0", () => console.log("listening"));`;
  return t.spawn(where, [process.execPath, "-e", script]);
}

async function curl(t: Topology, from: string, url: string): Promise<unknown> {
  return JSON.parse(await runOk(t.host(from).exec(["curl", "-sS", "--max-time", "5", url])));
}

async function ourNamespaces(prefix: string): Promise<string[]> {
  return (await runOk(["ip", "netns", "list"])).split("\n").filter((l) => l.startsWith(`${prefix}-`));
}

/** The root namespace's rules, without the timestamp comments. */
async function rootRules(): Promise<string> {
  const v4 = await runOk(["iptables-save"]);
  const v6 = (await run(["ip6tables-save"])).stdout;
  return (v4 + v6)
    .split("\n")
    .filter((l) => !l.startsWith("#"))
    .join("\n");
}

describe.skipIf(skip !== null)("test topology in network namespaces", () => {
  test("workloads reach workloads on another node through both nodes; nodes and workloads reach the control plane", async () => {
    const rulesBefore = await rootRules();
    let prefix = "";
    await withTopology(SEED_TOPOLOGY, async (t) => {
      prefix = t.prefix;
      expect(prefix.length).toBeLessThanOrEqual(10);
      expect(t.namespaces()).toEqual(
        ["lan", "cp", "node-1", "sleep", "notsleep", "node-2", "productpage"].map((l) => `${prefix}-${l}`),
      );
      expect(await ourNamespaces(prefix)).toHaveLength(7);

      const productpage = httpServer(t, "productpage", 9080);
      const cp = httpServer(t, "cp", 15014);
      await productpage.waitForOutput("listening");
      await cp.waitForOutput("listening");

      // No NAT anywhere: the server sees the workload's own address.
      expect(await curl(t, "sleep", "http://10.0.2.10:9080/")).toEqual({ server: "productpage", client: "10.0.1.10" });
      expect(await curl(t, "notsleep", "http://10.0.2.10:9080/")).toEqual({ server: "productpage", client: "10.0.1.11" });
      expect(await curl(t, "node-1", "http://192.168.77.2:15014/")).toEqual({ server: "cp", client: "192.168.77.11" });
      expect(await curl(t, "node-2", "http://192.168.77.2:15014/")).toEqual({ server: "cp", client: "192.168.77.12" });
      expect(await curl(t, "sleep", "http://192.168.77.2:15014/")).toEqual({ server: "cp", client: "10.0.1.10" });

      // The path really goes through both nodes: sleep's route is its gateway on node-1; node-1 forwards to node-2.
      expect(await runOk(t.workload("sleep").exec(["ip", "route", "get", "10.0.2.10"]))).toContain("via 10.0.1.1 dev eth0");
      expect(await runOk(t.node("node-1").exec(["ip", "route", "get", "10.0.2.10"]))).toContain("via 192.168.77.12 dev eth0");
      expect(await runOk(t.node("node-2").exec(["ip", "route", "get", "10.0.2.10"]))).toContain("dev productpage");
      // Same-node traffic crosses the node too (no on-link route between workloads).
      expect(await runOk(t.workload("sleep").exec(["ip", "route", "get", "10.0.1.11"]))).toContain("via 10.0.1.1 dev eth0");

      expect(t.node("node-1").workloads.map((w) => w.label)).toEqual(["sleep", "notsleep"]);
      expect(t.workload("productpage")).toMatchObject({ ip: "10.0.2.10", node: "node-2", nodeInterface: "productpage" });
    });
    expect(await ourNamespaces(prefix)).toEqual([]);
    expect(await rootRules()).toBe(rulesBefore);
  });

  test("a failing test body still kills its processes and deletes its namespaces", async () => {
    let prefix = "";
    let pid = 0;
    const failed = withTopology(SEED_TOPOLOGY, async (t) => {
      prefix = t.prefix;
      const sleeper = t.spawn("sleep", ["sleep", "300"]);
      pid = sleeper.pid;
      // A process started outside spawn() (as a test might with exec) is found through `ip netns pids`.
      void run(t.node("node-2").exec(["sleep", "300"]), { timeoutMs: 60_000 });
      throw new Error("boom");
    });
    await expect(failed).rejects.toThrow("boom");
    expect(await ourNamespaces(prefix)).toEqual([]);
    expect(() => process.kill(pid, 0)).toThrow();
  });

  test("a build that fails half-way removes what it created", async () => {
    const before = await runOk(["ip", "netns", "list"]);
    // node-2 is outside the LAN subnet, so routes via it fail after most of the build is done.
    const bad = buildTopology({
      nodes: [
        { name: "node-1", lanIp: "192.168.77.11", workloads: [{ name: "sleep", ip: "10.0.1.10" }] },
        { name: "node-2", lanIp: "192.168.78.12", workloads: [{ name: "productpage", ip: "10.0.2.10" }] },
      ],
    });
    await expect(bad).rejects.toThrow(/route/);
    expect(await runOk(["ip", "netns", "list"])).toBe(before);
  });
});

describe("test topology spec", () => {
  test("bad specs are refused before anything is created", async () => {
    await expect(buildTopology({ nodes: [] })).rejects.toThrow(/no nodes/);
    await expect(buildTopology({ nodes: [{ name: "a-name-longer-than-15", lanIp: "192.168.77.11" }] })).rejects.toThrow(/bad name/);
    await expect(
      buildTopology({ nodes: [{ name: "node-1", lanIp: "192.168.77.11", workloads: [{ name: "x", ip: "192.168.77.11" }] }] }),
    ).rejects.toThrow(/used twice/);
  });
});
