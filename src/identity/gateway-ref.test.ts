import { describe, expect, test } from "bun:test";
import { formatGatewayRef, parseGatewayRef } from "./gateway-ref.ts";

describe("parseGatewayRef", () => {
  test("NAMESPACE/NAME round trip", () => {
    expect(formatGatewayRef(parseGatewayRef("bookinfo/waypoint", "--waypoint"))).toBe("bookinfo/waypoint");
  });
  test.each(["waypoint", "a/b/c", "/b", "a/", "A/b", "a/b_c", ""])("refuses %p", (text) => {
    expect(() => parseGatewayRef(text, "--waypoint")).toThrow("--waypoint");
  });
});
