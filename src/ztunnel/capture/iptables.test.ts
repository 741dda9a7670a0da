import { describe, expect, test } from "bun:test";
import { join } from "node:path";
import { isMeshError } from "../../errors/mesh-error.ts";
import { createLogControl } from "../../telemetry/log.ts";
import { run, runOk } from "../../../test/support/command.ts";
import { withNetns, type Netns } from "../../../test/support/netns.ts";
import { skipReason } from "../../../test/support/requirements.ts";
import { SEED_TOPOLOGY, type Topology, withTopology } from "../../../test/support/topology.ts";
import { CAPTURE_CHAIN as C } from "./iptables-plan.ts";
import { type CommandOutput, type CommandRunner, IptablesCapture } from "./iptables.ts";
import type { CaptureTarget } from "./workload-rules.ts";

const logger = createLogControl({ format: "text", spec: "off" }).logger("capture");
const repo = new URL("../../../", import.meta.url).pathname;

type FakeTable = { chain: boolean; rules: string[]; prerouting: string[] };
const emptyTable = (): FakeTable => ({ chain: false, rules: [], prerouting: [] });

/**
 * In-memory nat and raw tables per family that understand the subset of iptables-save/-restore the
 * capture uses, and a sysctl store, so the whole start/sync/close flow runs without root.
 */
function fakeKernel(options: { ipv6?: "ok" | "missing"; fail?: (argv: readonly string[]) => CommandOutput | null } = {}) {
  const kernel = { 4: { nat: emptyTable(), raw: emptyTable() }, 6: { nat: emptyTable(), raw: emptyTable() } };
  const tables = { 4: kernel[4].nat, 6: kernel[6].nat };
  const sysctl = new Map<string, string>();
  const calls: string[] = [];
  const ok = (stdout = ""): CommandOutput => ({ code: 0, stdout, stderr: "" });
  const runner: CommandRunner = async (argv, input) => {
    calls.push(argv.join(" "));
    await new Promise((r) => setTimeout(r, 1)); // let concurrent callers interleave if they could
    const failure = options.fail?.(argv);
    if (failure) return failure;
    const tool = argv[0] ?? "";
    if (tool === "sysctl") {
      const [key, value] = (argv.at(-1) ?? "").split("=");
      if (value !== undefined) sysctl.set(key as string, value);
      return ok(`${sysctl.get(key as string) ?? "0"}\n`);
    }
    const family = tool.startsWith("ip6") ? 6 : 4;
    if (family === 6 && options.ipv6 === "missing") {
      return { code: 3, stdout: "", stderr: "ip6tables v1.8.9 (legacy): can't initialize ip6tables table `nat': Table does not exist" };
    }
    if (tool.endsWith("tables")) return ok();
    if (tool.endsWith("-save")) {
      const name = argv[argv.indexOf("-t") + 1] as "nat" | "raw";
      const t = kernel[family][name];
      const lines = [`*${name}`, ":PREROUTING ACCEPT [0:0]", ...(t.chain ? [`:${C} - [0:0]`] : [])];
      lines.push(...t.prerouting.map((r) => `-A PREROUTING ${r}`), ...t.rules.map((r) => `-A ${C} ${r}`), "COMMIT", "");
      return ok(lines.join("\n"));
    }
    const t = kernel[family][input.startsWith("*raw") ? "raw" : "nat"];
    for (const line of input.split("\n")) {
      if (line === `:${C} - [0:0]`) {
        t.chain = true;
        t.rules = [];
      } else if (line === `-I PREROUTING 1 -j ${C}`) t.prerouting.unshift(`-j ${C}`);
      else if (line.startsWith("-D PREROUTING ")) t.prerouting.splice(t.prerouting.indexOf(line.slice(14)), 1);
      else if (line.startsWith(`-A ${C} `)) t.rules.push(line.slice(C.length + 4));
      else if (line === `-X ${C}`) t.chain = false;
    }
    return ok();
  };
  return { kernel, tables, sysctl, calls, runner };
}

/** Workloads on interfaces named after their last address byte: 10.0.1.10 on w10. */
const bound = (...addresses: string[]): CaptureTarget[] => addresses.map((address) => ({ address, hostInterface: `w${address.split(/[.:]/).at(-1)}` }));
const report = (changed: boolean) => ({ changed, skipped: [], refused: [], byAddressOnly: [] });

async function thrown(p: Promise<unknown>): Promise<unknown> {
  try {
    await p;
  } catch (err) {
    return err;
  }
  throw new Error("expected a rejection");
}

