import { describe, expect, test } from "bun:test";
import { grpcLocalReply, grpcStatusFor, isGrpc, LOCAL_REPLIES } from "./local-reply.ts";

describe("local replies to gRPC clients", () => {
  const statuses: Array<[number, number]> = [
    [400, 13],
    [401, 16],
    [403, 7],
    [404, 12],
    [429, 14],
    [502, 14],
    [503, 14],
    [504, 14],
    [500, 2],
  ];
  for (const [http, grpc] of statuses) test(`HTTP ${http} → grpc-status ${grpc}`, () => expect(grpcStatusFor(http)).toBe(grpc));

  test("no healthy upstream is trailers-only UNAVAILABLE with Envoy's words", () =>
    expect(grpcLocalReply(LOCAL_REPLIES.noHealthyUpstream)).toEqual({ ":status": 200, "content-type": "application/grpc", "grpc-status": "14", "grpc-message": "no healthy upstream" }));

  test("grpc-message is percent-encoded", () => expect(grpcLocalReply({ status: 503, body: "50% é\n", flag: "UH", details: "no_healthy_upstream" })["grpc-message"]).toBe("50%25 %C3%A9%0A"));

  const types: Array<[string | undefined, boolean]> = [
    ["application/grpc", true],
    ["application/grpc+proto", true],
    ["application/grpc;charset=utf-8", true],
    ["application/grpc-web", false],
    ["application/json", false],
    [undefined, false],
  ];
  for (const [type, want] of types) test(`isGrpc(${type})`, () => expect(isGrpc(type)).toBe(want));
});
