import { describe, expect, test } from "bun:test";
import { decodeSockaddr } from "./sockaddr.ts";

function sockaddrIn(a: number[], port: number): Uint8Array {
  const b = new Uint8Array(16);
  b[0] = 2; // AF_INET, little-endian host order
  b[2] = port >> 8;
  b[3] = port & 0xff;
  b.set(a, 4);
  return b;
}

function sockaddrIn6(groups: number[], port: number): Uint8Array {
  const b = new Uint8Array(28);
  b[0] = 10; // AF_INET6
  b[2] = port >> 8;
  b[3] = port & 0xff;
  groups.forEach((g, i) => {
    b[8 + i * 2] = g >> 8;
    b[9 + i * 2] = g & 0xff;
  });
  return b;
}

describe("decodeSockaddr", () => {
  const cases: Array<[string, Uint8Array, number, ReturnType<typeof decodeSockaddr>]> = [
    ["IPv4 with high port", sockaddrIn([10, 250, 0, 7], 9080), 16, { family: 4, address: "10.250.0.7", port: 9080 }],
    ["IPv4 port 443", sockaddrIn([127, 0, 0, 1], 443), 16, { family: 4, address: "127.0.0.1", port: 443 }],
    ["IPv6 loopback", sockaddrIn6([0, 0, 0, 0, 0, 0, 0, 1], 15001), 28, { family: 6, address: "::1", port: 15001 }],
    ["IPv6 ULA", sockaddrIn6([0xfd00, 0x250, 0, 0, 0, 0, 0, 7], 80), 28, { family: 6, address: "fd00:250::7", port: 80 }],
    ["IPv6 no zero run", sockaddrIn6([1, 2, 3, 4, 5, 6, 7, 8], 1), 28, { family: 6, address: "1:2:3:4:5:6:7:8", port: 1 }],
    ["IPv6 single zero kept", sockaddrIn6([1, 0, 3, 4, 5, 6, 7, 8], 1), 28, { family: 6, address: "1:0:3:4:5:6:7:8", port: 1 }],
    ["IPv6 longest run wins", sockaddrIn6([1, 0, 0, 4, 0, 0, 0, 8], 1), 28, { family: 6, address: "1:0:0:4::8", port: 1 }],
    ["too short", sockaddrIn([1, 2, 3, 4], 1), 4, null],
    ["unknown family", new Uint8Array(16).fill(0), 16, null],
    ["IPv6 family but truncated", sockaddrIn6([0, 0, 0, 0, 0, 0, 0, 1], 1), 16, null],
  ];
  for (const [name, buf, len, want] of cases) {
    test(name, () => expect(decodeSockaddr(buf, len)).toEqual(want));
  }
});