describe("IptablesCapture with a fake kernel", () => {
  test("sync writes only differences (raw before nat), sets rp_filter strict; close removes everything and restores rp_filter", async () => {
    const k = fakeKernel();
    k.sysctl.set("net.ipv4.conf.w10.rp_filter", "2");
    const capture = await IptablesCapture.start({ logger, run: k.runner });
    expect(await capture.sync(bound("10.0.1.10", "fd00::a"))).toEqual(report(true));
    expect(k.tables[4].prerouting).toEqual([`-j ${C}`]);
    expect(k.tables[4].rules).toHaveLength(3);
    expect(k.tables[6].rules).toHaveLength(3);
    expect(k.kernel[4].raw.rules).toEqual(["-s 10.0.1.10/32 ! -i w10 -j DROP", "-s 10.0.1.10/32 -i w10 -j RETURN", "-i w10 -j DROP", "-i wa -j DROP"]);
    expect(k.kernel[6].raw.prerouting).toEqual([`-j ${C}`]);
    const restores = k.calls.filter((c) => c.includes("restore"));
    expect(restores.every((c) => c.includes("-w 5 --noflush"))).toBe(true);
    expect(k.sysctl.get("net.ipv4.conf.w10.rp_filter")).toBe("1");
    expect(k.sysctl.get("net.ipv4.conf.wa.rp_filter")).toBe("1");
    expect(await capture.sync(bound("fd00:0::a", "10.0.1.10"))).toEqual(report(false));
    expect(k.calls.filter((c) => c.includes("restore")).length).toBe(restores.length);
    await capture.close();
    await capture.close();
    for (const family of [4, 6] as const) expect(k.kernel[family]).toEqual({ nat: emptyTable(), raw: emptyTable() });
    expect(k.sysctl.get("net.ipv4.conf.w10.rp_filter")).toBe("2");
    expect(k.sysctl.get("net.ipv4.conf.wa.rp_filter")).toBe("0");
    expect(isMeshError(await thrown(capture.sync([])), "failed_precondition")).toBe(true);
  });

  test("without an interface a workload's outbound is refused unless the operator allows it", async () => {
    const k = fakeKernel();
    const strict = await IptablesCapture.start({ logger, run: k.runner });
    const refused = await strict.sync([{ address: "10.0.1.10" }]);
    expect(refused.refused.map((r) => r.address)).toEqual(["10.0.1.10"]);
    expect(k.tables[4].rules.filter((r) => r.startsWith("-s"))).toEqual([]);
    expect(k.tables[4].rules).toHaveLength(2); // inbound still guarded
    await strict.close();
    const lax = await IptablesCapture.start({ logger, run: k.runner, allowUnbound: true });
    expect(await lax.sync([{ address: "10.0.1.10" }])).toEqual({ changed: true, skipped: [], refused: [], byAddressOnly: ["10.0.1.10"] });
    expect(k.tables[4].rules[0]).toBe("-s 10.0.1.10/32 -p tcp -j REDIRECT --to-ports 15001");
    await lax.close();
  });

  test("concurrent syncs run one at a time, in call order; the last one wins", async () => {
    const k = fakeKernel();
    const capture = await IptablesCapture.start({ logger, run: k.runner });
    const sets = [bound("10.0.0.1"), bound("10.0.0.2"), bound("10.0.0.3", "10.0.0.4")];
    await Promise.all(sets.map((s) => capture.sync(s)));
    expect(k.tables[4].rules.filter((r) => r.startsWith("-s"))).toEqual([
      "-s 10.0.0.3/32 -i w3 -p tcp -j REDIRECT --to-ports 15001",
      "-s 10.0.0.4/32 -i w4 -p tcp -j REDIRECT --to-ports 15001",
    ]);
    await capture.close();
  });

  test("leftovers of a run that did not close are removed on start", async () => {
    const k = fakeKernel();
    await (await IptablesCapture.start({ logger, run: k.runner })).sync(bound("10.0.0.1"));
    k.tables[4].prerouting.push(`-j ${C}`); // and a duplicate jump
    const next = await IptablesCapture.start({ logger, run: k.runner });
    expect(k.kernel[4]).toEqual({ nat: emptyTable(), raw: emptyTable() });
    await next.close();
  });

  test("IPv6 is skipped, with the reason, when ip6tables nat is unavailable", async () => {
    const k = fakeKernel({ ipv6: "missing" });
    const capture = await IptablesCapture.start({ logger, run: k.runner });
    const v6 = capture.families[6];
    expect(v6.available).toBe(false);
    expect(v6.available ? "" : v6.reason).toContain("Table does not exist");
    const result = await capture.sync(bound("10.0.0.1", "fd00::1"));
    expect(result.changed).toBe(true);
    expect(result.skipped).toEqual([{ address: "fd00::1", reason: v6.available ? "" : v6.reason }]);
    await capture.close();
    expect(k.calls.filter((c) => c.startsWith("ip6tables-restore"))).toEqual([]);
  });

  test("failures become MeshErrors: missing iptables and no root are preconditions, a held lock is unavailable", async () => {
    const enoent: CommandRunner = () => Promise.reject(Object.assign(new Error("spawn iptables ENOENT"), { code: "ENOENT" }));
    const noTool = await thrown(IptablesCapture.start({ logger, run: enoent }));
    expect(isMeshError(noTool, "failed_precondition")).toBe(true);

    const notRoot = fakeKernel({ fail: () => ({ code: 4, stdout: "", stderr: "iptables v1.8.9 (nf_tables): Could not fetch rule set generation id: Permission denied (you must be root)" }) });
    expect(isMeshError(await thrown(IptablesCapture.start({ logger, run: notRoot.runner })), "failed_precondition")).toBe(true);

    const locked = fakeKernel({
      fail: (argv) => (argv[0] === "iptables-restore" ? { code: 4, stdout: "", stderr: "Another app is currently holding the xtables lock. Stopped waiting after 5s." } : null),
    });
    const capture = await IptablesCapture.start({ logger, run: locked.runner, lockWaitSeconds: 5 });
    const err = await thrown(capture.sync(bound("10.0.0.1")));
    expect(isMeshError(err, "unavailable")).toBe(true);
    expect(String((err as Error).message)).toContain("xtables lock");
    // A failed operation does not block the queue.
    expect(isMeshError(await thrown(capture.sync(bound("not-an-ip"))), "invalid_argument")).toBe(true);
  });

  test("a close that failed can be retried; syncs stay refused meanwhile", async () => {
    let lockHeld = false;
    const k = fakeKernel({
      fail: (argv) => (lockHeld && argv[0] === "iptables-restore" ? { code: 4, stdout: "", stderr: "Another app is currently holding the xtables lock." } : null),
    });
    const capture = await IptablesCapture.start({ logger, run: k.runner });
    await capture.sync(bound("10.0.0.1"));
    lockHeld = true;
    expect(isMeshError(await thrown(capture.close()), "unavailable")).toBe(true);
    expect(isMeshError(await thrown(capture.sync(bound("10.0.0.1"))), "failed_precondition")).toBe(true);
    lockHeld = false;
    await capture.close();
    expect(k.kernel[4]).toEqual({ nat: emptyTable(), raw: emptyTable() });
  });

  test("invalid addresses are refused before anything is written", async () => {
    const k = fakeKernel();
    const capture = await IptablesCapture.start({ logger, run: k.runner });
    await capture.sync(bound("10.0.0.1"));
    const err = await thrown(capture.sync([...bound("10.0.0.2"), { address: "10.0.0.3", hostInterface: "-j ACCEPT" }]));
    expect(isMeshError(err, "invalid_argument")).toBe(true);
    expect(isMeshError(await thrown(capture.sync(bound("10.0.0.2", "10.0.0.0/8"))), "invalid_argument")).toBe(true);
    expect(k.tables[4].rules[0]).toBe("-s 10.0.0.1/32 -i w1 -p tcp -j REDIRECT --to-ports 15001");
    await capture.close();
  });
});

