/**
 * The push pipeline: follow the store, translate, encode, notify streams. One translation per
 * config change for the whole mesh, debounced (a burst of writes becomes one push: wait for
 * `debounceMs` of quiet, but never longer than `maxDelayMs` after the first change). Workloads
 * and services are encoded once and shared by every ztunnel's index; only authorizations differ
 * per node. Also the operator's record of connected proxies, what they ACKed and what they NACKed.
 */
import { MeshError } from "../../errors/mesh-error.ts";
import type { Logger } from "../../telemetry/log.ts";
import type { MetricsRegistry } from "../../telemetry/metrics.ts";
import { AUTHORIZATION_TYPE, SERVICE_TYPE, TRUST_BUNDLE_TYPE, WORKLOAD_TYPE } from "../../xds/type-urls.ts";
import { resourceName, type TrustBundleView } from "../../xds/view.ts";
import { encodeAuthorization, encodeTrustBundle } from "../../xds/wire.ts";
import type { ConfigStore, Watch } from "../store/store.ts";
import { snapshotOf, type TranslateOptions, type TranslationWarning } from "../translate/snapshot.ts";
import { translateMesh, viewForNode, type MeshTranslation } from "../translate/ztunnel-view.ts";
import type { NackRecord } from "./delta-session.ts";
import { encodeZtunnelView, ResourceEncoder, type EncodedResource, type ResourceIndex } from "./resources.ts";

export interface ProxyRecord {
  readonly id: number;
  readonly node: string;
  readonly role: string;
  readonly connectedAt: string;
  lastAck?: { typeUrl: string; nonce: string; at: string };
  readonly nacks: Array<NackRecord & { at: string }>;
}

export interface PushHubOptions {
  readonly store: ConfigStore;
  readonly translate: TranslateOptions;
  readonly log: Logger;
  readonly metrics: MetricsRegistry;
  readonly debounceMs?: number;
  readonly maxDelayMs?: number;
}

export class PushHub {
  readonly #o: PushHubOptions;
  readonly #encoder = new ResourceEncoder();
  readonly #listeners = new Set<() => void>();
  readonly #proxies = new Map<number, ProxyRecord>();
  readonly #perNode = new Map<string, ResourceIndex>();
  readonly #m;
  #mesh: MeshTranslation = { workloads: [], services: [], authorizations: [], warnings: [] };
  #shared: ResourceIndex = new Map();
  #trustBundle = new Map<string, EncodedResource>();
  /** "<node>\0<namespace>\0<service account>" of every workload: what the CA may sign for a node. */
  #bindings = new Set<string>();
  #version = "0";
  #changedAt: number | undefined;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #firstPendingAt: number | undefined;
  #watch: Watch | undefined;
  #closed = false;
  #nextProxyId = 1;

