/**
 * iptables capture, the decision half: the `iptables-restore --noflush` script that moves one
 * table's mesh chain from what `iptables-save` shows to the rules workload-rules.ts decided.
 * Pure functions; iptables.ts runs the commands.
 *
 * Invariants:
 * - Everything mesh adds to a table (nat: capture; raw: anti-spoofing) lives in one chain of that
 *   table (CAPTURE_CHAIN, the same name in both), reached by exactly one unconditional jump
 *   `-A PREROUTING -j CAPTURE_CHAIN`. Nothing else in the table is touched, so removing the jump
 *   and the chain removes every rule mesh added.
 * - Only PREROUTING: packets routed through the node from workload namespaces are captured; the
 *   ztunnel's own sockets originate locally (OUTPUT) and never are, so it cannot capture itself.
 * - A change is one restore transaction per table: redeclaring the chain flushes it and the new
 *   rules are appended in the same commit, so there is never a moment with half the rules.
 * - Rule texts are written exactly as iptables-save prints them, so a plan computed against the
 *   saved state is empty when nothing has to change (sync is idempotent without writing).
 */
import { isIPv4, isIPv6 } from "node:net";
import { MeshError } from "../../errors/mesh-error.ts";

export type Family = 4 | 6;

/** The tables mesh keeps a chain in: raw drops forged sources before conntrack and nat see them. */
export type Table = "raw" | "nat";
export const CAPTURE_TABLE: Table = "nat";
export const ANTI_SPOOF_TABLE: Table = "raw";
export const CAPTURE_CHAIN = "MESH_ZTUNNEL_PREROUTING";
/** The built-in chain holding the jump: packets routed through the node, never locally originated. */
export const ENTRY_CHAIN = "PREROUTING";

export interface CapturePorts {
  /** Outbound capture: TCP from a workload. */
  readonly outbound: number;
  /** Plaintext inbound: TCP to a workload, any port but hbone. */
  readonly inboundPlaintext: number;
  /** HBONE: TCP to a workload on this port keeps it. */
  readonly hbone: number;
}

export const DEFAULT_CAPTURE_PORTS: CapturePorts = Object.freeze({ outbound: 15001, inboundPlaintext: 15006, hbone: 15008 });

/** Rule argument lists (what follows `-A <chain>`), per family. */
export interface RulePlan {
  readonly 4: readonly (readonly string[])[];
  readonly 6: readonly (readonly string[])[];
}

/** What iptables-save shows of the mesh chain in one family's table. */
export interface CaptureState {
  /** The chain is declared. */
  readonly chainExists: boolean;
  /** The chain's rules, each as the text after `-A <chain> `. */
  readonly rules: readonly string[];
  /** Every rule of any chain that jumps to the capture chain, each as the text after `-A `. */
  readonly references: readonly string[];
}

export const NO_CAPTURE_STATE: CaptureState = Object.freeze({ chainExists: false, rules: [], references: [] });

export interface NormalizedAddress {
  readonly family: Family;
  /** In iptables-save's spelling (IPv6 compressed, lower case). */
  readonly address: string;
}

/**
 * Validate and normalise one workload address ("10.0.1.10", "fd00::a"). Throws invalid_argument
 * for anything else (prefixes, zone ids, IPv4-mapped IPv6, host names).
 */
export function normalizeAddress(text: string): NormalizedAddress {
  const t = text.trim();
  if (isIPv4(t)) return { family: 4, address: t };
  if (isIPv6(t) && !t.includes("%") && !t.includes(".")) {
    // The WHATWG URL serializer compresses IPv6 the way inet_ntop (and so iptables-save) does.
    const host = new URL(`http://[${t}]/`).hostname;
    return { family: 6, address: host.slice(1, -1) };
  }
  throw new MeshError("invalid_argument", `not a workload IP address: ${JSON.stringify(text)}`, {
    detail: { accepted: ["IPv4 dotted quad", "IPv6 without zone or embedded IPv4"] },
  });
}

function validPort(name: string, port: number): void {
  if (!Number.isInteger(port) || port < 1 || port > 65535) {
    throw new MeshError("invalid_argument", `capture port ${name} must be 1-65535, got ${port}`, { detail: { path: name } });
  }
}

