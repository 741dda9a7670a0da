/**
 * The AggregatedDiscoveryService's DeltaAggregatedResources, served with connect-node (gRPC and
 * Connect protocols). One DeltaSession per stream; the stream's loop takes events from one queue —
 * requests from the proxy, and "the config changed" from the push hub (coalesced: several changes
 * waiting become one diff) — so the session state is only ever touched by one task.
 * The listener has authenticated the stream from its headers before this handler runs
 * (PROXY_PRINCIPAL); the first request's node and role must be the principal's to take
 * (authorize-stream.ts), and a waypoint token's stream gets its own Gateway's config only. The stream registers with the
 * hub's proxy registry how to re-check its credentials and how to end it: a revoked or expired
 * node token ends it with UNAUTHENTICATED (stream-credentials.ts), and a request past the
 * session's bounds ends it with the session's error.
 */
import { create } from "@bufbuild/protobuf";
import { ConnectError, Code, type ServiceImpl, type HandlerContext } from "@connectrpc/connect";
import type { AggregatedDiscoveryService } from "../../gen/envoy/service/discovery/v3/ads_pb.ts";
import { DeltaDiscoveryResponseSchema, type DeltaDiscoveryRequest, type DeltaDiscoveryResponse } from "../../gen/envoy/service/discovery/v3/discovery_pb.ts";
import { toConnectError } from "../../errors/grpc-code.ts";
import { MeshError } from "../../errors/mesh-error.ts";
import type { Logger } from "../../telemetry/log.ts";
import { AsyncQueue } from "../../xds/async-queue.ts";
import { WAYPOINT_CONFIG_TYPE, WAYPOINT_TYPES, ZTUNNEL_TYPES } from "../../xds/type-urls.ts";
import { formatGatewayRef } from "../../identity/gateway-ref.ts";
import { authorizeStream } from "./authorize-stream.ts";
import { describePrincipal, PROXY_PRINCIPAL } from "./principal.ts";
import { BulkGate } from "./bulk-gate.ts";
import { DeltaSession, type DeltaRequest, type DeltaResponse } from "./delta-session.ts";
import type { PushHub } from "./push-hub.ts";

type Event = { kind: "request"; request: DeltaDiscoveryRequest } | { kind: "update" } | { kind: "end"; error?: unknown } | { kind: "refused"; error: MeshError };

function toDomain(r: DeltaDiscoveryRequest): DeltaRequest {
  return {
    typeUrl: r.typeUrl,
    subscribe: r.resourceNamesSubscribe,
    unsubscribe: r.resourceNamesUnsubscribe,
    initialVersions: r.initialResourceVersions,
    responseNonce: r.responseNonce,
    ...(r.errorDetail && r.responseNonce !== "" ? { errorDetail: { code: r.errorDetail.code, message: r.errorDetail.message } } : {}),
  };
}

function toWire(r: DeltaResponse): DeltaDiscoveryResponse {
  return create(DeltaDiscoveryResponseSchema, {
    systemVersionInfo: r.systemVersion,
    typeUrl: r.typeUrl,
    nonce: r.nonce,
    resources: r.resources.map((x) => x.message),
    removedResources: [...r.removed],
  });
}

/** Pushes larger than this go through the bulk gate. */
const BULK_BYTES = 1024 * 1024;
/** Streams writing a bulk push at once, and how long one may hold its turn. */
const BULK_STREAMS = 4;
const BULK_HOLD_MS = 2000;

