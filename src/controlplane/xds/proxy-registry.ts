/**
 * The connected proxies, for the operator (`GET /api/v1/xds/proxies`) and for ending streams whose
 * credentials stop holding. One record per live xDS stream, bounded whatever the proxy sends: its
 * NACKs are kept and logged through nack-record.ts's limits (logging per proxy — node and role —
 * so reconnecting does not reset it), and a listing returns at most
 * `MAX_LISTED_PROXIES` records. Each stream registers how to re-check its credentials and how to
 * end it; `recheckAll` ends every stream whose check now fails (a revoked or expired node token).
 */
import { MeshError } from "../../errors/mesh-error.ts";
import type { Logger } from "../../telemetry/log.ts";
import type { MetricsRegistry } from "../../telemetry/metrics.ts";
import type { NackRecord } from "./delta-session.ts";
import { DEFAULT_NACK_LIMITS, decideNackLog, INITIAL_NACK_LOG, keptNack, type KeptNack, type NackLimits, type NackLogState } from "./nack-record.ts";

export interface ProxyRecord {
  readonly id: number;
  readonly node: string;
  readonly role: string;
  /** NS/NAME when the stream was authenticated with that waypoint's token (it serves only that Gateway). */
  readonly waypoint?: string;
  readonly connectedAt: string;
  lastAck?: { typeUrl: string; nonce: string; at: string };
  /** The most recent NACKs, each bounded (nack-record.ts). */
  readonly nacks: KeptNack[];
  /** Every NACK this stream sent, kept or not. */
  nackCount: number;
}

/** What a stream registers besides its record: how to re-check its credentials, and how to end it. */
export interface LiveStream {
  /** Resolves while the stream's credentials still speak for its node; throws (a MeshError) otherwise. */
  recheck(): Promise<void>;
  end(reason: MeshError): void;
}

/** Records one listing returns at most (each is bounded, so the response is too: about 4 MB at worst). */
export const MAX_LISTED_PROXIES = 500;
/** Streams re-checked at once. */
const RECHECK_CONCURRENCY = 16;
/** Proxies (node and role) whose NACK logging state is remembered; the oldest is forgotten past this. */
const MAX_NACK_LOG_STATES = 10_000;

interface Entry {
  readonly record: ProxyRecord;
  readonly stream: LiveStream | undefined;
}

export class ProxyRegistry {
  readonly #entries = new Map<number, Entry>();
  /** Per proxy (role and node), across its streams: when its NACKs were last logged. */
  readonly #nackLog = new Map<string, NackLogState>();
  readonly #log: Logger;
  readonly #limits: NackLimits;
  readonly #now: () => Date;
  readonly #m;
  #nextId = 1;

  constructor(options: { log: Logger; metrics: MetricsRegistry; limits?: Partial<NackLimits>; now?: () => Date }) {
    this.#log = options.log;
    this.#limits = { ...DEFAULT_NACK_LIMITS, ...options.limits };
    this.#now = options.now ?? (() => new Date());
    this.#m = {
      rejects: options.metrics.counter("pilot_total_xds_rejects", "xDS responses proxies rejected (NACK), by type.", ["type"]),
      connected: options.metrics.gauge("pilot_xds", "Connected xDS streams, by role.", ["role"]),
      ended: options.metrics.counter("mesh_xds_streams_ended_total", "xDS streams the control plane ended because their credentials stopped holding.", ["reason"]),
    };
  }

  connect(node: string, role: string, stream?: LiveStream, waypoint?: string): ProxyRecord {
    const record: ProxyRecord = { id: this.#nextId++, node, role, ...(waypoint ? { waypoint } : {}), connectedAt: this.#now().toISOString(), nacks: [], nackCount: 0 };
    this.#entries.set(record.id, { record, stream });
    this.#m.connected.labels({ role }).inc();
    return record;
  }

  disconnect(record: ProxyRecord): void {
    if (this.#entries.delete(record.id)) this.#m.connected.labels({ role: record.role }).dec();
  }

  recordAck(record: ProxyRecord, ack: { typeUrl: string; nonce: string }): void {
    record.lastAck = { typeUrl: ack.typeUrl, nonce: ack.nonce, at: this.#now().toISOString() };
  }

  recordNack(record: ProxyRecord, nack: NackRecord): void {
    this.#m.rejects.labels({ type: shortType(nack.typeUrl) }).inc();
    const kept = keptNack(nack, this.#now(), this.#limits);
    record.nackCount++;
    record.nacks.push(kept);
    if (record.nacks.length > this.#limits.maxKept) record.nacks.splice(0, record.nacks.length - this.#limits.maxKept);
    const proxy = `${record.role}\u0000${record.node}`;
    const d = decideNackLog(this.#nackLog.get(proxy) ?? INITIAL_NACK_LOG, this.#now().getTime(), this.#limits.logIntervalMs);
    this.#nackLog.delete(proxy); // re-inserted last: the map is oldest-first
    this.#nackLog.set(proxy, d.next);
    if (this.#nackLog.size > MAX_NACK_LOG_STATES) this.#nackLog.delete(this.#nackLog.keys().next().value as string);
    if (d.log) {
      this.#log.warn("proxy rejected config (NACK)", { node: record.node, type: shortType(kept.typeUrl), error: kept.message, ...(d.suppressed > 0 ? { nacksNotLogged: d.suppressed } : {}) });
    }
  }

  /** Live records, oldest first; `node` filters, `limit` (at most MAX_LISTED_PROXIES) and `offset` page. */
  list(query: { node?: string; limit?: number; offset?: number } = {}): { total: number; items: ProxyRecord[] } {
    const all = [...this.#entries.values()].map((e) => e.record).filter((r) => query.node === undefined || r.node === query.node);
    const limit = Math.min(query.limit ?? MAX_LISTED_PROXIES, MAX_LISTED_PROXIES);
    const offset = query.offset ?? 0;
    return { total: all.length, items: all.slice(offset, offset + limit) };
  }

  /** Re-check every live stream's credentials; end the ones that no longer hold. Returns how many were ended. */
  async recheckAll(): Promise<number> {
    const live = [...this.#entries.values()].filter((e) => e.stream !== undefined);
    let ended = 0;
    const check = async (e: Entry) => {
      try {
        await (e.stream as LiveStream).recheck();
      } catch (err) {
        if (!this.#entries.has(e.record.id)) return; // gone meanwhile
        const why = MeshError.from(err, "unauthenticated");
        ended++;
        this.#m.ended.labels({ reason: why.code }).inc();
        this.#log.warn("ending xDS stream: its credentials no longer hold", { node: e.record.node, role: e.record.role, error: why.message });
        (e.stream as LiveStream).end(why);
      }
    };
    for (let i = 0; i < live.length; i += RECHECK_CONCURRENCY) await Promise.all(live.slice(i, i + RECHECK_CONCURRENCY).map(check));
    return ended;
  }
}

export function shortType(typeUrl: string): string {
  return typeUrl.slice(typeUrl.lastIndexOf(".") + 1);
}