/** Ports with defaults filled in and checked. */
export function capturePorts(ports: Partial<CapturePorts> = {}): CapturePorts {
  const p = { ...DEFAULT_CAPTURE_PORTS, ...ports };
  validPort("outbound", p.outbound);
  validPort("inboundPlaintext", p.inboundPlaintext);
  validPort("hbone", p.hbone);
  return Object.freeze(p);
}

/** A chain name iptables accepts (at most 28 characters) that cannot be mistaken for a built-in. */
export function checkChainName(chain: string): string {
  if (!/^[A-Za-z0-9_-]{1,28}$/.test(chain) || ["PREROUTING", "INPUT", "OUTPUT", "POSTROUTING", "FORWARD"].includes(chain)) {
    throw new MeshError("invalid_argument", `not a usable capture chain name: ${JSON.stringify(chain)}`, { detail: { path: "chain" } });
  }
  return chain;
}

/** The jump rule, as the text after `-A `. */
export function jumpRule(chain: string = CAPTURE_CHAIN): string {
  return `${ENTRY_CHAIN} -j ${chain}`;
}

/** What `iptables-save -t <table>` output shows of the mesh chain. Other tables are ignored. */
export function parseSave(save: string, chain: string = CAPTURE_CHAIN, table: Table = CAPTURE_TABLE): CaptureState {
  let current = "";
  let chainExists = false;
  const rules: string[] = [];
  const references: string[] = [];
  for (const raw of save.split("\n")) {
    const line = raw.trim();
    if (line.startsWith("*")) current = line.slice(1);
    if (current !== table) continue;
    if (line.startsWith(`:${chain} `)) chainExists = true;
    if (!line.startsWith("-A ")) continue;
    const rule = line.slice(3);
    if (rule.startsWith(`${chain} `)) rules.push(rule.slice(chain.length + 1));
    else if (new RegExp(`(^|\\s)-[jg] ${escapeRegExp(chain)}(\\s|$)`).test(rule)) references.push(rule);
  }
  return { chainExists, rules, references };
}

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

function restoreScript(table: Table, lines: readonly string[]): string {
  return [`*${table}`, ...lines, "COMMIT", ""].join("\n");
}

/**
 * The `iptables-restore --noflush` input that turns `current` into: the chain holding exactly
 * `desired` (rule argument lists) and one jump to it, inserted first in PREROUTING. null when
 * `current` is that already.
 */
export function planSync(current: CaptureState, desired: readonly (readonly string[])[], chain: string = CAPTURE_CHAIN, table: Table = CAPTURE_TABLE): string | null {
  const want = desired.map((args) => args.join(" "));
  const jump = jumpRule(chain);
  const jumps = current.references.filter((r) => r === jump).length;
  const extra = current.references.filter((r) => r !== jump);
  const rulesMatch = want.length === current.rules.length && want.every((r, i) => r === current.rules[i]);
  if (current.chainExists && rulesMatch && jumps === 1 && extra.length === 0) return null;
  return restoreScript(table, [
    // Declaring a user chain under --noflush flushes it (or creates it), in this transaction.
    `:${chain} - [0:0]`,
    ...[...extra, ...Array(Math.max(0, jumps - 1)).fill(jump)].map((r: string) => `-D ${r}`),
    ...(jumps === 0 ? [`-I ${ENTRY_CHAIN} 1 -j ${chain}`] : []),
    ...want.map((r) => `-A ${chain} ${r}`),
  ]);
}

/** The restore input that removes every jump to the chain and the chain itself; null when absent. */
export function planRemoval(current: CaptureState, chain: string = CAPTURE_CHAIN, table: Table = CAPTURE_TABLE): string | null {
  if (!current.chainExists && current.references.length === 0) return null;
  if (!current.chainExists) {
    // A jump to a missing chain cannot exist in a consistent table; remove it anyway.
    return restoreScript(table, current.references.map((r) => `-D ${r}`));
  }
  return restoreScript(table, [`:${chain} - [0:0]`, ...current.references.map((r) => `-D ${r}`), `-X ${chain}`]);
}
