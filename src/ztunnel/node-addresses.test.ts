import { describe, expect, test } from "bun:test";
import { parseFibTrieLocal, parseIfInet6, readNodeAddresses } from "./node-addresses.ts";

const FIB_TRIE = `Main:
  +-- 0.0.0.0/0 3 0 5
     |-- 0.0.0.0
        /0 universe UNICAST
     +-- 10.99.0.0/16 2 0 2
     |-- 10.99.0.0
        /16 host LOCAL
Local:
  +-- 0.0.0.0/0 3 0 5
     +-- 127.0.0.0/8 2 0 2
        +-- 127.0.0.0/31 1 0 0
           |-- 127.0.0.0
              /8 host LOCAL
           |-- 127.0.0.1
              /32 host LOCAL
        |-- 127.255.255.255
           /32 link BROADCAST
     +-- 192.168.77.0/24 2 0 2
           |-- 192.168.77.0
              /24 link UNICAST
           |-- 192.168.77.11
              /32 host LOCAL
        |-- 192.168.77.255
           /32 link BROADCAST
`;

describe("node addresses from /proc", () => {
  test("fib_trie: every host LOCAL route, ranges included; broadcast and unicast routes are not", () => {
    expect(parseFibTrieLocal(FIB_TRIE).sort()).toEqual(["10.99.0.0/16", "127.0.0.0/8", "127.0.0.1/32", "192.168.77.11/32"]);
  });

  test("if_inet6: every address as a /128", () => {
    const text = "fe8000000000000000fc00fffe000001 04 40 20 80     eth0\n00000000000000000000000000000001 01 80 10 80       lo\nfd000000000000000000000000000011 04 40 00 82     eth0\n";
    expect(parseIfInet6(text)).toEqual(["fe80::fc:ff:fe00:1/128", "::1/128", "fd00::11/128"]);
  });

  test("this machine's own listing includes loopback", () => {
    expect(readNodeAddresses()).toContain("127.0.0.1/32");
  });
});
