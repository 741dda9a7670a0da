import { expect, test } from "bun:test";
import { isInterfaceName } from "./interface-name.ts";

test("interface names: what the kernel accepts and mesh can pass to iptables and sysctl", () => {
  for (const ok of ["eth0", "veth1a2b3c", "cali0123456789a", "br-lan.10", "sleep", "ens3@if2"]) expect([ok, isInterfaceName(ok)]).toEqual([ok, true]);
  for (const bad of ["", ".", "..", "all", "default", "a".repeat(16), "eth 0", "eth0:1", "a/b", "-i eth0 -j ACCEPT", "eth0\n"]) {
    expect([bad, isInterfaceName(bad)]).toEqual([bad, false]);
  }
});
