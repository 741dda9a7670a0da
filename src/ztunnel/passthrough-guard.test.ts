import { describe, expect, test } from "bun:test";
import { NodeAddresses } from "./node-addresses.ts";
import { liveGuard, passthroughDenyCidr, passthroughGuard, passthroughRefusal } from "./passthrough-guard.ts";

const guard = passthroughGuard({ nodeAddresses: ["192.168.77.11/32", "10.99.0.0/16", "fd00::11/128"], controlPlane: ["192.168.77.2", "fd00::2"], denied: ["169.254.169.254/32"] });
const verdict = (address: string, port = 80) => passthroughRefusal(guard, { address, port })?.message.replace(/^passthrough to \S+ refused: it is (.*), which .*$/, "$1") ?? "allowed";

describe("passthroughRefusal", () => {
  test.each([
    ["the node's address", "192.168.77.11", "this node (192.168.77.11/32)"],
    ["a local range of the node (ip route add local …)", "10.99.3.4", "this node (10.99.0.0/16)"],
    ["the node's IPv6 address", "fd00::11", "this node (fd00::11/128)"],
    ["loopback, even not listed by the kernel", "127.0.0.53", "this node (127.0.0.0/8)"],
    ["IPv6 loopback", "::1", "this node (::1/128)"],
    ["the unspecified address reaches the local host", "0.0.0.0", "this node (0.0.0.0/32)"],
    ["IPv6 unspecified", "::", "this node (::/128)"],
    ["IPv4-mapped loopback", "::ffff:127.0.0.1", "this node (127.0.0.0/8)"],
    ["IPv4-mapped node address", "::ffff:192.168.77.11", "this node (192.168.77.11/32)"],
    ["the control plane", "192.168.77.2", "the control plane (192.168.77.2)"],
    ["the control plane over IPv6", "fd00::2", "the control plane (fd00::2)"],
    ["the operator's list", "169.254.169.254", "denied by --passthrough-deny (169.254.169.254/32)"],
    ["another node", "192.168.77.12", "allowed"],
    ["the internet", "203.0.113.7", "allowed"],
    ["next to a local range", "10.98.255.255", "allowed"],
  ])("%s: %s", (_name, address, want) => {
    expect(verdict(address)).toBe(want);
  });

  test("the refusal is permission_denied (a reset for capture, 'not allowed' for SOCKS5) and names the destination", () => {
    const e = passthroughRefusal(guard, { address: "192.168.77.2", port: 15012 });
    expect({ code: e?.code, message: e?.message }).toEqual({ code: "permission_denied", message: "passthrough to 192.168.77.2:15012 refused: it is the control plane (192.168.77.2), which workload traffic may not reach from the node's address" });
  });

  test("a bad --passthrough-deny entry is a clear error", () => {
    expect(() => passthroughDenyCidr("10.0.0.0/33", "passthroughDeny[0]")).toThrow('passthroughDeny[0]: "10.0.0.0/33" is not an address or CIDR block');
    expect(passthroughDenyCidr(" 10.0.0.0/8 ", "x").prefix).toBe(8);
  });

  test("liveGuard follows the node's addresses and rebuilds only when they change", () => {
    let now = 0;
    let listed = ["192.168.77.11/32"];
    let reads = 0;
    const current = liveGuard(new NodeAddresses({ now: () => now, maxAgeMs: 1000, read: () => (reads++, [...listed]) }), { controlPlane: [], denied: [] });
    const first = current();
    expect(passthroughRefusal(first, { address: "192.168.77.11", port: 1 })?.code).toBe("permission_denied");
    now = 500;
    listed = ["192.168.77.11/32", "10.0.9.1/32"];
    expect(current()).toBe(first); // not re-read within maxAgeMs
    now = 1500;
    const second = current();
    expect(passthroughRefusal(second, { address: "10.0.9.1", port: 1 })?.code).toBe("permission_denied");
    now = 3000;
    expect(current()).toBe(second); // re-read, unchanged: same guard
    expect(reads).toBe(3);
  });
});
