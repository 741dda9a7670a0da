/**
 * Where passthrough may not go (pure). Passthrough — a workload's connection to a destination
 * outside the mesh — leaves the ztunnel from the node's own address, so whatever trusts the node's
 * address would trust every workload on it. The ztunnel therefore refuses to carry workload traffic
 * to:
 * - the node itself: every address its kernel delivers locally (node-addresses.ts), loopback and
 *   the unspecified address (a connect to 0.0.0.0 or :: reaches the local host) — which covers
 *   the ztunnel's own listeners and every service on the node;
 * - the control plane: every address its xDS endpoint resolves to, all ports;
 * - the operator's own list (`--passthrough-deny`, e.g. etcd or a cloud metadata address).
 * Mesh destinations are not affected: they are reached through HBONE with the source workload's
 * identity, and policy at the destination decides. See docs/security.md for why the source
 * address is not kept instead (IP_TRANSPARENT).
 */
import { MeshError } from "../errors/mesh-error.ts";
import { formatEndpoint, type Endpoint } from "../net/endpoint.ts";
import { cidrContains, parseCidr, parseIp, type Cidr } from "../net/ip.ts";
import type { NodeAddresses } from "./node-addresses.ts";

interface Forbidden {
  readonly cidr: Cidr;
  /** What it is, for the refusal: "this node (10.0.1.1/32)". */
  readonly what: string;
}

export interface PassthroughGuard {
  readonly forbidden: readonly Forbidden[];
}

export interface PassthroughGuardInput {
  /** CIDR texts of the node's local addresses. */
  readonly nodeAddresses: readonly string[];
  /** The control plane's addresses. */
  readonly controlPlane: readonly string[];
  /** The operator's CIDRs (checked when the config is read). */
  readonly denied: readonly string[];
}

/** Always the node itself, whatever the kernel lists. */
const ALWAYS_NODE = ["0.0.0.0/32", "::/128", "127.0.0.0/8", "::1/128"];

/** A CIDR text or a MeshError("invalid_argument") naming where it came from. */
export function passthroughDenyCidr(text: string, where: string): Cidr {
  const cidr = parseCidr(text.trim());
  if (!cidr) throw new MeshError("invalid_argument", `${where}: ${JSON.stringify(text)} is not an address or CIDR block`, { detail: { path: where } });
  return cidr;
}

export function passthroughGuard(input: PassthroughGuardInput): PassthroughGuard {
  const forbidden: Forbidden[] = [];
  const add = (texts: readonly string[], what: string) => {
    for (const t of texts) {
      const cidr = parseCidr(t);
      if (cidr) forbidden.push({ cidr, what: `${what} (${t})` });
    }
  };
  add([...ALWAYS_NODE, ...input.nodeAddresses], "this node");
  add(input.controlPlane, "the control plane");
  add(input.denied, "denied by --passthrough-deny");
  return { forbidden };
}

/** Why passthrough to `target` is refused, or undefined when it may go. */
export function passthroughRefusal(guard: PassthroughGuard, target: Endpoint): MeshError | undefined {
  const bytes = parseIp(target.address);
  if (!bytes) return new MeshError("invalid_argument", `passthrough destination ${target.address} is not an IP address`);
  const hit = guard.forbidden.find((f) => cidrContains(f.cidr, bytes));
  if (!hit) return undefined;
  return new MeshError("permission_denied", `passthrough to ${formatEndpoint(target)} refused: it is ${hit.what}, which workload traffic may not reach from the node's address`);
}

/** The guard for the node's current addresses, rebuilt only when they change. */
export function liveGuard(nodeAddresses: NodeAddresses, fixed: Omit<PassthroughGuardInput, "nodeAddresses">): () => PassthroughGuard {
  let builtFor: readonly string[] | undefined;
  let guard: PassthroughGuard | undefined;
  return function currentPassthroughGuard() {
    const addresses = nodeAddresses.current();
    if (addresses !== builtFor || !guard) {
      guard = passthroughGuard({ ...fixed, nodeAddresses: addresses });
      builtFor = addresses;
    }
    return guard;
  };
}
