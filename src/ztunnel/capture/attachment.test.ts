import { expect, test } from "bun:test";
import { attachmentProblem } from "./attachment.ts";

// `ip -d -o link show dev X`, as iproute2 6.x prints it (trimmed).
const VETH = "3: sleep@if2: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1500 qdisc noqueue state UP mode DEFAULT group default qlen 1000\\    link/ether 32:19:c2:62:2c:d2 brd ff:ff:ff:ff:ff:ff link-netns tp0-sleep promiscuity 0  allmulti 0 minmtu 68 maxmtu 65535 \\    veth addrgenmode eui64 numtxqueues 2";
const BRIDGE = "2: br9: <BROADCAST,MULTICAST> mtu 1500 qdisc noop state DOWN mode DEFAULT group default qlen 1000\\    link/ether 2e:27:cd:84:ce:dd brd ff:ff:ff:ff:ff:ff promiscuity 0  allmulti 0 minmtu 68 maxmtu 65535 \\    bridge forward_delay 1500 hello_time 200";
const PORT = "4: v1@v2: <BROADCAST,MULTICAST,M-DOWN> mtu 1500 qdisc noop master br9 state DOWN mode DEFAULT group default qlen 1000\\    link/ether 2e:27:cd:84:ce:dd brd ff:ff:ff:ff:ff:ff promiscuity 1  allmulti 1 minmtu 68 maxmtu 65535 \\    veth \\    bridge_slave state disabled priority 32";
const BOND_MEMBER = "5: eth1: <BROADCAST,MULTICAST,SLAVE,UP> mtu 1500 qdisc fq master bond0 state UP mode DEFAULT group default qlen 1000\\    link/ether 52:54:00:12:34:56 brd ff:ff:ff:ff:ff:ff \\    bond_slave state ACTIVE";

test("attachmentProblem: a routed veth binds; bridges, bridge ports and other enslaved devices do not", () => {
  expect(attachmentProblem("sleep", VETH)).toBeNull();
  expect(attachmentProblem("br9", BRIDGE)).toContain("is a bridge:");
  expect(attachmentProblem("v1", PORT)).toContain("is a bridge port");
  expect(attachmentProblem("eth1", BOND_MEMBER)).toContain("master");
});
