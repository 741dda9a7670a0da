/**
 * Every TCP connection a proxy carries, from open to close: what the admin endpoint lists, what
 * policy changes re-check, and — when it closes — one access-log line in ztunnel's shape and the
 * istio_tcp_* metrics. Byte counts are read from the plaintext socket's own counters at close, so
 * the data path does no per-chunk accounting.
 */
import type { Duplex } from "node:stream";
import { formatEndpoint, type Endpoint } from "../net/endpoint.ts";
import { ISTIO_PEER_LABELS } from "./istio-labels.ts";
import type { Logger } from "./log.ts";
import type { MetricsRegistry, Counter } from "./metrics.ts";
import type { ServiceView, WorkloadView } from "../state/view.ts";

export type Direction = "inbound" | "outbound";

export interface Peer {
  readonly addr: Endpoint;
  readonly workload?: WorkloadView;
  /** spiffe://…, when known (verified or our own workload). */
  readonly identity?: string;
}

export interface ConnectionInfo {
  readonly direction: Direction;
  readonly src: Peer;
  readonly dst: Peer;
  /** Where the bytes went on the wire (an HBONE listener, or the workload itself). */
  readonly dstAddr: Endpoint;
  /** The CONNECT authority when tunnelled. */
  readonly hboneAddr?: Endpoint;
  readonly service?: ServiceView;
  readonly mtls: boolean;
}

/** The socket whose counters measure the connection: bytesRead = toward dst, bytesWritten = toward src. */
export interface ByteSource {
  readonly bytesRead: number;
  readonly bytesWritten: number;
}

export interface OpenConnection<Recheck = unknown> {
  readonly id: number;
  readonly info: ConnectionInfo;
  readonly started: number;
  /** What policy decided on, to re-check when policy changes (the proxy's own record). */
  readonly policy?: Recheck;
  readonly streams: readonly Duplex[];
}

interface Families {
  readonly opened: Counter;
  readonly closed: Counter;
  readonly sent: Counter;
  readonly received: Counter;
}

const LABELS = [...ISTIO_PEER_LABELS, "request_protocol", "connection_security_policy"] as const;

export class ConnectionTable<Recheck = unknown> {
  readonly #log: Logger;
  readonly #now: () => number;
  readonly #m: Families;
  readonly #open = new Map<number, OpenConnection<Recheck>>();
  #next = 1;

  constructor(options: { log: Logger; metrics: MetricsRegistry; now?: () => number }) {
    this.#log = options.log;
    this.#now = options.now ?? Date.now;
    const m = options.metrics;
    this.#m = {
      opened: m.counter("istio_tcp_connections_opened_total", "TCP connections opened", LABELS),
      closed: m.counter("istio_tcp_connections_closed_total", "TCP connections closed", LABELS),
      sent: m.counter("istio_tcp_sent_bytes_total", "Bytes sent toward the destination during TCP connections", LABELS),
      received: m.counter("istio_tcp_received_bytes_total", "Bytes received from the destination during TCP connections", LABELS),
    };
  }

  get size(): number {
    return this.#open.size;
  }

  list(): OpenConnection<Recheck>[] {
    return [...this.#open.values()];
  }

  /**
   * Record an open connection; call the returned function once when it is over, with the socket
   * whose counters measure it and the error that ended it, if any.
   */
  open(info: ConnectionInfo, streams: readonly Duplex[], policy?: Recheck): (bytes: ByteSource | undefined, error?: string) => void {
    const id = this.#next++;
    const entry: OpenConnection<Recheck> = { id, info, started: this.#now(), streams, ...(policy ? { policy } : {}) };
    this.#open.set(id, entry);
    const labels = metricLabels(info);
    this.#m.opened.labels(labels).inc();
    let done = false;
    return (bytes, error) => {
      if (done) return;
      done = true;
      this.#open.delete(id);
      const sent = bytes?.bytesRead ?? 0;
      const recv = bytes?.bytesWritten ?? 0;
      this.#m.closed.labels(labels).inc();
      if (sent) this.#m.sent.labels(labels).inc(sent);
      if (recv) this.#m.received.labels(labels).inc(recv);
      this.logComplete(info, sent, recv, this.#now() - entry.started, error);
    };
  }

  /** A connection refused before it was carried (no bytes): logged the same way, with the error. */
  refused(info: ConnectionInfo, error: string): void {
    const labels = metricLabels(info);
    this.#m.opened.labels(labels).inc();
    this.#m.closed.labels(labels).inc();
    this.logComplete(info, 0, 0, 0, error);
  }

  logComplete(info: ConnectionInfo, sent: number, recv: number, durationMs: number, error?: string): void {
    const f: Record<string, unknown> = { "src.addr": formatEndpoint(info.src.addr) };
    if (info.src.workload) {
      f["src.workload"] = info.src.workload.name;
      f["src.namespace"] = info.src.workload.namespace;
    }
    if (info.src.identity) f["src.identity"] = info.src.identity;
    f["dst.addr"] = formatEndpoint(info.dstAddr);
    if (info.hboneAddr) f["dst.hbone_addr"] = formatEndpoint(info.hboneAddr);
    if (info.service) f["dst.service"] = info.service.hostname;
    if (info.dst.workload) {
      f["dst.workload"] = info.dst.workload.name;
      f["dst.namespace"] = info.dst.workload.namespace;
    }
    if (info.dst.identity) f["dst.identity"] = info.dst.identity;
    f.direction = info.direction;
    f.bytes_sent = sent;
    f.bytes_recv = recv;
    f.duration = `${Math.round(durationMs)}ms`;
    if (error) {
      f.error = error;
      this.#log.warn("connection complete", f);
    } else this.#log.info("connection complete", f);
  }
}

function metricLabels(info: ConnectionInfo): Record<(typeof LABELS)[number], string> {
  const principal = (p: Peer) => (p.identity ?? "unknown");
  return {
    reporter: info.direction === "outbound" ? "source" : "destination",
    source_workload: info.src.workload?.name ?? "unknown",
    source_workload_namespace: info.src.workload?.namespace ?? "unknown",
    source_principal: principal(info.src),
    destination_workload: info.dst.workload?.name ?? "unknown",
    destination_workload_namespace: info.dst.workload?.namespace ?? "unknown",
    destination_principal: principal(info.dst),
    destination_service: info.service?.hostname ?? "unknown",
    request_protocol: "tcp",
    connection_security_policy: info.mtls ? "mutual_tls" : "none",
  };
}
