import { describe, expect, test } from "bun:test";
import { isMeshError } from "../../errors/mesh-error.ts";
import { type CaptureTarget, planWorkloadRules, type WorkloadRulesOptions } from "./workload-rules.ts";

const text = (rules: readonly (readonly string[])[]) => rules.map((r) => r.join(" "));

interface Case {
  readonly name: string;
  readonly targets: readonly CaptureTarget[];
  readonly options?: WorkloadRulesOptions;
  readonly nat4?: string[];
  readonly nat6?: string[];
  readonly raw4?: string[];
  readonly raw6?: string[];
  readonly interfaces?: string[];
  readonly refused?: string[];
  readonly byAddressOnly?: string[];
}

const inbound = (a: string) => [`-d ${a} -p tcp -m tcp --dport 15008 -j REDIRECT --to-ports 15008`, `-d ${a} -p tcp -j REDIRECT --to-ports 15006`];

const cases: Case[] = [
  {
    name: "two workloads on their veths: outbound only from their own interface, forged sources dropped in raw",
    targets: [{ address: "10.0.1.11", hostInterface: "notsleep" }, { address: "10.0.1.10", hostInterface: "sleep" }],
    nat4: [
      "-s 10.0.1.10/32 -i sleep -p tcp -j REDIRECT --to-ports 15001",
      "-s 10.0.1.11/32 -i notsleep -p tcp -j REDIRECT --to-ports 15001",
      ...inbound("10.0.1.10/32"),
      ...inbound("10.0.1.11/32"),
    ],
    raw4: [
      "-s 10.0.1.10/32 ! -i sleep -j DROP",
      "-s 10.0.1.11/32 ! -i notsleep -j DROP",
      "-s 10.0.1.11/32 -i notsleep -j RETURN",
      "-i notsleep -j DROP",
      "-s 10.0.1.10/32 -i sleep -j RETURN",
      "-i sleep -j DROP",
    ],
    nat6: [],
    // No IPv6 workloads, yet their interfaces send no IPv6 but neighbour discovery.
    raw6: [
      "-s fe80::/10 -i notsleep -p ipv6-icmp -j RETURN",
      "-s ::/128 -i notsleep -p ipv6-icmp -j RETURN",
      "-i notsleep -j DROP",
      "-s fe80::/10 -i sleep -p ipv6-icmp -j RETURN",
      "-s ::/128 -i sleep -p ipv6-icmp -j RETURN",
      "-i sleep -j DROP",
    ],
    interfaces: ["notsleep", "sleep"],
    refused: [],
    byAddressOnly: [],
  },
  {
    name: "dual stack on one interface (two entries, one veth): both families bound to it",
    targets: [{ address: "10.0.1.10", hostInterface: "sleep" }, { address: "fd00:1:0::10", hostInterface: "sleep" }],
    nat6: ["-s fd00:1::10/128 -i sleep -p tcp -j REDIRECT --to-ports 15001", ...inbound("fd00:1::10/128")],
    raw6: [
      "-s fd00:1::10/128 ! -i sleep -j DROP",
      "-s fd00:1::10/128 -i sleep -j RETURN",
      "-s fe80::/10 -i sleep -p ipv6-icmp -j RETURN",
      "-s ::/128 -i sleep -p ipv6-icmp -j RETURN",
      "-i sleep -j DROP",
    ],
    raw4: ["-s 10.0.1.10/32 ! -i sleep -j DROP", "-s 10.0.1.10/32 -i sleep -j RETURN", "-i sleep -j DROP"],
    interfaces: ["sleep"],
  },
  {
    name: "no interface recorded: refused (inbound still captured, no outbound rule, no raw rule)",
    targets: [{ address: "10.0.1.10" }, { address: "10.0.1.11", hostInterface: "" }],
    nat4: [...inbound("10.0.1.10/32"), ...inbound("10.0.1.11/32")],
    raw4: [],
    raw6: [],
    interfaces: [],
    refused: ["10.0.1.10", "10.0.1.11"],
    byAddressOnly: [],
  },
  {
    name: "no interface, operator opted in: captured by source address alone, and reported",
    targets: [{ address: "10.0.1.10" }, { address: "10.0.1.11", hostInterface: "notsleep" }],
    options: { allowUnbound: true },
    nat4: [
      "-s 10.0.1.10/32 -p tcp -j REDIRECT --to-ports 15001",
      "-s 10.0.1.11/32 -i notsleep -p tcp -j REDIRECT --to-ports 15001",
      ...inbound("10.0.1.10/32"),
      ...inbound("10.0.1.11/32"),
    ],
    raw4: ["-s 10.0.1.11/32 ! -i notsleep -j DROP", "-s 10.0.1.11/32 -i notsleep -j RETURN", "-i notsleep -j DROP"],
    refused: [],
    byAddressOnly: ["10.0.1.10"],
  },
  {
    name: "one address claimed by two interfaces (or with and without one): not bound, refused, dropped by both",
    targets: [
      { address: "10.0.1.10", hostInterface: "sleep" },
      { address: "10.0.1.10", hostInterface: "notsleep" },
      { address: "10.0.1.11", hostInterface: "notsleep" },
      { address: "10.0.1.12", hostInterface: "sleep" },
      { address: "10.0.1.12" },
    ],
    options: { allowUnbound: true },
    nat4: ["-s 10.0.1.11/32 -i notsleep -p tcp -j REDIRECT --to-ports 15001", ...inbound("10.0.1.10/32"), ...inbound("10.0.1.11/32"), ...inbound("10.0.1.12/32")],
    raw4: ["-s 10.0.1.11/32 ! -i notsleep -j DROP", "-s 10.0.1.11/32 -i notsleep -j RETURN", "-i notsleep -j DROP"],
    interfaces: ["notsleep"],
    refused: ["10.0.1.10", "10.0.1.12"],
    byAddressOnly: [],
  },
  {
    name: "duplicates and spellings collapse; ports are configurable",
    targets: [{ address: "fd00::a", hostInterface: "w" }, { address: "fd00:0::a", hostInterface: "w" }],
    options: { ports: { outbound: 1, hbone: 2, inboundPlaintext: 3 } },
    nat6: ["-s fd00::a/128 -i w -p tcp -j REDIRECT --to-ports 1", "-d fd00::a/128 -p tcp -m tcp --dport 2 -j REDIRECT --to-ports 2", "-d fd00::a/128 -p tcp -j REDIRECT --to-ports 3"],
    nat4: [],
  },
  { name: "nothing to capture: no rules", targets: [], nat4: [], nat6: [], raw4: [], raw6: [], interfaces: [], refused: [], byAddressOnly: [] },
];

