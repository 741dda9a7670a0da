/**
 * Whether a workload's hostInterface can bind its identity: only a routed interface (a veth whose
 * node side carries the workload's route) can. A bridge, or a port of one, cannot: packets from
 * every port reach iptables with the bridge as their input interface, so `-i <port>` never
 * matches (the workload is cut off: fail closed) and `-i <bridge>` would match every workload on
 * it. Decided from `ip -d -o link show dev <if>`; pure.
 */

/** Why the interface cannot bind a workload's identity, or null when it can. */
export function attachmentProblem(iface: string, ipLinkDetails: string): string | null {
  // -d output: "... \    bridge forward_delay ..." for a bridge, "\    bridge_slave state ..." for a port.
  if (/\\\s+bridge_slave\b/.test(ipLinkDetails)) {
    return `${iface} is a bridge port: traffic from it reaches iptables on the bridge, so the workload's outbound traffic is dropped; give it a routed veth`;
  }
  if (/\\\s+bridge\s/.test(ipLinkDetails)) {
    return `${iface} is a bridge: every port's traffic arrives on it, so it cannot tell workloads apart; give each workload a routed veth`;
  }
  if (/\bmaster\s/.test(ipLinkDetails)) {
    return `${iface} is enslaved to another device (master): traffic from it reaches iptables on the master; give the workload a routed veth`;
  }
  return null;
}
