/**
 * The waypoint's xDS resource at the boundary: WaypointConfigView ↔ mesh.xds.v1.WaypointConfig.
 * Decoding is fallible per resource: enums must be known words, ports real ports, addresses 4 or
 * 16 bytes, each filter's config a JSON object; the error names the field.
 */
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { WaypointConfigSchema } from "../gen/mesh/xds/v1/waypoint_pb.ts";
import { bad, ipBytes, ipText, port } from "./wire-checks.ts";
import { SERVICE_TYPE, TRUST_BUNDLE_TYPE, WAYPOINT_CONFIG_TYPE, WORKLOAD_TYPE } from "./type-urls.ts";
import { decodeService, decodeTrustBundle, decodeWorkload } from "./wire.ts";
import { resourceName, type FilterConfigView, type FilterPhase, type ListenerProtocol, type WaypointConfigView } from "../state/view.ts";

const WAYPOINT_FOR = ["service", "workload", "all", "none"] as const;
const PROTOCOLS: readonly ListenerProtocol[] = ["http", "http2", "grpc", "tcp", "auto"];
const PHASES: readonly FilterPhase[] = ["authn", "authz", "stats", "route"];
const PLUGINS: readonly FilterConfigView["plugin"][] = ["jwt", "authz", "router", "wasm", "module"];

function oneOf<T extends string>(resource: string, field: string, value: string, allowed: readonly T[]): T {
  if (!(allowed as readonly string[]).includes(value)) throw bad(resource, field, `${JSON.stringify(value)} is not one of ${allowed.join(", ")}`);
  return value as T;
}

export function encodeWaypointConfig(w: WaypointConfigView): Uint8Array {
  return toBinary(
    WaypointConfigSchema,
    create(WaypointConfigSchema, {
      namespace: w.namespace,
      name: w.name,
      hbonePort: w.hbonePort,
      waypointFor: w.waypointFor,
      listeners: w.listeners.map((l) => ({ kind: l.kind, key: l.key, hostname: l.hostname, addresses: l.addresses.map(ipBytes), ports: l.ports.map((p) => ({ port: p.port, targetPort: p.targetPort, protocol: p.protocol })) })),
      filters: w.filters.map((f) => ({ plugin: f.plugin, source: f.source, phase: f.phase, priority: BigInt(f.priority), targets: [...f.targets], configJson: JSON.stringify(f.config) })),
    }),
  );
}

export function decodeWaypointConfig(name: string, bytes: Uint8Array): WaypointConfigView {
  let w;
  try {
    w = fromBinary(WaypointConfigSchema, bytes);
  } catch (err) {
    throw bad(name, "(message)", `not a WaypointConfig: ${(err as Error).message}`);
  }
  if (resourceName(w.namespace, w.name) !== name) throw bad(name, "name", `resource is named ${name} but holds ${resourceName(w.namespace, w.name)}`);
  return {
    namespace: w.namespace,
    name: w.name,
    hbonePort: port(name, "hbone_port", w.hbonePort),
    waypointFor: oneOf(name, "waypoint_for", w.waypointFor, WAYPOINT_FOR),
    listeners: w.listeners.map((l, i) => ({
      kind: oneOf(name, `listeners[${i}].kind`, l.kind, ["service", "workload"] as const),
      key: l.key,
      hostname: l.hostname,
      addresses: l.addresses.map((a, j) => ipText(name, `listeners[${i}].addresses[${j}]`, a)),
      ports: l.ports.map((p, j) => ({ port: port(name, `listeners[${i}].ports[${j}].port`, p.port), targetPort: port(name, `listeners[${i}].ports[${j}].target_port`, p.targetPort, true), protocol: oneOf(name, `listeners[${i}].ports[${j}].protocol`, p.protocol, PROTOCOLS) })),
    })),
    filters: w.filters.map((f, i) => {
      let config: unknown;
      try {
        config = JSON.parse(f.configJson);
      } catch (err) {
        throw bad(name, `filters[${i}].config_json`, `not JSON: ${(err as Error).message}`);
      }
      if (typeof config !== "object" || config === null || Array.isArray(config)) throw bad(name, `filters[${i}].config_json`, "must be a JSON object");
      const priority = Number(f.priority);
      if (!Number.isSafeInteger(priority)) throw bad(name, `filters[${i}].priority`, "out of range");
      return { plugin: oneOf(name, `filters[${i}].plugin`, f.plugin, PLUGINS), source: f.source, phase: oneOf(name, `filters[${i}].phase`, f.phase, PHASES), priority, targets: [...f.targets], config: config as Record<string, unknown> };
    }),
  };
}

/** Decoders by type URL, for a waypoint's xDS client. */
export const WAYPOINT_DECODERS = {
  [WAYPOINT_CONFIG_TYPE]: decodeWaypointConfig,
  [WORKLOAD_TYPE]: decodeWorkload,
  [SERVICE_TYPE]: decodeService,
  [TRUST_BUNDLE_TYPE]: decodeTrustBundle,
} as const;