/** `shutdown` ends every open stream cleanly (status OK), so proxies reconnect to another replica. */
export function adsService(hub: PushHub, log: Logger, shutdown: AbortSignal): ServiceImpl<typeof AggregatedDiscoveryService> {
  const bulk = new BulkGate(BULK_STREAMS, BULK_HOLD_MS);
  return {
    async *deltaAggregatedResources(requests: AsyncIterable<DeltaDiscoveryRequest>, ctx: HandlerContext) {
      const principal = ctx.values.get(PROXY_PRINCIPAL);
      if (!principal) throw new ConnectError("no credentials", Code.Unauthenticated);
      // Requests, config changes and the end all go through one queue; several changes waiting
      // to be handled are coalesced into one diff.
      const queue = new AsyncQueue<Event>();
      const pending = queue[Symbol.asyncIterator]();
      let updateQueued = false;
      const next = async (): Promise<Event> => {
        const { value, done } = await pending.next();
        const event: Event = done ? { kind: "end" } : value;
        if (event.kind === "update") updateQueued = false;
        return event;
      };
      void (async () => {
        try {
          for await (const request of requests) queue.push({ kind: "request", request });
          queue.push({ kind: "end" });
        } catch (error) {
          queue.push({ kind: "end", error });
        }
      })();
      if (shutdown.aborted) return;
      const first = await next();
      if (first.kind !== "request") return;
      const node = first.request.node?.id ?? "";
      const role = first.request.node?.cluster || "ztunnel";
      if (node === "") throw new ConnectError("the first request must name its node (node.id)", Code.InvalidArgument);
      if (role !== "ztunnel" && role !== "waypoint") throw new ConnectError(`role "${role}" is not served (node.cluster must be "ztunnel" or "waypoint")`, Code.InvalidArgument);
      try {
        authorizeStream(principal, node, role, (gateway, n) => hub.hasWaypointReplica(gateway, n));
      } catch (err) {
        log.warn("xDS stream refused", { node, role, authenticatedAs: describePrincipal(principal), via: principal.via });
        throw toConnectError(MeshError.from(err));
      }
      // A waypoint with a node's credentials gets the configs of the waypoints with a replica on that
      // node; with a waypoint token, its own Gateway's only.
      const session = new DeltaSession(role === "waypoint" ? WAYPOINT_TYPES : ZTUNNEL_TYPES);
      const resources = () => (role === "waypoint" ? hub.waypointResources(node, principal.waypoint) : hub.ztunnelResources(node));
      const record = hub.proxies.connect(
        node,
        role,
        {
          recheck: principal.recheck,
          end: (error) => queue.push({ kind: "refused", error }),
        },
        principal.waypoint ? formatGatewayRef(principal.waypoint) : undefined,
      );
      const off = hub.onChange(() => {
        if (updateQueued) return;
        updateQueued = true;
        queue.push({ kind: "update" });
      });
      const abort = () => queue.push({ kind: "end" });
      ctx.signal.addEventListener("abort", abort, { once: true });
      shutdown.addEventListener("abort", abort, { once: true });
      log.info("proxy connected", { node, role, via: principal.via });
      try {
        let event: Event = first;
        let seenBuild = hub.build;
        for (;;) {
          let responses: readonly DeltaResponse[] = [];
          if (event.kind === "end") break;
          if (event.kind === "refused") throw toConnectError(event.error);
          if (event.kind === "request") {
            let out;
            try {
              out = session.onRequest(toDomain(event.request), resources(), hub.version);
            } catch (err) {
              log.warn("xDS stream ended: request past the stream's bounds", { node, role, error: err });
              throw toConnectError(err);
            }
            if (out.acked) hub.proxies.recordAck(record, out.acked);
            if (out.nacked) hub.proxies.recordNack(record, out.nacked);
            responses = out.responses;
          } else {
            // Only what changed since this stream's last look, when the hub still has that history.
            const delta = hub.deltaSince(seenBuild);
            // Which waypoint configs a node gets depends on where replicas run, not only on the configs' contents: diff them all (they are few).
            const scoped = delta && role === "waypoint" ? new Map([...delta].filter(([typeUrl]) => typeUrl !== WAYPOINT_CONFIG_TYPE)) : delta;
            responses = session.onUpdate(resources(), hub.version, scoped);
          }
          seenBuild = hub.build;
          let size = 0;
          for (const r of responses) for (const x of r.resources) size += x.size;
          const release = size > BULK_BYTES ? await bulk.enter() : undefined;
          try {
            for (const r of responses) {
              hub.countPush(r.typeUrl);
              yield toWire(r);
            }
          } finally {
            release?.();
          }
          event = await next();
        }
      } finally {
        off();
        ctx.signal.removeEventListener("abort", abort);
        shutdown.removeEventListener("abort", abort);
        hub.proxies.disconnect(record);
        log.info("proxy disconnected", { node, role, ...(record.nackCount > 0 ? { nacks: record.nackCount } : {}) });
      }
    },
  };
}
