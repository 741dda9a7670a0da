/**
 * A small client for etcd's v3 JSON gateway (/v3/kv/range, /v3/kv/txn, /v3/watch), which etcd
 * 3.4+ serves on its client port: just fetch, so it runs on Bun and Deno alike with no gRPC stack.
 * Keys and values are base64 on the wire; revisions are decimal strings (int64 in JSON).
 * Requests go to the first endpoint that answers; a failed endpoint moves to the back.
 */
import { MeshError } from "../../errors/mesh-error.ts";

export interface EtcdKv {
  readonly key: string;
  readonly value: string;
  readonly modRevision: string;
  readonly createRevision: string;
}

export interface EtcdCompare {
  readonly key: string;
  /** The key's mod_revision must equal this; "0" with `absent` means the key must not exist. */
  readonly modRevision?: string;
  readonly absent?: boolean;
}

export type EtcdOp = { readonly put: { key: string; value: string } } | { readonly delete: { key: string } };

export interface EtcdWatchEvent {
  readonly type: "PUT" | "DELETE";
  readonly kv: EtcdKv;
  readonly prevKv?: EtcdKv;
}

const b64 = (s: string) => Buffer.from(s, "utf8").toString("base64");
const unb64 = (s: string | undefined) => Buffer.from(s ?? "", "base64").toString("utf8");

interface WireKv {
  key?: string;
  value?: string;
  mod_revision?: string;
  create_revision?: string;
}

function kvFromWire(kv: WireKv): EtcdKv {
  return { key: unb64(kv.key), value: unb64(kv.value), modRevision: kv.mod_revision ?? "0", createRevision: kv.create_revision ?? "0" };
}

/** The smallest key greater than every key with this prefix (etcd's range_end for a prefix). */
export function prefixEnd(prefix: string): string {
  const bytes = Buffer.from(prefix, "utf8");
  for (let i = bytes.length - 1; i >= 0; i--) {
    if ((bytes[i] as number) < 0xff) {
      const end = bytes.subarray(0, i + 1);
      end[i] = (end[i] as number) + 1;
      return end.toString("base64");
    }
  }
  return Buffer.from([0]).toString("base64");
}

export class EtcdClient {
  readonly #endpoints: string[];
  readonly #timeoutMs: number;

  constructor(endpoints: readonly string[], options: { timeoutMs?: number } = {}) {
    if (endpoints.length === 0) throw new MeshError("invalid_argument", "etcd: no endpoints given");
    this.#endpoints = endpoints.map((e) => e.replace(/\/+$/, ""));
    this.#timeoutMs = options.timeoutMs ?? 5000;
  }