const skipRoot = skipReason("iptables capture", { root: true, commands: ["ip", "iptables", "ip6tables", "iptables-restore", "curl"] });

/** A family's nat (or raw) table as iptables-save prints it, without comments and counters. */
async function natRules(ns: Netns, family: 4 | 6, table: "nat" | "raw" = "nat"): Promise<string[]> {
  const out = await runOk(ns.exec([family === 4 ? "iptables-save" : "ip6tables-save", "-t", table]));
  return out.split("\n").filter((l) => l.startsWith("-A ") || l.startsWith(`:${C}`));
}

const v4Rules = (...addresses: string[]) => [
  `:${C} - [0:0]`,
  `-A PREROUTING -j ${C}`,
  ...addresses.map((a) => `-A ${C} -s ${a}/32 -i w${a.split(".").at(-1)} -p tcp -j REDIRECT --to-ports 15001`),
  ...addresses.flatMap((a) => [
    `-A ${C} -d ${a}/32 -p tcp -m tcp --dport 15008 -j REDIRECT --to-ports 15008`,
    `-A ${C} -d ${a}/32 -p tcp -j REDIRECT --to-ports 15006`,
  ]),
];

describe.skipIf(skipRoot !== null)("IptablesCapture in a network namespace (root)", () => {
  test("sync shows exactly the rules, a new set replaces them, close leaves nothing", async () => {
    await withNetns("ipt", async (ns) => {
      await runOk(ns.exec(["iptables", "-w", "-t", "nat", "-A", "PREROUTING", "-s", "192.0.2.1", "-j", "RETURN"])); // not ours: kept
      const capture = await IptablesCapture.start({ logger, exec: ns.exec });
      expect(capture.families[6]).toEqual({ available: true });

      expect((await capture.sync(bound("10.0.1.10", "10.0.1.11", "fd00::a"))).changed).toBe(true);
      expect(await natRules(ns, 4)).toEqual([
        `:${C} - [0:0]`,
        `-A PREROUTING -j ${C}`,
        "-A PREROUTING -s 192.0.2.1/32 -j RETURN",
        ...v4Rules("10.0.1.10", "10.0.1.11").slice(2),
      ]);
      expect(await natRules(ns, 6)).toEqual([
        `:${C} - [0:0]`,
        `-A PREROUTING -j ${C}`,
        `-A ${C} -s fd00::a/128 -i wa -p tcp -j REDIRECT --to-ports 15001`,
        `-A ${C} -d fd00::a/128 -p tcp -m tcp --dport 15008 -j REDIRECT --to-ports 15008`,
        `-A ${C} -d fd00::a/128 -p tcp -j REDIRECT --to-ports 15006`,
      ]);
      expect(await natRules(ns, 6, "raw")).toEqual([
        `:${C} - [0:0]`,
        `-A PREROUTING -j ${C}`,
        `-A ${C} -s fd00::a/128 ! -i wa -j DROP`,
        ...["w10", "w11", "wa"].flatMap((i) => [
          ...(i === "wa" ? [`-A ${C} -s fd00::a/128 -i wa -j RETURN`] : []),
          `-A ${C} -s fe80::/10 -i ${i} -p ipv6-icmp -j RETURN`,
          `-A ${C} -s ::/128 -i ${i} -p ipv6-icmp -j RETURN`,
          `-A ${C} -i ${i} -j DROP`,
        ]),
      ]);
      expect(await natRules(ns, 4, "raw")).toHaveLength(2 + 2 + 2 * 2 + 1);
      // The same set again: the tables already match what iptables-save prints, nothing is written.
      expect((await capture.sync(bound("fd00:0::a", "10.0.1.11", "10.0.1.10"))).changed).toBe(false);

      expect((await capture.sync(bound("10.0.2.10"))).changed).toBe(true);
      const v4 = await natRules(ns, 4);
      expect(v4.filter((l) => l.includes(C))).toEqual(v4Rules("10.0.2.10"));
      expect(await natRules(ns, 6)).toEqual([`:${C} - [0:0]`, `-A PREROUTING -j ${C}`]);

      // A rule removed behind its back is put back by the next sync.
      await runOk(ns.exec(["iptables", "-w", "-t", "nat", "-D", C, "1"]));
      expect((await capture.sync(bound("10.0.2.10"))).changed).toBe(true);
      expect((await natRules(ns, 4)).filter((l) => l.includes(C))).toEqual(v4Rules("10.0.2.10"));

      await capture.close();
      expect(await natRules(ns, 4)).toEqual(["-A PREROUTING -s 192.0.2.1/32 -j RETURN"]);
      expect(await natRules(ns, 6)).toEqual([]);
      expect(await natRules(ns, 4, "raw")).toEqual([]);
      expect(await natRules(ns, 6, "raw")).toEqual([]);
    });
  });

  test("a bridge or a bridge port as hostInterface is reported as unable to bind an identity; a veth is not", async () => {
    await withNetns("ipt", async (ns) => {
      await ns.sh("ip link add br9 type bridge; ip link add port9 type veth peer name peer9; ip link set port9 master br9; ip link add veth9 type veth peer name other9");
      const lines: string[] = [];
      const logs = createLogControl({ format: "json", spec: "error", write: (l) => lines.push(l) });
      const capture = await IptablesCapture.start({ logger: logs.logger("capture"), exec: ns.exec });
      try {
        await capture.sync([
          { address: "10.0.9.1", hostInterface: "br9" },
          { address: "10.0.9.2", hostInterface: "port9" },
          { address: "10.0.9.3", hostInterface: "veth9" },
        ]);
      } finally {
        await capture.close();
      }
      const problems = lines.map((l) => JSON.parse(l) as Record<string, string>).filter((l) => l.msg === "hostInterface cannot bind a workload's identity");
      expect(problems.map((p) => p.interface).sort()).toEqual(["br9", "port9"]);
    });
  });

  test("start removes what a crashed run left (the chain, duplicate jumps), in both families", async () => {
    await withNetns("ipt", async (ns) => {
      const crashed = await IptablesCapture.start({ logger, exec: ns.exec });
      await crashed.sync(bound("10.0.1.10", "fd00::a"));
      // Never closed; and an older version's duplicate jump.
      await runOk(ns.exec(["iptables", "-w", "-t", "nat", "-A", "PREROUTING", "-j", C]));
      const next = await IptablesCapture.start({ logger, exec: ns.exec });
      for (const family of [4, 6] as const) for (const table of ["nat", "raw"] as const) expect(await natRules(ns, family, table)).toEqual([]);
      await next.sync(bound("10.0.1.11"));
      expect(await natRules(ns, 4)).toEqual(v4Rules("10.0.1.11"));
      await next.close();
      expect(await natRules(ns, 4)).toEqual([]);
    });
  });

  test("REDIRECT really captures: outbound from a workload to 15001, inbound to 15006/15008, never the node's own sockets", async () => {
    await withTopology(SEED_TOPOLOGY, async (t) => {
      const node1 = t.node("node-1");
      const node2 = t.node("node-2");
      const listener = (where: string) =>
        t.spawn(where, [join(repo, "node_modules/.bin/bun"), join(repo, "test/support/capture-listener.ts"), "15001", "15006", "15008"]);
      const productpage = t.spawn("productpage", [
        join(repo, "node_modules/.bin/bun"),
        "-e",
        `require("node:http").createServer((q, s) => s.end('{"server":"productpage"}')).listen(9080, () => console.log("listening"))`,
      ]);
      await Promise.all([listener("node-1").waitForOutput("listening"), listener("node-2").waitForOutput("listening"), productpage.waitForOutput("listening")]);
      const curl = async (from: Topology["cp"] | Topology["workloads"][number], url: string) =>
        JSON.parse(await runOk(from.exec(["curl", "-sS", "--max-time", "5", url])));
      const sleep = t.workload("sleep");

      // Nothing captured yet: sleep reaches productpage directly.
      expect(await curl(sleep, "http://10.0.2.10:9080/")).toEqual({ server: "productpage" });

      // node-2 captures productpage: plaintext inbound to 15006, HBONE port kept.
      const capture2 = await IptablesCapture.start({ logger, exec: node2.exec });
      const capture1 = await IptablesCapture.start({ logger, exec: node1.exec });
      try {
        await capture2.sync([{ address: "10.0.2.10", hostInterface: "productpage" }]);
        expect(await curl(sleep, "http://10.0.2.10:9080/")).toMatchObject({
          port: 15006,
          remote: { address: "::ffff:10.0.1.10" },
          originalDestination: { family: 4, address: "10.0.2.10", port: 9080 },
        });
        expect(await curl(sleep, "http://10.0.2.10:15008/")).toMatchObject({
          port: 15008,
          originalDestination: { family: 4, address: "10.0.2.10", port: 15008 },
        });
        // The node's own sockets (the ztunnel delivering inbound traffic) are not captured.
        expect(await curl(node2, "http://10.0.2.10:9080/")).toEqual({ server: "productpage" });

        // node-1 captures sleep: everything sleep sends goes to node-1's 15001 first.
        await capture1.sync([{ address: "10.0.1.10", hostInterface: "sleep" }, { address: "10.0.1.11", hostInterface: "notsleep" }]);
        expect((await runOk(node1.exec(["sysctl", "-n", "net.ipv4.conf.sleep.rp_filter"]))).trim()).toBe("1");
        expect(await curl(sleep, "http://10.0.2.10:9080/")).toMatchObject({
          port: 15001,
          originalDestination: { family: 4, address: "10.0.2.10", port: 9080 },
        });
        // Same node, both captured: outbound wins (captured once, at the source).
        expect(await curl(sleep, "http://10.0.1.11:80/")).toMatchObject({
          port: 15001,
          originalDestination: { family: 4, address: "10.0.1.11", port: 80 },
        });
        // Released workloads are no longer captured.
        await capture1.sync([]);
        await capture2.sync([]);
        expect((await runOk(node1.exec(["sysctl", "-n", "net.ipv4.conf.sleep.rp_filter"]))).trim()).toBe("0");
        expect(await curl(sleep, "http://10.0.2.10:9080/")).toEqual({ server: "productpage" });
      } finally {
        await capture1.close();
        await capture2.close();
      }
      for (const node of [node1, node2]) {
        const saved = await run(node.exec(["iptables-save", "-t", "nat"]));
        expect(saved.stdout).not.toContain(C);
      }
    });
  });
});
