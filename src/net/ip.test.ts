import { describe, expect, test } from "bun:test";
import { cidrContains, parseCidr, parseIp, unmapIpv4 } from "./ip.ts";

describe("parseIp", () => {
  const good: Array<[string, number[]]> = [
    ["10.1.2.3", [10, 1, 2, 3]],
    ["0.0.0.0", [0, 0, 0, 0]],
    ["::1", [...Array(15).fill(0), 1]],
    ["fd00::7", [0xfd, 0, ...Array(13).fill(0), 7]],
    ["::ffff:10.0.0.1", [...Array(10).fill(0), 0xff, 0xff, 10, 0, 0, 1]],
    ["1:2:3:4:5:6:7:8", [0, 1, 0, 2, 0, 3, 0, 4, 0, 5, 0, 6, 0, 7, 0, 8]],
  ];
  for (const [text, bytes] of good) test(text, () => expect([...(parseIp(text) ?? [])]).toEqual(bytes));
  for (const bad of ["", "10.1.2", "10.1.2.256", "01.1.1.1", "1.2.3.4.5", ":::", "1::2::3", "1:2:3:4:5:6:7:8:9", "g::1", "fe80::1%eth0", "1.2.3.-1"]) {
    test(`refuses ${JSON.stringify(bad)}`, () => expect(parseIp(bad)).toBeNull());
  }
});

describe("cidrContains", () => {
  const cases: Array<[string, string, boolean]> = [
    ["10.0.0.0/8", "10.250.3.4", true],
    ["10.0.0.0/8", "11.0.0.1", false],
    ["10.1.2.3", "10.1.2.3", true],
    ["10.1.2.3", "10.1.2.4", false],
    ["192.168.1.0/23", "192.168.0.9", true],
    ["192.168.2.0/23", "192.168.1.9", false],
    ["0.0.0.0/0", "8.8.8.8", true],
    ["fd00::/8", "fd00:250::7", true],
    ["fd00::/8", "fe00::1", false],
    ["10.0.0.0/8", "::ffff:10.9.9.9", true],
    ["::ffff:10.0.0.0/104", "10.1.1.1", true],
    ["10.0.0.0/8", "fd00::1", false],
  ];
  for (const [cidr, ip, want] of cases) {
    test(`${cidr} ∋ ${ip} = ${want}`, () => expect(cidrContains(parseCidr(cidr)!, parseIp(ip)!)).toBe(want));
  }
  for (const bad of ["10.0.0.0/33", "fd00::/129", "10.0.0.0/", "10.0.0.0/a", "x/8"]) {
    test(`refuses ${bad}`, () => expect(parseCidr(bad)).toBeNull());
  }
});

describe("unmapIpv4", () => {
  const cases: Array<[string, string]> = [
    ["::ffff:10.0.1.10", "10.0.1.10"],
    ["::FFFF:192.168.0.1", "192.168.0.1"],
    ["::ffff:10.0.1.300", "::ffff:10.0.1.300"],
    ["10.0.1.10", "10.0.1.10"],
    ["fd00:1::10", "fd00:1::10"],
    ["::1", "::1"],
  ];
  for (const [input, want] of cases) test(input, () => expect(unmapIpv4(input)).toBe(want));
});
