/**
 * Wire interop: the control plane's delta ADS spoken to by a client that shares no code with
 * ours — @grpc/grpc-js over h2c, with messages from Envoy's own published protos (the copies
 * vendored in @grpc/grpc-js-xds, loaded by @grpc/proto-loader), not from our proto/ folder.
 * It proves the stream contract a real Envoy-style client relies on: the initial wildcard
 * response (type URL, nonce, named and versioned resources in Anys), ACKs and NACKs recorded by
 * the server, a second type on the same stream, and a reconnect with initial_resource_versions
 * that resends nothing unchanged; and gRPC statuses in the trailers (a refused stream, a clean
 * end on shutdown). Only the Any payload is decoded with our generated schema, to show the bytes
 * inside are the resource.
 */
import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import * as grpc from "@grpc/grpc-js";
import * as protoLoader from "@grpc/proto-loader";
import { fromBinary } from "@bufbuild/protobuf";
import { type RunningControlPlane } from "../src/controlplane/server.ts";
import { WorkloadSchema } from "../src/gen/mesh/xds/v1/workload_pb.ts";
import { eventually } from "./support/eventually.ts";
import { applyAndWait, startTestControlPlane } from "./support/control-plane.ts";
import { freePort } from "./support/ports.ts";

// Spelled out rather than imported from src/, so the client side owes nothing to our code.
const WORKLOAD_TYPE = "type.googleapis.com/mesh.xds.v1.Workload";
const SERVICE_TYPE = "type.googleapis.com/mesh.xds.v1.Service";
const WORKLOADS = ["bookinfo/notsleep", "bookinfo/productpage-v1", "bookinfo/sleep"];
const SERVICES = ["bookinfo/productpage.bookinfo.svc.cluster.local"];

// ---- Envoy's protos, as proto-loader sees them (keepCase: snake_case field names) ----

const DEPS = fileURLToPath(new URL("../node_modules/@grpc/grpc-js-xds/deps/", import.meta.url));
const envoyProtos = protoLoader.loadSync("envoy/service/discovery/v3/ads.proto", {
  includeDirs: ["envoy-api", "googleapis", "xds", "protoc-gen-validate"].map((d) => join(DEPS, d)),
  keepCase: true,
  longs: String,
  enums: String,
  defaults: true,
  oneofs: true,
});
type AdsClient = grpc.Client & { DeltaAggregatedResources(metadata?: grpc.Metadata): grpc.ClientDuplexStream<DeltaDiscoveryRequest, DeltaDiscoveryResponse> };
// loadPackageDefinition is untyped: name the one constructor and method this test uses.
const AdsClient = (grpc.loadPackageDefinition(envoyProtos) as unknown as { envoy: { service: { discovery: { v3: { AggregatedDiscoveryService: unknown } } } } })
  .envoy.service.discovery.v3.AggregatedDiscoveryService as new (address: string, credentials: grpc.ChannelCredentials) => AdsClient;

/** envoy.service.discovery.v3.DeltaDiscoveryRequest, the fields this test sets. */
interface DeltaDiscoveryRequest {
  node?: { id: string; cluster: string };
  type_url: string;
  initial_resource_versions?: Record<string, string>;
  response_nonce?: string;
  error_detail?: { code: number; message: string };
}
/** envoy.service.discovery.v3.DeltaDiscoveryResponse as decoded (defaults: true fills absent fields). */
interface DeltaDiscoveryResponse {
  system_version_info: string;
  type_url: string;
  nonce: string;
  removed_resources: string[];
  resources: Array<{ name: string; version: string; resource: { type_url: string; value: Buffer } | null }>;
}

/** One grpc-js DeltaAggregatedResources stream: what it received, and any error it ended with. */
class AdsStream {
  readonly received: DeltaDiscoveryResponse[] = [];
  error: grpc.ServiceError | undefined;
  /** The gRPC status the stream ended with (from the trailers), once it has ended. */
  status: grpc.StatusObject | undefined;
  readonly #call: grpc.ClientDuplexStream<DeltaDiscoveryRequest, DeltaDiscoveryResponse>;

