// Proves the wire contract of our hand-written protos: each kept field is encoded under the
// field number and wire type Envoy's, googleapis' and Istio's published protos give it, and the
// gRPC service/method names match theirs. The encoding is read back with a tiny tag reader
// written here, independently of @bufbuild/protobuf, so a renumbered field fails this test.

import { test, expect } from "bun:test";
import { create, equals, fromBinary, toBinary } from "@bufbuild/protobuf";
import { anyPack, DurationSchema } from "@bufbuild/protobuf/wkt";
import { AggregatedDiscoveryService } from "../src/gen/envoy/service/discovery/v3/ads_pb.ts";
import {
  DeltaDiscoveryRequestSchema,
  DeltaDiscoveryResponseSchema,
} from "../src/gen/envoy/service/discovery/v3/discovery_pb.ts";
import { StatusSchema } from "../src/gen/google/rpc/status_pb.ts";
import {
  IstioCertificateRequestSchema,
  IstioCertificateResponseSchema,
  IstioCertificateService,
} from "../src/gen/istio/v1/auth/ca_pb.ts";

const VARINT = 0;
const LEN = 2;

/** One top-level field as found on the wire: a varint value or a length-delimited payload. */
interface WireField {
  no: number;
  wireType: number;
  varint?: bigint;
  bytes?: Uint8Array;
}

function readVarint(buf: Uint8Array, pos: number): [value: bigint, next: number] {
  let value = 0n;
  for (let shift = 0n; ; shift += 7n) {
    const byte = buf[pos++];
    if (byte === undefined) throw new Error("truncated varint");
    value |= BigInt(byte & 0x7f) << shift;
    if ((byte & 0x80) === 0) return [value, pos];
  }
}

/** Splits a message's encoding into its top-level fields, in wire order. */
function readFields(buf: Uint8Array): WireField[] {
  const fields: WireField[] = [];
  let pos = 0;
  while (pos < buf.length) {
    const [tag, afterTag] = readVarint(buf, pos);
    const no = Number(tag >> 3n);
    const wireType = Number(tag & 7n);
    if (wireType === VARINT) {
      const [varint, next] = readVarint(buf, afterTag);
      fields.push({ no, wireType, varint });
      pos = next;
    } else if (wireType === LEN) {
      const [length, start] = readVarint(buf, afterTag);
      const end = start + Number(length);
      fields.push({ no, wireType, bytes: buf.subarray(start, end) });
      pos = end;
    } else {
      throw new Error(`unexpected wire type ${wireType} for field ${no}`);
    }
  }
  return fields;
}

/** The field numbers and wire types present, e.g. ["1:2", "3:0"], sorted and de-duplicated. */
function shape(buf: Uint8Array): string[] {
  const seen = new Set(readFields(buf).map((f) => `${f.no}:${f.wireType}`));
  return [...seen].sort((a, b) => parseInt(a) - parseInt(b));
}

/** The payloads of every occurrence of field `no`, decoded as UTF-8. */
function strings(buf: Uint8Array, no: number): string[] {
  return readFields(buf)
    .filter((f) => f.no === no && f.wireType === LEN)
    .map((f) => new TextDecoder().decode(f.bytes));
}

/** The single length-delimited payload of field `no`. */
function only(buf: Uint8Array, no: number): Uint8Array {
  const matches = readFields(buf).filter((f) => f.no === no);
  expect(matches).toHaveLength(1);
  const bytes = matches[0]?.bytes;
  if (bytes === undefined) throw new Error(`field ${no} is not length-delimited`);
  return bytes;
}

test("DeltaDiscoveryRequest: every kept field has Envoy's number and type", () => {
  const request = create(DeltaDiscoveryRequestSchema, {
    node: {
      id: "node-a",
      cluster: "mesh",
      metadata: { role: "ztunnel" },
      userAgentName: "mesh",
      userAgentVersionType: { case: "userAgentVersion", value: "0.1.0" },
      clientFeatures: ["envoy.lb.does_not_support_overprovisioning"],
    },
    typeUrl: "type.googleapis.com/mesh.Workload",
    resourceNamesSubscribe: ["sub-1", "sub-2"],
    resourceNamesUnsubscribe: ["unsub-1"],
    initialResourceVersions: { "res-1": "v7" },
    responseNonce: "nonce-3",
    errorDetail: { code: 3, message: "bad resource", details: [anyPack(DurationSchema, create(DurationSchema, { seconds: 1n }))] },
  });
  const wire = toBinary(DeltaDiscoveryRequestSchema, request);

  // node=1 type_url=2 subscribe=3 unsubscribe=4 initial_resource_versions=5 nonce=6 error=7.
  expect(shape(wire)).toEqual(["1:2", "2:2", "3:2", "4:2", "5:2", "6:2", "7:2"]);
  expect(strings(wire, 2)).toEqual(["type.googleapis.com/mesh.Workload"]);
  expect(strings(wire, 3)).toEqual(["sub-1", "sub-2"]);
  expect(strings(wire, 4)).toEqual(["unsub-1"]);
  expect(strings(wire, 6)).toEqual(["nonce-3"]);

  // A map<string,string> entry is a message with key=1 and value=2.
  const entry = only(wire, 5);
  expect(strings(entry, 1)).toEqual(["res-1"]);
  expect(strings(entry, 2)).toEqual(["v7"]);

  // Node: id=1 cluster=2 metadata(Struct)=3 user_agent_name=6 user_agent_version=7
  // client_features=10.
  const node = only(wire, 1);
  expect(shape(node)).toEqual(["1:2", "2:2", "3:2", "6:2", "7:2", "10:2"]);
  expect(strings(node, 1)).toEqual(["node-a"]);
  expect(strings(node, 2)).toEqual(["mesh"]);
  expect(strings(node, 6)).toEqual(["mesh"]);
  expect(strings(node, 7)).toEqual(["0.1.0"]);
  expect(strings(node, 10)).toEqual(["envoy.lb.does_not_support_overprovisioning"]);

  // google.rpc.Status: code=1 (int32 varint) message=2 details=3 (Any).
  const status = only(wire, 7);
  expect(shape(status)).toEqual(["1:0", "2:2", "3:2"]);
  expect(readFields(status)[0]?.varint).toBe(3n);
  expect(strings(status, 2)).toEqual(["bad resource"]);
  expect(strings(only(status, 3), 1)).toEqual(["type.googleapis.com/google.protobuf.Duration"]);

  const back = fromBinary(DeltaDiscoveryRequestSchema, wire);
  expect(equals(DeltaDiscoveryRequestSchema, back, request)).toBe(true);
  expect(toBinary(DeltaDiscoveryRequestSchema, back)).toEqual(wire);
});

