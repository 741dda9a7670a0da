import { describe, expect, test } from "bun:test";
import { create, toBinary } from "@bufbuild/protobuf";
import { isMeshError } from "../errors/mesh-error.ts";
import { WaypointConfigSchema } from "../gen/mesh/xds/v1/waypoint_pb.ts";
import type { WaypointConfigView } from "../state/view.ts";
import { decodeWaypointConfig, encodeWaypointConfig } from "./waypoint-wire.ts";

const config: WaypointConfigView = {
  namespace: "bookinfo",
  name: "waypoint",
  hbonePort: 15008,
  waypointFor: "all",
  listeners: [
    { kind: "service", key: "bookinfo/reviews.bookinfo.svc.cluster.local", hostname: "reviews.bookinfo.svc.cluster.local", addresses: ["10.96.0.30", "fd00::30"], ports: [{ port: 9080, targetPort: 0, protocol: "http" }] },
    { kind: "workload", key: "bookinfo/db", hostname: "", addresses: ["10.0.2.50"], ports: [] },
  ],
  filters: [
    { plugin: "authz", source: "AuthorizationPolicy bookinfo/only-get", phase: "authz", priority: 0, targets: [], config: { action: "ALLOW", rules: [{ to: [{ operation: { methods: ["GET"] } }] }] } },
    { plugin: "module", source: "FilterPlugin bookinfo/quota", phase: "authz", priority: -5, targets: ["bookinfo/reviews.bookinfo.svc.cluster.local"], config: { module: "/opt/q.js" } },
  ],
};

describe("WaypointConfig wire", () => {
  test("round trip", () => {
    expect(decodeWaypointConfig("bookinfo/waypoint", encodeWaypointConfig(config))).toEqual(config);
  });
  const wire = (patch: Record<string, unknown>) => toBinary(WaypointConfigSchema, create(WaypointConfigSchema, { namespace: "bookinfo", name: "waypoint", hbonePort: 15008, waypointFor: "service", ...patch }));
  test.each([
    ["another name", "bookinfo/other", wire({}), "resource is named bookinfo/other"],
    ["unknown waypoint_for", "bookinfo/waypoint", wire({ waypointFor: "everything" }), "waypoint_for"],
    ["port 0", "bookinfo/waypoint", wire({ hbonePort: 0 }), "hbone_port"],
    ["bad address", "bookinfo/waypoint", wire({ listeners: [{ kind: "service", key: "k", addresses: [new Uint8Array(3)] }] }), "listeners[0].addresses[0]"],
    ["bad protocol", "bookinfo/waypoint", wire({ listeners: [{ kind: "service", key: "k", ports: [{ port: 80, protocol: "smtp" }] }] }), "listeners[0].ports[0].protocol"],
    ["config not JSON", "bookinfo/waypoint", wire({ filters: [{ plugin: "authz", phase: "authz", configJson: "{" }] }), "filters[0].config_json"],
    ["config an array", "bookinfo/waypoint", wire({ filters: [{ plugin: "authz", phase: "authz", configJson: "[]" }] }), "must be a JSON object"],
    ["unknown plugin", "bookinfo/waypoint", wire({ filters: [{ plugin: "lua", phase: "authz", configJson: "{}" }] }), "filters[0].plugin"],
    ["garbage", "bookinfo/waypoint", new Uint8Array([0xff, 0xff, 0xff]), "not a WaypointConfig"],
  ])("refuses %s", (_what, name, bytes, message) => {
    let err: unknown;
    try {
      decodeWaypointConfig(name, bytes);
    } catch (e) {
      err = e;
    }
    expect(isMeshError(err) && err.code === "invalid_argument" && err.message.includes(message)).toBe(true);
  });
});
