/**
 * The delta xDS client the proxies use. It keeps the last good config and serves it whatever the
 * control plane does: reconnects with jittered exponential backoff, tells the server what it has
 * (initial_resource_versions) so nothing unchanged is sent again, persists every accepted change,
 * and starts from the persisted config after a restart. Each response is decoded resource by
 * resource: the good ones are applied, the bad ones NACKed together with their reasons, and
 * never take the rest down.
 */
import { create } from "@bufbuild/protobuf";
import { createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { MeshError } from "../errors/mesh-error.ts";
import { AggregatedDiscoveryService } from "../gen/envoy/service/discovery/v3/ads_pb.ts";
import { DeltaDiscoveryRequestSchema, type DeltaDiscoveryRequest, type DeltaDiscoveryResponse } from "../gen/envoy/service/discovery/v3/discovery_pb.ts";
import { NodeSchema } from "../gen/envoy/config/core/v3/base_pb.ts";
import { StatusSchema } from "../gen/google/rpc/status_pb.ts";
import type { Logger } from "../telemetry/log.ts";
import { AsyncQueue } from "./async-queue.ts";
import { loadConfigCache, saveConfigCache, type CachedConfig } from "./config-cache.ts";

export type Decoder = (name: string, bytes: Uint8Array) => unknown;

export interface XdsClientOptions {
  /** http://host:port (h2c) or https://host:port. */
  readonly server: string;
  readonly node: string;
  readonly role: string;
  readonly decoders: Readonly<Record<string, Decoder>>;
  readonly cacheFile?: string;
  readonly log: Logger;
  readonly tls?: { readonly ca?: string; readonly cert?: string; readonly key?: string };
  /** The node token, read on every (re)connect so a rotated token file takes effect. */
  readonly token?: () => string;
  /**
   * The node certificate (PEM chain and key), asked for on every (re)connect over TLS. When it
   * gives one, the client authenticates with it and sends no token; else with the token.
   */
  readonly clientCertificate?: () => Promise<{ readonly cert: string; readonly key: string } | undefined>;
  readonly backoff?: { readonly initialMs: number; readonly maxMs: number };
  readonly userAgent?: string;
}

export interface ConfigChange {
  readonly typeUrl: string;
  readonly updated: readonly string[];
  readonly removed: readonly string[];
}

interface Held {
  readonly version: string;
  readonly bytes: Uint8Array;
  readonly value: unknown;
}

const INVALID_ARGUMENT = 3;

export class XdsClient {
  readonly #o: XdsClientOptions;
  readonly #state = new Map<string, Map<string, Held>>();
  readonly #listeners = new Set<(change: ConfigChange) => void>();
  readonly #syncedTypes = new Set<string>();
  readonly #controller = new AbortController();
  #connected = false;
  #lastError: string | undefined;
  #loop: Promise<void> | undefined;
  #syncWaiters: Array<() => void> = [];
  #persistTimer: ReturnType<typeof setTimeout> | undefined;

  constructor(options: XdsClientOptions) {
    this.#o = options;
    for (const typeUrl of Object.keys(options.decoders)) this.#state.set(typeUrl, new Map());
  }

  get connected(): boolean {
    return this.#connected;
  }

  get lastError(): string | undefined {
    return this.#lastError;
  }

  /** Current values of one type, by resource name. */
  resources<T>(typeUrl: string): ReadonlyMap<string, T> {
    const out = new Map<string, T>();
    for (const [name, held] of this.#state.get(typeUrl) ?? []) out.set(name, held.value as T);
    return out;
  }

  versions(typeUrl: string): Record<string, string> {
    return Object.fromEntries([...(this.#state.get(typeUrl) ?? [])].map(([name, h]) => [name, h.version]));
  }

  onChange(listener: (change: ConfigChange) => void): () => void {
    this.#listeners.add(listener);
    return () => void this.#listeners.delete(listener);
  }

  /** Load the persisted config (if any), then connect and keep connected until stop(). */
  start(): void {
    if (this.#o.cacheFile) this.#restore(loadConfigCache(this.#o.cacheFile));
    this.#loop = this.#run();
  }

  /** Resolves once every type has had a complete (last part of a split) response on the current connection. */
  async synced(timeoutMs = 10_000): Promise<void> {
    if (this.#isSynced()) return;
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new MeshError("deadline_exceeded", `xDS not synced after ${timeoutMs} ms${this.#lastError ? `: ${this.#lastError}` : ""}`)), timeoutMs);
      this.#syncWaiters.push(() => {
        clearTimeout(timer);
        resolve();
      });
    });
  }

  async stop(): Promise<void> {
    this.#controller.abort();
    await this.#loop?.catch(() => {});
    if (this.#persistTimer) this.#flush();
  }

  #isSynced(): boolean {
    return Object.keys(this.#o.decoders).every((t) => this.#syncedTypes.has(t));
  }

  #restore(cache: CachedConfig): void {
    for (const [typeUrl, byName] of cache) {
      const decode = this.#o.decoders[typeUrl];
      const held = this.#state.get(typeUrl);
      if (!decode || !held) continue;
      const updated: string[] = [];
      for (const [name, r] of byName) {
        try {
          held.set(name, { version: r.version, bytes: r.bytes, value: decode(name, r.bytes) });
          updated.push(name);
        } catch (err) {
          this.#o.log.warn("cached resource no longer valid; dropped", { type: typeUrl, name, error: err });
        }
      }
      if (updated.length > 0) this.#emit({ typeUrl, updated, removed: [] });
    }
    this.#o.log.info("loaded persisted xDS config", { resources: [...this.#state.values()].reduce((n, m) => n + m.size, 0) });
  }

  #emit(change: ConfigChange): void {
    for (const l of this.#listeners) {
      try {
        l(change);
      } catch (err) {
        this.#o.log.error("config listener failed", { error: err });
      }
    }
  }

  async #run(): Promise<void> {
    const backoff = this.#o.backoff ?? { initialMs: 200, maxMs: 15_000 };
    let delay = backoff.initialMs;
    const signal = this.#controller.signal;
    while (!signal.aborted) {
      const started = Date.now();
      try {
        await this.#stream(signal);
      } catch (err) {
        if (signal.aborted) break;
        const e = MeshError.from(err, "unavailable");
        this.#lastError = e.message;
        this.#o.log.warn("xDS stream failed; serving the last good config", { server: this.#o.server, error: e.message, retryInMs: delay });
      } finally {
        this.#connected = false;
        this.#syncedTypes.clear();
      }
      if (signal.aborted) break;
      if (Date.now() - started > 30_000) delay = backoff.initialMs; // it had been healthy for a while
      const jittered = delay / 2 + Math.random() * (delay / 2);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, jittered);
        signal.addEventListener("abort", () => (clearTimeout(t), resolve()), { once: true });
      });
      delay = Math.min(delay * 2, backoff.maxMs);
    }
  }

  async #stream(signal: AbortSignal): Promise<void> {
    const certificate = this.#o.tls && this.#o.clientCertificate ? await this.#o.clientCertificate() : undefined;
    const transport = createGrpcTransport({
      baseUrl: this.#o.server,
      ...(this.#o.tls ? { nodeOptions: { ...this.#o.tls, ...certificate } } : {}),
      readMaxBytes: 16 * 1024 * 1024,
      acceptCompression: [],
    });
    const client = createClient(AggregatedDiscoveryService, transport);
    const outbound = new AsyncQueue<DeltaDiscoveryRequest>();
    const node = create(NodeSchema, { id: this.#o.node, cluster: this.#o.role, userAgentName: "mesh", userAgentVersionType: { case: "userAgentVersion", value: this.#o.userAgent ?? "dev" } });
    let first = true;
    for (const typeUrl of Object.keys(this.#o.decoders)) {
      outbound.push(create(DeltaDiscoveryRequestSchema, { ...(first ? { node } : {}), typeUrl, initialResourceVersions: this.versions(typeUrl) }));
      first = false;
    }
    try {
      const headers: Record<string, string> = this.#o.token && !certificate ? { authorization: `Bearer ${this.#o.token()}` } : {};
      for await (const response of client.deltaAggregatedResources(outbound, { signal, headers })) {
        if (!this.#connected) {
          this.#connected = true;
          this.#lastError = undefined;
          this.#o.log.info("xDS connected", { server: this.#o.server });
        }
        outbound.push(this.#apply(response));
      }
      if (!signal.aborted) throw new MeshError("unavailable", "the control plane ended the xDS stream");
    } finally {
      outbound.close();
    }
  }

  /** Apply one response; returns the ACK or NACK to send. */
  #apply(res: DeltaDiscoveryResponse): DeltaDiscoveryRequest {
    const decode = this.#o.decoders[res.typeUrl];
    const held = this.#state.get(res.typeUrl);
    if (!decode || !held) {
      return create(DeltaDiscoveryRequestSchema, { typeUrl: res.typeUrl, responseNonce: res.nonce, errorDetail: create(StatusSchema, { code: INVALID_ARGUMENT, message: `type ${res.typeUrl} was not asked for` }) });
    }
    const errors: string[] = [];
    const updated: string[] = [];
    for (const r of res.resources) {
      const bytes = r.resource?.value;
      if (!bytes || r.resource?.typeUrl !== res.typeUrl) {
        errors.push(`${r.name}: missing resource or wrong type ${r.resource?.typeUrl ?? "(none)"}`);
        continue;
      }
      try {
        held.set(r.name, { version: r.version, bytes, value: decode(r.name, bytes) });
        updated.push(r.name);
      } catch (err) {
        errors.push(MeshError.from(err).message);
      }
    }
    const removed = res.removedResources.filter((name) => held.delete(name));
    if (updated.length > 0 || removed.length > 0) {
      this.#persist();
      this.#emit({ typeUrl: res.typeUrl, updated, removed });
    }
    // A split response is complete at its last part, the one that carries the version.
    if (!this.#syncedTypes.has(res.typeUrl) && res.systemVersionInfo !== "") {
      this.#syncedTypes.add(res.typeUrl);
      if (this.#isSynced()) for (const w of this.#syncWaiters.splice(0)) w();
    }
    if (errors.length > 0) {
      this.#o.log.warn("rejected xDS resources (NACK); keeping the previous versions", { type: res.typeUrl, errors });
      return create(DeltaDiscoveryRequestSchema, { typeUrl: res.typeUrl, responseNonce: res.nonce, errorDetail: create(StatusSchema, { code: INVALID_ARGUMENT, message: errors.join("; ") }) });
    }
    return create(DeltaDiscoveryRequestSchema, { typeUrl: res.typeUrl, responseNonce: res.nonce });
  }

  /** Coalesce writes: a burst of responses (an initial sync) becomes one write. */
  #persist(): void {
    if (!this.#o.cacheFile || this.#persistTimer) return;
    this.#persistTimer = setTimeout(() => this.#flush(), 100);
  }

  #flush(): void {
    clearTimeout(this.#persistTimer);
    this.#persistTimer = undefined;
    if (!this.#o.cacheFile) return;
    const cache: CachedConfig = new Map();
    for (const [typeUrl, byName] of this.#state) cache.set(typeUrl, new Map([...byName].map(([n, h]) => [n, { version: h.version, bytes: h.bytes }])));
    try {
      saveConfigCache(this.#o.cacheFile, cache);
    } catch (err) {
      this.#o.log.warn("could not persist the xDS config", { file: this.#o.cacheFile, error: err });
    }
  }
}