  constructor(client: AdsClient, token: string | undefined) {
    const metadata = new grpc.Metadata();
    if (token !== undefined) metadata.set("authorization", `Bearer ${token}`);
    this.#call = client.DeltaAggregatedResources(metadata);
    this.#call.on("data", (r: DeltaDiscoveryResponse) => this.received.push(r));
    this.#call.on("error", (e: grpc.ServiceError) => (this.error = e));
    this.#call.on("status", (s: grpc.StatusObject) => (this.status = s));
  }

  send(request: DeltaDiscoveryRequest): void {
    this.#call.write(request);
  }

  /** The index-th response on this stream (0-based), once it has arrived. */
  response(index: number): Promise<DeltaDiscoveryResponse> {
    return eventually(
      () => {
        if (this.error) throw this.error;
        const r = this.received[index];
        expect(r).toBeDefined();
        return r as DeltaDiscoveryResponse;
      },
      { what: `response #${index + 1}` },
    );
  }

  close(): void {
    this.#call.cancel();
  }
}

// ---- control plane set-up, as in test/xds.test.ts ----

const BOOKINFO = readFileSync(new URL("./fixtures/bookinfo.yaml", import.meta.url), "utf8");

let dir: string;
let cp: RunningControlPlane | undefined;
let xdsPort: number;
const clients: grpc.Client[] = [];
const streams: AdsStream[] = [];

/** node-2's node token, as a ztunnel on node-2 would send it (gRPC metadata "authorization"). */
let node2Token: string | undefined;

/** `token: null` opens a stream without credentials. */
function open(token: string | null = node2Token ?? null): AdsStream {
  const client = new AdsClient(`127.0.0.1:${xdsPort}`, grpc.credentials.createInsecure());
  clients.push(client);
  const stream = new AdsStream(client, token ?? undefined);
  streams.push(stream);
  return stream;
}

function proxy(node: string) {
  return cp?.hub.proxies.list().items.find((p) => p.node === node);
}

beforeEach(async () => {
  dir = mkdtempSync(join(tmpdir(), "mesh-xds-grpc-"));
  xdsPort = await freePort();
  cp = await startTestControlPlane(join(dir, "cp"), { xdsPort });
  const running = cp;
  await applyAndWait(running, BOOKINFO);
  node2Token = (await running.tokens.mint("node-2", 3600_000)).token;
});

afterEach(async () => {
  try {
    for (const s of streams.splice(0)) s.close();
    for (const c of clients.splice(0)) c.close();
    await cp?.close();
  } finally {
    cp = undefined;
    rmSync(dir, { recursive: true, force: true });
  }
});

