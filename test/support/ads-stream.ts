/**
 * A raw delta ADS stream for attack tests: any DeltaDiscoveryRequest the test writes is sent as
 * is (a well-behaved client never would), responses are collected, and the stream's end (a gRPC
 * status, or OK) is recorded. Over h2c to an in-process control plane on loopback, or over TLS
 * (`tls`: the server's CA, and a client certificate to present) with or without a token.
 */
import { create, type MessageInitShape } from "@bufbuild/protobuf";
import { ConnectError, createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { AggregatedDiscoveryService } from "../../src/gen/envoy/service/discovery/v3/ads_pb.ts";
import { DeltaDiscoveryRequestSchema, type DeltaDiscoveryResponse } from "../../src/gen/envoy/service/discovery/v3/discovery_pb.ts";
import { AsyncQueue } from "../../src/xds/async-queue.ts";

export type RequestInit = MessageInitShape<typeof DeltaDiscoveryRequestSchema>;

export class RawAdsStream {
  readonly received: DeltaDiscoveryResponse[] = [];
  /** Set once the stream has ended: "ok", or the error's gRPC code name and message. */
  ended: { code: string; message: string } | undefined;
  readonly #out = new AsyncQueue<ReturnType<typeof create<typeof DeltaDiscoveryRequestSchema>>>();
  readonly #abort = new AbortController();

  constructor(server: string, token: string | undefined, tls?: { ca: string; cert?: string; key?: string }) {
    const client = createClient(AggregatedDiscoveryService, createGrpcTransport({ baseUrl: server, readMaxBytes: 16 * 1024 * 1024, acceptCompression: [], ...(tls ? { nodeOptions: tls } : {}) }));
    const headers: Record<string, string> = token === undefined ? {} : { authorization: `Bearer ${token}` };
    void (async () => {
      try {
        for await (const r of client.deltaAggregatedResources(this.#out, { signal: this.#abort.signal, headers })) this.received.push(r);
        this.ended = { code: "ok", message: "" };
      } catch (err) {
        const e = ConnectError.from(err);
        this.ended = { code: String(e.code), message: e.rawMessage };
      }
    })();
  }

  send(request: RequestInit): void {
    this.#out.push(create(DeltaDiscoveryRequestSchema, request));
  }

  close(): void {
    this.#out.close();
    this.#abort.abort();
  }
}