describe("planWorkloadRules", () => {
  for (const c of cases) {
    test(c.name, () => {
      const plan = planWorkloadRules(c.targets, c.options);
      if (c.nat4) expect(text(plan.nat[4])).toEqual(c.nat4);
      if (c.nat6) expect(text(plan.nat[6])).toEqual(c.nat6);
      if (c.raw4) expect(text(plan.raw[4])).toEqual(c.raw4);
      if (c.raw6) expect(text(plan.raw[6])).toEqual(c.raw6);
      if (c.interfaces) expect(plan.interfaces).toEqual(c.interfaces);
      if (c.refused) expect(plan.refused.map((r) => r.address)).toEqual(c.refused);
      if (c.byAddressOnly) expect(plan.byAddressOnly).toEqual(c.byAddressOnly);
    });
  }

  test("a refusal says how to fix it", () => {
    expect(planWorkloadRules([{ address: "10.0.1.10" }]).refused[0]?.reason).toContain("--allow-unbound-interfaces");
    expect(planWorkloadRules([{ address: "10.0.1.10", hostInterface: "a" }, { address: "10.0.1.10", hostInterface: "b" }]).refused[0]?.reason).toContain("(a, b)");
  });

  test("bad addresses, interface names and ports are refused", () => {
    for (const [targets, options] of [
      [[{ address: "10.0.0.0/8", hostInterface: "a" }], {}],
      [[{ address: "10.0.0.1", hostInterface: "a -j ACCEPT" }], {}],
      [[{ address: "10.0.0.1", hostInterface: "x".repeat(16) }], {}],
      [[{ address: "10.0.0.1" }], { ports: { outbound: 0 } }],
    ] as const) {
      let err: unknown;
      try {
        planWorkloadRules(targets, options);
      } catch (e) {
        err = e;
      }
      expect(isMeshError(err, "invalid_argument")).toBe(true);
    }
  });
});