describe("delta ADS with a grpc-js client and Envoy's protos", () => {
  test("initial sync, ACK, a second type, NACK, and a reconnect that resends nothing", async () => {
    // 1. Wildcard subscription to workloads: everything comes, each named, versioned, in an Any.
    const ads = open();
    ads.send({ node: { id: "node-2", cluster: "ztunnel" }, type_url: WORKLOAD_TYPE });
    const workloads = await ads.response(0);
    expect(workloads.type_url).toBe(WORKLOAD_TYPE);
    expect(workloads.nonce).not.toBe("");
    expect(workloads.removed_resources).toEqual([]);
    expect(workloads.resources.map((r) => r.name).sort()).toEqual(WORKLOADS);
    for (const r of workloads.resources) {
      expect(r.version).not.toBe("");
      expect(r.resource?.type_url).toBe(WORKLOAD_TYPE);
    }
    const productpage = workloads.resources.find((r) => r.name === "bookinfo/productpage-v1")?.resource;
    const decoded = fromBinary(WorkloadSchema, new Uint8Array(productpage?.value ?? []));
    expect(decoded).toMatchObject({ name: "productpage-v1", namespace: "bookinfo", node: "node-2", serviceAccount: "bookinfo-productpage", captured: true });
    expect(decoded.addresses.map((a) => [...a])).toEqual([[10, 0, 2, 10]]);
    expect(decoded.authorizationPolicies).toEqual(["bookinfo/productpage-viewer"]);

    // 2. ACK: the control plane records it against the node.
    ads.send({ type_url: WORKLOAD_TYPE, response_nonce: workloads.nonce });
    await eventually(() => expect(proxy("node-2")?.lastAck).toMatchObject({ typeUrl: WORKLOAD_TYPE, nonce: workloads.nonce }));

    // 3. A second type on the same stream.
    ads.send({ type_url: SERVICE_TYPE });
    const services = await ads.response(1);
    expect(services.type_url).toBe(SERVICE_TYPE);
    expect(services.nonce).not.toBe("");
    expect(services.nonce).not.toBe(workloads.nonce);
    expect(services.resources.map((r) => r.name)).toEqual(SERVICES);
    expect(services.resources.every((r) => r.version !== "" && r.resource?.type_url === SERVICE_TYPE)).toBe(true);

    // 4. NACK it: recorded with the client's message and the resources that response carried.
    ads.send({ type_url: SERVICE_TYPE, response_nonce: services.nonce, error_detail: { code: 3, message: "grpc-js interop client rejects this" } });
    await eventually(() =>
      expect(proxy("node-2")?.nacks.map((n) => ({ typeUrl: n.typeUrl, nonce: n.nonce, message: n.message, resources: n.resources }))).toEqual([
        { typeUrl: SERVICE_TYPE, nonce: services.nonce, message: "grpc-js interop client rejects this", resources: SERVICES },
      ]),
    );
    expect(ads.error).toBeUndefined();

    // 5. Reconnect (new channel, new stream) presenting what we hold: nothing is resent ...
    ads.close();
    await eventually(() => expect(cp?.hub.proxies.list().items.filter((p) => p.node === "node-2")).toHaveLength(0));
    const again = open();
    const held = Object.fromEntries(workloads.resources.map((r) => [r.name, r.version]));
    again.send({ node: { id: "node-2", cluster: "ztunnel" }, type_url: WORKLOAD_TYPE, initial_resource_versions: held });
    const resync = await again.response(0);
    expect(resync.type_url).toBe(WORKLOAD_TYPE);
    expect(resync.nonce).not.toBe("");
    expect(resync.resources).toEqual([]);
    expect(resync.removed_resources).toEqual([]);

    // ... while a version the server does not recognise is answered with the current resource,
    // so the empty answer above really comes from comparing versions.
    const { name, version } = services.resources[0] as DeltaDiscoveryResponse["resources"][number];
    again.send({ type_url: SERVICE_TYPE, initial_resource_versions: { [name]: `${version}-stale` } });
    const serviceResync = await again.response(1);
    expect(serviceResync.type_url).toBe(SERVICE_TYPE);
    expect(serviceResync.resources.map((r) => [r.name, r.version])).toEqual([[name, version]]);
    expect(again.error).toBeUndefined();
  });

  test("refusals and shutdown reach grpc-js as gRPC statuses", async () => {
    const anonymous = open();
    anonymous.send({ type_url: WORKLOAD_TYPE });
    await eventually(() => expect(anonymous.status?.code).toBe(grpc.status.INVALID_ARGUMENT));
    expect(anonymous.status?.details).toContain("node.id");

    const unauthenticated = open(null);
    unauthenticated.send({ node: { id: "node-2", cluster: "ztunnel" }, type_url: WORKLOAD_TYPE });
    await eventually(() => expect(unauthenticated.status?.code).toBe(grpc.status.UNAUTHENTICATED));

    const unknownRole = open();
    unknownRole.send({ node: { id: "node-2", cluster: "ingress" }, type_url: WORKLOAD_TYPE });
    await eventually(() => expect(unknownRole.status?.code).toBe(grpc.status.INVALID_ARGUMENT));
    expect(unknownRole.status?.details).toContain("node.cluster");

    // Closing the control plane ends open streams with OK, so proxies go find another replica.
    const ztunnel = open();
    ztunnel.send({ node: { id: "node-2", cluster: "ztunnel" }, type_url: WORKLOAD_TYPE });
    await ztunnel.response(0);
    const running = cp as RunningControlPlane;
    cp = undefined;
    await running.close();
    await eventually(() => expect(ztunnel.status?.code).toBe(grpc.status.OK));
    expect(ztunnel.error).toBeUndefined();
  });
});