  constructor(options: PushHubOptions) {
    this.#o = options;
    const m = options.metrics;
    this.#m = {
      pushes: m.counter("pilot_xds_pushes", "xDS responses sent, by type.", ["type"]),
      rejects: m.counter("pilot_total_xds_rejects", "xDS responses proxies rejected (NACK), by type.", ["type"]),
      connected: m.gauge("pilot_xds", "Connected xDS streams, by role.", ["role"]),
      convergence: m.histogram("pilot_proxy_convergence_time", "Seconds from a config change to its push being built.", [], [0.01, 0.05, 0.1, 0.5, 1, 5, 10]),
      configSize: m.gauge("pilot_xds_config_size_bytes", "Encoded size of the mesh config, by type.", ["type"]),
      resources: m.gauge("mesh_xds_resources", "Resources in the current push, by type.", ["type"]),
    };
  }

  get version(): string {
    return this.#version;
  }

  get warnings(): readonly TranslationWarning[] {
    return this.#mesh.warnings;
  }

  async start(): Promise<void> {
    const revision = await this.#rebuild();
    this.#follow(revision);
  }

  #follow(revision: string): void {
    this.#watch = this.#o.store.watch(
      revision,
      () => this.#schedule(),
      (err) => {
        // History was compacted under us: rebuild from a fresh list and follow from there.
        this.#o.log.warn("config watch ended; relisting", { error: err });
        if (!this.#closed) void this.#rebuild().then((r) => this.#follow(r));
      },
    );
  }

  #schedule(): void {
    const now = Date.now();
    this.#changedAt ??= now;
    this.#firstPendingAt ??= now;
    clearTimeout(this.#timer);
    const wait = Math.min(this.#o.debounceMs ?? 100, Math.max(0, this.#firstPendingAt + (this.#o.maxDelayMs ?? 1000) - now));
    this.#timer = setTimeout(() => {
      this.#firstPendingAt = undefined;
      void this.#rebuild().catch((err) => this.#o.log.error("building the push failed; keeping the last one", { error: MeshError.from(err) }));
    }, wait);
  }

  /** Translate the whole store; returns the store revision it was built from. */
  async #rebuild(): Promise<string> {
    const { items, revision } = await this.#o.store.list();
    const mesh = translateMesh(snapshotOf(items), this.#o.translate);
    const full = encodeZtunnelView({ workloads: mesh.workloads, services: mesh.services, authorizations: mesh.authorizations }, this.#encoder);
    this.#encoder.retain(new Map([...full, [TRUST_BUNDLE_TYPE, this.#trustBundle]]));
    const previous = new Set(this.#mesh.warnings.map((w) => `${w.resource}: ${w.message}`));
    for (const w of mesh.warnings) if (!previous.has(`${w.resource}: ${w.message}`)) this.#o.log.warn("translation", { resource: w.resource, warning: w.message });
    this.#mesh = mesh;
    this.#shared = full;
    this.#bindings = new Set(mesh.workloads.map((w) => bindingKey(w.node, w.namespace, w.serviceAccount)));
    this.#perNode.clear();
    this.#version = revision;
    for (const [typeUrl, byName] of full) {
      let size = 0;
      for (const r of byName.values()) size += r.size;
      this.#m.configSize.labels({ type: shortType(typeUrl) }).set(size);
      this.#m.resources.labels({ type: shortType(typeUrl) }).set(byName.size);
    }
    if (this.#changedAt !== undefined) {
      this.#m.convergence.labels().observe((Date.now() - this.#changedAt) / 1000);
      this.#changedAt = undefined;
    }
    for (const l of this.#listeners) l();
    return revision;
  }

  /** Publish the roots proxies trust (and the signing generation); pushed to every proxy. */
  setTrustBundle(bundle: TrustBundleView): void {
    const encoded = this.#encoder.encode(TRUST_BUNDLE_TYPE, bundle.trustDomain, encodeTrustBundle(bundle));
    if (this.#trustBundle.get(bundle.trustDomain) === encoded) return;
    this.#trustBundle = new Map([[bundle.trustDomain, encoded]]);
    this.#perNode.clear();
    for (const l of this.#listeners) l();
  }

  /** The resources one ztunnel receives. */
  ztunnelResources(node: string): ResourceIndex {
    let index = this.#perNode.get(node);
    if (!index) {
      const all = this.#shared.get(AUTHORIZATION_TYPE) ?? new Map<string, EncodedResource>();
      const mine = new Map<string, EncodedResource>();
      for (const a of viewForNode(this.#mesh, node).authorizations) {
        const name = resourceName(a.namespace, a.name);
        mine.set(name, all.get(name) ?? this.#encoder.encode(AUTHORIZATION_TYPE, name, encodeAuthorization(a)));
      }
      index = new Map([
        [WORKLOAD_TYPE, this.#shared.get(WORKLOAD_TYPE) ?? new Map()],
        [SERVICE_TYPE, this.#shared.get(SERVICE_TYPE) ?? new Map()],
        [AUTHORIZATION_TYPE, mine],
        [TRUST_BUNDLE_TYPE, this.#trustBundle],
      ]);
      this.#perNode.set(node, index);
    }
    return index;
  }

  /** Whether a workload with this namespace and service account is bound to this node. */
  isBound(node: string, identity: { namespace: string; serviceAccount: string }): boolean {
    return this.#bindings.has(bindingKey(node, identity.namespace, identity.serviceAccount));
  }

  onChange(listener: () => void): () => void {
    this.#listeners.add(listener);
    return () => void this.#listeners.delete(listener);
  }

  connect(node: string, role: string): ProxyRecord {
    const record: ProxyRecord = { id: this.#nextProxyId++, node, role, connectedAt: new Date().toISOString(), nacks: [] };
    this.#proxies.set(record.id, record);
    this.#m.connected.labels({ role }).inc();
    return record;
  }

  disconnect(record: ProxyRecord): void {
    if (this.#proxies.delete(record.id)) this.#m.connected.labels({ role: record.role }).dec();
  }

  countPush(typeUrl: string): void {
    this.#m.pushes.labels({ type: shortType(typeUrl) }).inc();
  }

  recordNack(record: ProxyRecord, nack: NackRecord): void {
    this.#m.rejects.labels({ type: shortType(nack.typeUrl) }).inc();
    record.nacks.push({ ...nack, at: new Date().toISOString() });
    if (record.nacks.length > 20) record.nacks.shift();
    this.#o.log.warn("proxy rejected config (NACK)", { node: record.node, type: shortType(nack.typeUrl), error: nack.message });
  }

  proxies(): ProxyRecord[] {
    return [...this.#proxies.values()];
  }

  close(): void {
    this.#closed = true;
    clearTimeout(this.#timer);
    this.#watch?.close();
    this.#listeners.clear();
  }
}

function bindingKey(node: string, namespace: string, serviceAccount: string): string {
  return `${node}\u0000${namespace}\u0000${serviceAccount}`;
}

function shortType(typeUrl: string): string {
  return typeUrl.slice(typeUrl.lastIndexOf(".") + 1);
}