  async #post<T>(path: string, body: unknown, signal?: AbortSignal): Promise<{ res: Response; json: () => Promise<T> }> {
    let lastError: unknown;
    // Each request tries every endpoint once, in the order preferred when it started; concurrent
    // requests share the preference, so a failed endpoint is moved to the back by name (rotating
    // the shared list could bring the dead member back to the front for another request).
    for (const endpoint of [...this.#endpoints]) {
      try {
        const res = await fetch(`${endpoint}${path}`, {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: JSON.stringify(body),
          signal: signal ?? AbortSignal.timeout(this.#timeoutMs),
        });
        if (!res.ok) {
          const text = await res.text();
          if (res.status >= 500 || res.status === 404) throw new Error(`HTTP ${res.status}: ${text.slice(0, 200)}`);
          throw new MeshError("internal", `etcd ${path}: HTTP ${res.status}: ${text.slice(0, 300)}`);
        }
        return { res, json: () => res.json() as Promise<T> };
      } catch (err) {
        if (err instanceof MeshError || signal?.aborted) throw err;
        lastError = err;
        const i = this.#endpoints.indexOf(endpoint);
        if (i >= 0) this.#endpoints.push(...this.#endpoints.splice(i, 1)); // try the next member
      }
    }
    throw new MeshError("unavailable", `etcd unreachable at ${this.#endpoints.join(", ")}: ${(lastError as Error)?.message ?? lastError}`, { cause: lastError });
  }

  /** Keys with `prefix` (or exactly `key` when prefix is false), and the revision they were read at. */
  async range(key: string, options: { prefix?: boolean } = {}): Promise<{ kvs: EtcdKv[]; revision: string }> {
    const body = { key: b64(key), ...(options.prefix ? { range_end: prefixEnd(key) } : {}) };
    const r = await (await this.#post<{ header: { revision: string }; kvs?: WireKv[] }>("/v3/kv/range", body)).json();
    return { kvs: (r.kvs ?? []).map(kvFromWire), revision: r.header.revision };
  }

  /** Read several exact keys atomically at one revision. */
  async rangeMany(keys: readonly string[]): Promise<{ kvs: EtcdKv[]; revision: string }> {
    const body = { success: keys.map((k) => ({ request_range: { key: b64(k) } })) };
    const r = await (await this.#post<{ header: { revision: string }; responses?: Array<{ response_range?: { kvs?: WireKv[] } }> }>("/v3/kv/txn", body)).json();
    const kvs = (r.responses ?? []).flatMap((x) => (x.response_range?.kvs ?? []).map(kvFromWire));
    return { kvs, revision: r.header.revision };
  }

  /** Apply `ops` if every comparison holds; `succeeded` false means another writer got there first. */
  async txn(compares: readonly EtcdCompare[], ops: readonly EtcdOp[]): Promise<{ succeeded: boolean; revision: string }> {
    const body = {
      compare: compares.map((c) =>
        c.absent
          ? { key: b64(c.key), target: "CREATE", result: "EQUAL", create_revision: "0" }
          : { key: b64(c.key), target: "MOD", result: "EQUAL", mod_revision: c.modRevision },
      ),
      success: ops.map((op) => ("put" in op ? { request_put: { key: b64(op.put.key), value: b64(op.put.value) } } : { request_delete_range: { key: b64(op.delete.key) } })),
    };
    const r = await (await this.#post<{ header: { revision: string }; succeeded?: boolean }>("/v3/kv/txn", body)).json();
    return { succeeded: r.succeeded === true, revision: r.header.revision };
  }

  /**
   * Watch keys under `prefix` from `startRevision` (inclusive). Resolves once the watch is set up;
   * `onEvents` gets each batch; `onEnd` is called once when the stream ends for any reason
   * (with `compacted` set when etcd no longer has the history asked for).
   */
  async watch(
    prefix: string,
    startRevision: string,
    onEvents: (events: EtcdWatchEvent[], revision: string) => void,
    onEnd: (err: Error, compacted: boolean) => void,
  ): Promise<{ cancel(): void }> {
    const controller = new AbortController();
    const body = { create_request: { key: b64(prefix), range_end: prefixEnd(prefix), start_revision: startRevision, prev_kv: true } };
    const { res } = await this.#post("/v3/watch", body, controller.signal);
    const reader = (res.body as ReadableStream<Uint8Array>).getReader();
    const decoder = new TextDecoder();
    let ended = false;
    const end = (err: Error, compacted = false) => {
      if (ended) return;
      ended = true;
      controller.abort();
      onEnd(err, compacted);
    };
    void (async () => {
      let buffered = "";
      try {
        for (;;) {
          const { value, done } = await reader.read();
          if (done) return end(new MeshError("unavailable", "etcd watch stream ended"));
          buffered += decoder.decode(value, { stream: true });
          let nl: number;
          while ((nl = buffered.indexOf("\n")) >= 0) {
            const line = buffered.slice(0, nl).trim();
            buffered = buffered.slice(nl + 1);
            if (line === "") continue;
            const msg = JSON.parse(line) as {
              result?: { header?: { revision?: string }; events?: Array<{ type?: string; kv: WireKv; prev_kv?: WireKv }>; canceled?: boolean; compact_revision?: string; cancel_reason?: string };
              error?: { message?: string };
            };
            if (msg.error) return end(new MeshError("unavailable", `etcd watch: ${msg.error.message ?? "error"}`));
            const result = msg.result ?? {};
            if (result.compact_revision && result.compact_revision !== "0") {
              return end(new MeshError("failed_precondition", `etcd watch: revision ${startRevision} is compacted (oldest ${result.compact_revision}); list again`), true);
            }
            if (result.canceled) return end(new MeshError("unavailable", `etcd watch canceled: ${result.cancel_reason ?? ""}`));
            const events = (result.events ?? []).map((e) => ({
              type: e.type === "DELETE" ? ("DELETE" as const) : ("PUT" as const),
              kv: kvFromWire(e.kv),
              ...(e.prev_kv ? { prevKv: kvFromWire(e.prev_kv) } : {}),
            }));
            if (events.length > 0) onEvents(events, result.header?.revision ?? "0");
          }
        }
      } catch (err) {
        end(err instanceof Error ? err : new Error(String(err)));
      }
    })();
    return { cancel: () => end(new MeshError("canceled", "watch closed")) };
  }
}
