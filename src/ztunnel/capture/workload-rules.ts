/**
 * Which iptables rules capture a node's workloads and bind each one's identity to the interface its
 * traffic enters through (issue 14 #1: a workload that adds a neighbour's address to its own
 * interface must not get the neighbour's identity). Pure; iptables.ts applies the result with
 * iptables-plan.ts. docs/security.md, "Workload identity and source addresses", is the why.
 *
 * Invariants:
 * - A workload address is *bound* when exactly one interface is recorded for it
 *   (WorkloadEntry.spec.hostInterface). Only bound addresses get outbound capture, and only from
 *   their interface: `-s A -i I` → outbound port. Outbound capture is what lends the workload's
 *   identity, so an address that is not bound never lends it, unless the operator opts in
 *   (`allowUnbound`: `-s A` alone, the spoofable rule of old), and then it is reported.
 * - Inbound capture (`-d A --dport hbone` → hbone port, `-d A` → plaintext port) is kept for every
 *   address, bound or not: policy still guards traffic *to* a workload the ztunnel cannot vouch for.
 * - All outbound rules come before all inbound rules, so a connection between two captured
 *   workloads on one node is captured once, as outbound.
 * - Table raw (before conntrack and nat) drops forged sources, in both families: a bound address
 *   arriving on any other interface; and anything arriving on a bound interface that is not one of
 *   its own addresses (IPv6: except ICMPv6 from link-local or unspecified sources, which neighbour
 *   discovery needs). Every bound interface gets both families' rules, so an interface with only
 *   IPv4 workloads sends no IPv6 but neighbour discovery.
 * - An address claimed by two interfaces (or by one and by none) is not bound (a configuration
 *   error): it gets no outbound capture and is reported, and a bound interface's raw rules drop it.
 */
import { MeshError } from "../../errors/mesh-error.ts";
import { isInterfaceName } from "../../net/interface-name.ts";
import { type CapturePorts, capturePorts, type Family, normalizeAddress, type RulePlan } from "./iptables-plan.ts";

export interface CaptureTarget {
  /** IPv4 or IPv6 text. */
  readonly address: string;
  /** The node interface the workload's traffic enters through; absent when unknown. */
  readonly hostInterface?: string | undefined;
}

export interface WorkloadRulesOptions {
  readonly ports?: Partial<CapturePorts>;
  /** Capture outbound traffic of addresses without an interface by source address alone (spoofable). */
  readonly allowUnbound?: boolean;
}

export interface WorkloadRules {
  /** Table nat: capture. */
  readonly nat: RulePlan;
  /** Table raw: anti-spoofing drops. */
  readonly raw: RulePlan;
  /** Interfaces bound to at least one address, sorted: strict reverse-path filtering goes on these. */
  readonly interfaces: readonly string[];
  /** Addresses whose outbound traffic is not captured (no identity is lent to them), with why. */
  readonly refused: readonly { readonly address: string; readonly reason: string }[];
  /** Addresses captured by source address alone because the operator allowed it. */
  readonly byAddressOnly: readonly string[];
}

/** What each address is, after grouping the targets. */
type Binding = { readonly kind: "bound"; readonly iface: string } | { readonly kind: "unbound" } | { readonly kind: "conflict"; readonly ifaces: readonly string[] };

interface Entry {
  readonly family: Family;
  readonly address: string;
  readonly binding: Binding;
}

function checkInterface(name: string): string {
  if (!isInterfaceName(name)) {
    throw new MeshError("invalid_argument", `not a network interface name: ${JSON.stringify(name)}`, { detail: { path: "hostInterface" } });
  }
  return name;
}

