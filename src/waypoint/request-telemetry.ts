/**
 * One record per HTTP request a waypoint carries: the access-log line (Envoy's default fields,
 * plus the source and destination identities) and Istio's request metrics (count, duration,
 * request and response body sizes) with reporter="waypoint" and Istio's label names, so Istio's
 * dashboards read them unchanged.
 */
import { ISTIO_PEER_LABELS } from "../telemetry/istio-labels.ts";
import type { Logger } from "../telemetry/log.ts";
import type { Counter, Histogram, MetricsRegistry } from "../telemetry/metrics.ts";

const LABELS = [...ISTIO_PEER_LABELS, "destination_service_name", "destination_service_namespace", "request_protocol", "response_code", "response_flags", "grpc_response_status", "connection_security_policy"] as const;

/** Istio's buckets for message sizes, in bytes. */
const SIZE_BUCKETS = [1, 10, 100, 1000, 10000, 100000, 1000000, 10000000, 100000000];

/** Istio's default buckets for request durations, in milliseconds. */
const DURATION_BUCKETS = [0.5, 1, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000, 60000, 300000, 600000, 1800000, 3600000];

export interface RequestRecord {
  readonly method: string;
  readonly path: string;
  readonly protocol: string;
  /** A gRPC request, and the grpc-status its response carried (absent: none arrived). */
  readonly grpc?: { readonly status: string | undefined };
  readonly authority: string;
  readonly status: number;
  /** Envoy response flag ("-" when none). */
  readonly flags: string;
  readonly durationMs: number;
  /** Body bytes received from the client and sent to it. */
  readonly requestBytes: number;
  readonly responseBytes: number;
  readonly requestId: string;
  readonly userAgent: string | undefined;
  readonly forwardedFor: string | undefined;
  readonly upstreamHost: string | undefined;
  readonly source: { readonly principal: string; readonly workload?: string; readonly namespace?: string };
  readonly destination: { readonly principal?: string; readonly workload?: string; readonly namespace?: string; readonly service?: string; readonly serviceName?: string; readonly serviceNamespace?: string };
}

export class RequestTelemetry {
  readonly #log: Logger;
  readonly #requests: Counter;
  readonly #duration: Histogram;
  readonly #requestBytes: Histogram;
  readonly #responseBytes: Histogram;

  constructor(log: Logger, metrics: MetricsRegistry) {
    this.#log = log;
    this.#requests = metrics.counter("istio_requests_total", "Requests the waypoint carried", LABELS);
    this.#duration = metrics.histogram("istio_request_duration_milliseconds", "Request duration through the waypoint", LABELS, DURATION_BUCKETS);
    this.#requestBytes = metrics.histogram("istio_request_bytes", "Request body sizes through the waypoint", LABELS, SIZE_BUCKETS);
    this.#responseBytes = metrics.histogram("istio_response_bytes", "Response body sizes through the waypoint", LABELS, SIZE_BUCKETS);
  }

  record(r: RequestRecord): void {
    const labels = {
      reporter: "waypoint",
      source_workload: r.source.workload ?? "unknown",
      source_workload_namespace: r.source.namespace ?? "unknown",
      source_principal: r.source.principal,
      destination_workload: r.destination.workload ?? "unknown",
      destination_workload_namespace: r.destination.namespace ?? "unknown",
      destination_principal: r.destination.principal ?? "unknown",
      destination_service: r.destination.service ?? "unknown",
      destination_service_name: r.destination.serviceName ?? "unknown",
      destination_service_namespace: r.destination.serviceNamespace ?? "unknown",
      // Istio's values: "grpc" for gRPC, "http" for HTTP/1.x and HTTP/2 alike.
      request_protocol: r.grpc ? "grpc" : "http",
      response_code: String(r.status),
      response_flags: r.flags,
      grpc_response_status: r.grpc?.status ?? "",
      connection_security_policy: "mutual_tls",
    };
    this.#requests.labels(labels).inc();
    this.#duration.labels(labels).observe(r.durationMs);
    this.#requestBytes.labels(labels).observe(r.requestBytes);
    this.#responseBytes.labels(labels).observe(r.responseBytes);
    this.#log.info("request complete", {
      method: r.method,
      path: r.path,
      protocol: r.protocol,
      response_code: r.status,
      response_flags: r.flags,
      bytes_received: r.requestBytes,
      bytes_sent: r.responseBytes,
      ...(r.grpc ? { grpc_status: r.grpc.status ?? "-" } : {}),
      duration: `${Math.round(r.durationMs)}ms`,
      x_forwarded_for: r.forwardedFor ?? "-",
      user_agent: r.userAgent ?? "-",
      request_id: r.requestId,
      authority: r.authority,
      upstream_host: r.upstreamHost ?? "-",
      "src.identity": r.source.principal,
      ...(r.source.workload ? { "src.workload": r.source.workload, "src.namespace": r.source.namespace } : {}),
      ...(r.destination.principal ? { "dst.identity": r.destination.principal } : {}),
      ...(r.destination.workload ? { "dst.workload": r.destination.workload, "dst.namespace": r.destination.namespace } : {}),
      ...(r.destination.service ? { "dst.service": r.destination.service } : {}),
    });
  }
}