test("DeltaDiscoveryResponse and Resource: every kept field has Envoy's number and type", () => {
  const response = create(DeltaDiscoveryResponseSchema, {
    systemVersionInfo: "sys-1",
    resources: [
      {
        version: "v1",
        resource: anyPack(DurationSchema, create(DurationSchema, { seconds: 5n })),
        name: "res-1",
        aliases: ["alias-1"],
        ttl: { seconds: 30n },
      },
    ],
    typeUrl: "type.googleapis.com/google.protobuf.Duration",
    nonce: "nonce-1",
    removedResources: ["gone-1"],
  });
  const wire = toBinary(DeltaDiscoveryResponseSchema, response);

  // system_version_info=1 resources=2 type_url=4 nonce=5 removed_resources=6.
  expect(shape(wire)).toEqual(["1:2", "2:2", "4:2", "5:2", "6:2"]);
  expect(strings(wire, 1)).toEqual(["sys-1"]);
  expect(strings(wire, 4)).toEqual(["type.googleapis.com/google.protobuf.Duration"]);
  expect(strings(wire, 5)).toEqual(["nonce-1"]);
  expect(strings(wire, 6)).toEqual(["gone-1"]);

  // Resource: version=1 resource(Any)=2 name=3 aliases=4 ttl(Duration)=6.
  const resource = only(wire, 2);
  expect(shape(resource)).toEqual(["1:2", "2:2", "3:2", "4:2", "6:2"]);
  expect(strings(resource, 1)).toEqual(["v1"]);
  expect(strings(resource, 3)).toEqual(["res-1"]);
  expect(strings(resource, 4)).toEqual(["alias-1"]);
  expect(strings(only(resource, 2), 1)).toEqual(["type.googleapis.com/google.protobuf.Duration"]);
  expect(readFields(only(resource, 6))).toEqual([{ no: 1, wireType: VARINT, varint: 30n }]);

  const back = fromBinary(DeltaDiscoveryResponseSchema, wire);
  expect(equals(DeltaDiscoveryResponseSchema, back, response)).toBe(true);
});

test("google.rpc.Status encodes to the bytes any gRPC stack would produce", () => {
  // 0x08 = field 1 varint, 0x12 = field 2 length-delimited.
  const wire = toBinary(StatusSchema, create(StatusSchema, { code: 3, message: "x" }));
  expect([...wire]).toEqual([0x08, 0x03, 0x12, 0x01, 0x78]);
});

test("ADS is served under Envoy's gRPC path", () => {
  expect(AggregatedDiscoveryService.typeName).toBe("envoy.service.discovery.v3.AggregatedDiscoveryService");
  const method = AggregatedDiscoveryService.method.deltaAggregatedResources;
  expect(method.name).toBe("DeltaAggregatedResources");
  expect(method.methodKind).toBe("bidi_streaming");
  expect(method.input.typeName).toBe("envoy.service.discovery.v3.DeltaDiscoveryRequest");
  expect(method.output.typeName).toBe("envoy.service.discovery.v3.DeltaDiscoveryResponse");
});

test("IstioCertificateRequest/Response: Istio's numbers, types and gRPC path", () => {
  const request = create(IstioCertificateRequestSchema, {
    csr: "a",
    validityDuration: 86400n,
    metadata: { WorkloadName: "w" },
  });
  const wire = toBinary(IstioCertificateRequestSchema, request);
  // csr=1 (0x0a, len 1, "a"), validity_duration=3 as an int64 varint (0x18, 86400), then
  // metadata=4 (a Struct, 0x22).
  expect([...wire.subarray(0, 7)]).toEqual([0x0a, 0x01, 0x61, 0x18, 0x80, 0xa3, 0x05]);
  expect(shape(wire)).toEqual(["1:2", "3:0", "4:2"]);
  expect(readFields(wire)[1]?.varint).toBe(86400n);
  expect(strings(only(only(wire, 4), 1), 1)).toEqual(["WorkloadName"]);
  expect(equals(IstioCertificateRequestSchema, fromBinary(IstioCertificateRequestSchema, wire), request)).toBe(
    true,
  );

  const response = toBinary(
    IstioCertificateResponseSchema,
    create(IstioCertificateResponseSchema, { certChain: ["leaf", "root"] }),
  );
  expect(shape(response)).toEqual(["1:2"]);
  expect(strings(response, 1)).toEqual(["leaf", "root"]);

  expect(IstioCertificateService.typeName).toBe("istio.v1.auth.IstioCertificateService");
  const method = IstioCertificateService.method.createCertificate;
  expect(method.name).toBe("CreateCertificate");
  expect(method.methodKind).toBe("unary");
});