/** Normalised addresses, sorted per family, each with its binding. Throws invalid_argument on bad input. */
function entries(targets: readonly CaptureTarget[]): Entry[] {
  const byAddress = new Map<string, { family: Family; ifaces: Set<string> }>();
  for (const t of targets) {
    const n = normalizeAddress(t.address);
    const iface = t.hostInterface === undefined || t.hostInterface === "" ? "" : checkInterface(t.hostInterface);
    const e = byAddress.get(n.address) ?? { family: n.family, ifaces: new Set<string>() };
    e.ifaces.add(iface);
    byAddress.set(n.address, e);
  }
  return [...byAddress].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([address, { family, ifaces }]) => {
    const named = [...ifaces].filter((i) => i !== "").sort();
    const binding: Binding =
      named.length === 0 ? { kind: "unbound" } : named.length === 1 && !ifaces.has("") ? { kind: "bound", iface: named[0] as string } : { kind: "conflict", ifaces: [...ifaces].sort() };
    return { family, address, binding };
  });
}

const host = (family: Family, a: string) => `${a}/${family === 4 ? 32 : 128}`;
const redirect = (port: number) => ["-j", "REDIRECT", "--to-ports", String(port)];

export function planWorkloadRules(targets: readonly CaptureTarget[], options: WorkloadRulesOptions = {}): WorkloadRules {
  const p = capturePorts(options.ports);
  const all = entries(targets);
  const refused: { address: string; reason: string }[] = [];
  const byAddressOnly: string[] = [];
  for (const e of all) {
    if (e.binding.kind === "conflict") {
      refused.push({ address: e.address, reason: `claimed by more than one interface (${e.binding.ifaces.map((i) => i || "none").join(", ")}); outbound not captured` });
    } else if (e.binding.kind === "unbound") {
      if (options.allowUnbound) byAddressOnly.push(e.address);
      else refused.push({ address: e.address, reason: "no hostInterface recorded; outbound not captured (set spec.hostInterface, or run the ztunnel with --allow-unbound-interfaces)" });
    }
  }
  const bound = all.flatMap((e) => (e.binding.kind === "bound" ? [{ ...e, iface: e.binding.iface }] : []));
  const interfaces = [...new Set(bound.map((b) => b.iface))].sort();

  const nat = (family: Family): string[][] => {
    const list = all.filter((e) => e.family === family);
    return [
      ...list.flatMap((e) => {
        const source = ["-s", host(family, e.address)];
        if (e.binding.kind === "bound") return [[...source, "-i", e.binding.iface, "-p", "tcp", ...redirect(p.outbound)]];
        if (e.binding.kind === "unbound" && options.allowUnbound) return [[...source, "-p", "tcp", ...redirect(p.outbound)]];
        return [];
      }),
      ...list.flatMap((e) => [
        ["-d", host(family, e.address), "-p", "tcp", "-m", "tcp", "--dport", String(p.hbone), ...redirect(p.hbone)],
        ["-d", host(family, e.address), "-p", "tcp", ...redirect(p.inboundPlaintext)],
      ]),
    ];
  };

  const raw = (family: Family): string[][] => {
    const mine = bound.filter((b) => b.family === family);
    const neighbourDiscovery = (iface: string) =>
      family === 6
        ? [
            ["-s", "fe80::/10", "-i", iface, "-p", "ipv6-icmp", "-j", "RETURN"],
            ["-s", "::/128", "-i", iface, "-p", "ipv6-icmp", "-j", "RETURN"],
          ]
        : [];
    return [
      // A bound address entering anywhere but its own interface is forged.
      ...mine.map((b) => ["-s", host(family, b.address), "!", "-i", b.iface, "-j", "DROP"]),
      // A bound interface sends only its own addresses.
      ...interfaces.flatMap((iface) => [
        ...mine.filter((b) => b.iface === iface).map((b) => ["-s", host(family, b.address), "-i", iface, "-j", "RETURN"]),
        ...neighbourDiscovery(iface),
        ["-i", iface, "-j", "DROP"],
      ]),
    ];
  };

  return { nat: { 4: nat(4), 6: nat(6) }, raw: { 4: raw(4), 6: raw(6) }, interfaces, refused, byAddressOnly };
}

/** Addresses per family, normalised (for reporting what a family without iptables leaves out). */
export function addressesOf(targets: readonly CaptureTarget[], family: Family): string[] {
  return [...new Set(targets.map((t) => normalizeAddress(t.address)).filter((n) => n.family === family).map((n) => n.address))].sort();
}
