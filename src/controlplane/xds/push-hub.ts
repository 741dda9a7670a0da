/**
 * The push pipeline: follow the store, translate, encode, notify streams. The hub keeps its own
 * copy of the config, kept current from the store's watch (no re-listing per change). One
 * translation per config change for the whole mesh: a change after a quiet spell builds at once,
 * a burst is coalesced (builds at least `debounceMs` — 20 ms by default — apart, and never later
 * than `maxDelayMs` after the first change). Workloads and services are encoded once and shared by every ztunnel's
 * index; only authorizations differ per node. Each build records which names changed, so a stream
 * diffs only those (`deltaSince`). The connected proxies are kept apart, in `proxies`
 * (proxy-registry.ts).
 */
import { MeshError } from "../../errors/mesh-error.ts";
import type { GatewayRef } from "../../identity/gateway-ref.ts";
import type { Logger } from "../../telemetry/log.ts";
import type { MetricsRegistry } from "../../telemetry/metrics.ts";
import { AUTHORIZATION_TYPE, SERVICE_TYPE, TRUST_BUNDLE_TYPE, WAYPOINT_CONFIG_TYPE, WORKLOAD_TYPE } from "../../xds/type-urls.ts";
import { resourceName, type TrustBundleView } from "../../state/view.ts";
import { encodeTrustBundle, encodeWorkload } from "../../xds/wire.ts";
import { encodeWaypointConfig } from "../../xds/waypoint-wire.ts";
import { waypointsOf } from "../translate/waypoint-view.ts";
import { GATEWAY_NAME_LABEL } from "../translate/waypoints.ts";
import type { ConfigStore, Watch } from "../store/store.ts";
import { SNAPSHOT_KINDS, snapshotOf, type TranslateOptions, type TranslationWarning } from "../translate/snapshot.ts";
import { prepareMeshTranslation, type MeshContext } from "../translate/ztunnel-view.ts";
import { keyOf, keyString, type Resource, type StoredResource } from "../resources/resource.ts";
import type { WorkloadEntrySpec } from "../resources/kinds/workload-entry.ts";
import type { WorkloadView } from "../../state/view.ts";
import type { ResourceDelta } from "./delta-session.ts";
import { ProxyRegistry, shortType } from "./proxy-registry.ts";
import { encodeZtunnelView, ResourceEncoder, type EncodedResource, type ResourceIndex } from "./resources.ts";

/** How many builds of change history streams can catch up from before they fall back to a full diff. */
const HISTORY_BUILDS = 64;
const EMPTY_CHANGE = { changed: new Set<string>(), removed: new Set<string>() };
const WORKLOAD_ENTRY = "WorkloadEntry";
/**
 * Builds are at least this far apart: a burst of writes becomes one build, and a lone change after
 * a quiet spell builds at once. Incremental builds cost a few ms at 10,000 workloads, so this is
 * kept short (at 100 ms it was most of a change's latency in the scale benchmark).
 */
const DEFAULT_MIN_BUILD_INTERVAL_MS = 20;
/** Kinds the translations read besides WorkloadEntry: a change to one means a full build. */
const TRANSLATED_KINDS = new Set(SNAPSHOT_KINDS.filter((k) => k !== WORKLOAD_ENTRY));

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
  /** The connected proxies: the operator's view, and the streams to end when credentials stop holding. */
  readonly proxies: ProxyRegistry;
  readonly #perNode = new Map<string, ResourceIndex>();
  readonly #perWaypointNode = new Map<string, ResourceIndex>();
  /** Per node, the waypoints ("<ns>/<gateway>") with a replica there; derived once per build, on first use. */
  #replicasByNode: Map<string, Set<string>> | undefined;
  /** The last full build's snapshot: waypoint configs are re-derived from it when workloads change. */
  #snapshot: ReturnType<typeof snapshotOf> | undefined;
  #waypointWarnings: readonly TranslationWarning[] = [];
  readonly #m;
  /** Workload bindings (node, namespace, service account) with how many workloads hold each. */
  #bindings = new Map<string, number>();
  /** Per node: the authorization names its workloads use, with how many workloads use each. */
  #nodePolicies = new Map<string, Map<string, number>>();
  /** Per node: its authorization resources, kept until its policy set or the policies change. */
  #nodeAuthz = new Map<string, Map<string, EncodedResource>>();
  #loggedWarnings = new Set<string>();
  /** Services, policies and indexes of the last full translation; workloads are translated against it. */
  #ctx: MeshContext | undefined;
  /** Each WorkloadEntry's translation, by keyString. */
  #workloadViews = new Map<string, { view: WorkloadView; warnings: readonly TranslationWarning[] }>();
  /** WorkloadEntries changed since the last build; any other kind changing forces a full build. */
  #dirtyWorkloads = new Set<string>();
  #fullNeeded = true;
  #shared: ResourceIndex = new Map();
  #trustBundle = new Map<string, EncodedResource>();
  #version = "0";
  /** The config as of `#mirrorRevision`, by keyString. */
  #mirror = new Map<string, StoredResource>();
  #mirrorRevision = "0";
  #build = 0;
  #history: Array<{ build: number; delta: Map<string, { changed: Set<string>; removed: Set<string> }> }> = [];
  #lastBuildAt = 0;
  #building = false;
  #changedAt: number | undefined;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #firstPendingAt: number | undefined;
  #watch: Watch | undefined;
  #closed = false;

  constructor(options: PushHubOptions) {
    this.#o = options;
    const m = options.metrics;
    this.proxies = new ProxyRegistry({ log: options.log, metrics: m });
    this.#m = {
      pushes: m.counter("pilot_xds_pushes", "xDS responses sent, by type.", ["type"]),
      convergence: m.histogram("pilot_proxy_convergence_time", "Seconds from a config change to its push being built.", [], [0.01, 0.05, 0.1, 0.5, 1, 5, 10]),
      configSize: m.gauge("pilot_xds_config_size_bytes", "Encoded size of the mesh config, by type.", ["type"]),
      resources: m.gauge("mesh_xds_resources", "Resources in the current push, by type.", ["type"]),
    };
  }

  get version(): string {
    return this.#version;
  }

  get warnings(): readonly TranslationWarning[] {
    const out = [...(this.#ctx?.warnings ?? []), ...this.#waypointWarnings];
    for (const t of this.#workloadViews.values()) for (const w of t.warnings) out.push(w);
    return out;
  }

  /** Increases with every build; streams remember the last one they diffed against. */
  get build(): number {
    return this.#build;
  }

  async start(): Promise<void> {
    await this.#relist();
    this.#rebuild();
  }

  async #relist(): Promise<void> {
    const { items, revision } = await this.#o.store.list();
    this.#mirror = new Map(items.map((r) => [keyString(keyOf(r)), r]));
    this.#mirrorRevision = revision;
    this.#fullNeeded = true;
    this.#watch?.close();
    this.#watch = this.#o.store.watch(
      revision,
      (events) => {
        for (const e of events) {
          const key = keyString(keyOf(e.resource));
          if (e.type === "put") this.#mirror.set(key, e.resource);
          else this.#mirror.delete(key);
          this.#mirrorRevision = e.revision;
          if (e.resource.kind === WORKLOAD_ENTRY) this.#dirtyWorkloads.add(key);
          else if (TRANSLATED_KINDS.has(e.resource.kind)) this.#fullNeeded = true;
        }
        this.#schedule();
      },
      (err) => {
        // History was compacted under us: list again and follow from there.
        this.#o.log.warn("config watch ended; relisting", { error: err });
        if (!this.#closed) void this.#relist().then(() => this.#schedule());
      },
    );
  }

  #schedule(): void {
    const now = Date.now();
    this.#changedAt ??= now;
    this.#firstPendingAt ??= now;
    if (this.#timer !== undefined) return; // a build is already scheduled; it will see this change
    const debounce = this.#o.debounceMs ?? DEFAULT_MIN_BUILD_INTERVAL_MS;
    const wait = Math.min(Math.max(0, this.#lastBuildAt + debounce - now), Math.max(0, this.#firstPendingAt + (this.#o.maxDelayMs ?? 1000) - now));
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      this.#firstPendingAt = undefined;
      try {
        this.#rebuild();
      } catch (err) {
        this.#o.log.error("building the push failed; keeping the last one", { error: MeshError.from(err) });
      }
    }, wait);
  }

  /** Translate the mirrored config and publish it as a new build. */
  #rebuild(): void {
    this.#lastBuildAt = Date.now();
    const revision = this.#mirrorRevision;
    if (this.#fullNeeded || !this.#ctx) this.#fullBuild();
    else this.#incrementalBuild();
    this.#perNode.clear();
    this.#perWaypointNode.clear();
    this.#replicasByNode = undefined;
    this.#version = revision;
    for (const [typeUrl, byName] of this.#shared) {
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
  }

  /** Everything translated and encoded again (any kind but WorkloadEntry changed, or the first build). */
  #fullBuild(): void {
    const snapshot = snapshotOf([...this.#mirror.values()]);
    const ctx = prepareMeshTranslation(snapshot, this.#o.translate);
    this.#ctx = ctx;
    this.#workloadViews = new Map(snapshot.workloadEntries.map((w) => [keyString(keyOf(w)), ctx.workload(w)]));
    this.#fullNeeded = false;
    this.#dirtyWorkloads.clear();
    const workloads = [...this.#workloadViews.values()].map((t) => t.view);
    this.#snapshot = snapshot;
    const full = new Map([...encodeZtunnelView({ workloads, services: ctx.services, authorizations: ctx.authorizations }, this.#encoder), [WAYPOINT_CONFIG_TYPE, this.#encodeWaypoints(workloads)]]);
    this.#encoder.retain(new Map([...full, [TRUST_BUNDLE_TYPE, this.#trustBundle]]));
    const previous = new Set(this.#loggedWarnings);
    this.#loggedWarnings = new Set();
    for (const w of this.warnings) this.#logWarning(w, previous);
    this.#bindings = new Map();
    this.#nodePolicies = new Map();
    for (const w of workloads) this.#account(w, +1);
    this.#nodeAuthz.clear();
    this.#recordDelta(this.#shared, full, null);
    this.#shared = full;
  }

  /**
   * Only WorkloadEntries changed: re-translate those against the last full context, update their
   * encoded resources and the per-node bookkeeping they touch. Gives the same result as a full
   * build (push-hub.test.ts checks it); it is what keeps a workload change cheap at 10,000 workloads.
   */
  #incrementalBuild(): void {
    const ctx = this.#ctx as MeshContext;
    const workloads = new Map(this.#shared.get(WORKLOAD_TYPE) ?? []);
    const touchedNames = new Set<string>();
    let waypointTouched = false;
    for (const key of this.#dirtyWorkloads) {
      const r = this.#mirror.get(key) as Resource<WorkloadEntrySpec> | undefined;
      const before = this.#workloadViews.get(key)?.view;
      if (before?.waypoint) waypointTouched = true;
      if (before) {
        this.#account(before, -1);
        const name = resourceName(before.namespace, before.name);
        touchedNames.add(name);
        workloads.delete(name);
      }
      if (r) {
        const t = ctx.workload(r);
        if (t.view.waypoint) waypointTouched = true;
        this.#workloadViews.set(key, t);
        this.#account(t.view, +1);
        const name = resourceName(t.view.namespace, t.view.name);
        touchedNames.add(name);
        workloads.set(name, this.#encoder.encodeValue(WORKLOAD_TYPE, name, t.view, encodeWorkload));
        for (const w of t.warnings) this.#logWarning(w, this.#loggedWarnings);
      } else {
        this.#workloadViews.delete(key);
      }
    }
    for (const name of touchedNames) if (!workloads.has(name)) this.#encoder.forget(WORKLOAD_TYPE, name);
    this.#dirtyWorkloads.clear();
    const next = new Map([...this.#shared, [WORKLOAD_TYPE, workloads]]);
    // Workloads bound to a waypoint are its listeners: re-derive the (small) waypoint configs when one moved.
    if (waypointTouched) next.set(WAYPOINT_CONFIG_TYPE, this.#encodeWaypoints([...this.#workloadViews.values()].map((t) => t.view)));
    this.#recordDelta(this.#shared, next, touchedNames);
    this.#shared = next;
  }

  /** Add (+1) or remove (-1) a workload's node binding and its node's policy references. */
  #account(w: WorkloadView, sign: 1 | -1): void {
    const key = bindingKey(w.node, w.namespace, w.serviceAccount);
    const n = (this.#bindings.get(key) ?? 0) + sign;
    if (n > 0) this.#bindings.set(key, n);
    else this.#bindings.delete(key);
    let policies = this.#nodePolicies.get(w.node);
    if (!policies) this.#nodePolicies.set(w.node, (policies = new Map()));
    let changed = false;
    for (const p of w.authorizationPolicies) {
      const c = (policies.get(p) ?? 0) + sign;
      if ((c > 0) !== policies.has(p)) changed = true;
      if (c > 0) policies.set(p, c);
      else policies.delete(p);
    }
    if (changed) this.#nodeAuthz.delete(w.node);
  }

  #logWarning(w: TranslationWarning, alreadyLogged: ReadonlySet<string>): void {
    const key = `${w.resource}: ${w.message}`;
    if (!alreadyLogged.has(key)) this.#o.log.warn("translation", { resource: w.resource, warning: w.message });
    this.#loggedWarnings.add(key);
  }

  /**
   * Which workload and service names differ between two builds (the per-node types are diffed
   * whole); `onlyWorkloads` limits the comparison to the names an incremental build touched.
   */
  #recordDelta(before: ResourceIndex, after: ResourceIndex, onlyWorkloads: ReadonlySet<string> | null): void {
    const delta = new Map<string, { changed: Set<string>; removed: Set<string> }>();
    for (const typeUrl of [WORKLOAD_TYPE, SERVICE_TYPE]) {
      const was = before.get(typeUrl) ?? new Map<string, EncodedResource>();
      const now = after.get(typeUrl) ?? new Map<string, EncodedResource>();
      const changed = new Set<string>();
      const removed = new Set<string>();
      if (onlyWorkloads) {
        if (typeUrl === WORKLOAD_TYPE) {
          for (const name of onlyWorkloads) {
            const r = now.get(name);
            if (!r) {
              if (was.has(name)) removed.add(name);
            } else if (was.get(name) !== r) changed.add(name);
          }
        }
      } else {
        for (const [name, r] of now) if (was.get(name) !== r) changed.add(name);
        for (const name of was.keys()) if (!now.has(name)) removed.add(name);
      }
      delta.set(typeUrl, { changed, removed });
    }
    this.#build++;
    this.#history.push({ build: this.#build, delta });
    if (this.#history.length > HISTORY_BUILDS) this.#history.shift();
  }

  /** Names changed since `build` (exclusive) for the delta-tracked types; null when that is too far back. */
  deltaSince(build: number): ResourceDelta | null {
    if (build === this.#build) return new Map([[WORKLOAD_TYPE, EMPTY_CHANGE], [SERVICE_TYPE, EMPTY_CHANGE]]);
    const first = this.#history[0];
    if (!first || build < first.build - 1) return null;
    const out = new Map<string, { changed: Set<string>; removed: Set<string> }>();
    for (const { build: b, delta } of this.#history) {
      if (b <= build) continue;
      for (const [typeUrl, d] of delta) {
        let acc = out.get(typeUrl);
        if (!acc) out.set(typeUrl, (acc = { changed: new Set(), removed: new Set() }));
        for (const n of d.changed) acc.changed.add(n);
        for (const n of d.removed) acc.removed.add(n);
      }
    }
    return out;
  }

  /** Publish the roots proxies trust (and the signing generation); pushed to every proxy. */
  setTrustBundle(bundle: TrustBundleView): void {
    const encoded = this.#encoder.encode(TRUST_BUNDLE_TYPE, bundle.trustDomain, encodeTrustBundle(bundle));
    if (this.#trustBundle.get(bundle.trustDomain) === encoded) return;
    this.#trustBundle = new Map([[bundle.trustDomain, encoded]]);
    this.#perNode.clear();
    this.#perWaypointNode.clear();
    for (const l of this.#listeners) l();
  }

  /** The resources one ztunnel receives. */
  ztunnelResources(node: string): ResourceIndex {
    let index = this.#perNode.get(node);
    if (!index) {
      let mine = this.#nodeAuthz.get(node);
      if (!mine) {
        const all = this.#shared.get(AUTHORIZATION_TYPE) ?? new Map<string, EncodedResource>();
        const needed = this.#nodePolicies.get(node);
        mine = new Map<string, EncodedResource>();
        for (const name of needed?.keys() ?? []) {
          const r = all.get(name);
          if (r) mine.set(name, r);
        }
        this.#nodeAuthz.set(node, mine);
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

  #encodeWaypoints(workloads: readonly WorkloadView[]): Map<string, EncodedResource> {
    const warnings: TranslationWarning[] = [];
    const configs = this.#snapshot ? waypointsOf(this.#snapshot, { services: this.#ctx?.services ?? [], workloads }, this.#o.translate, (w) => warnings.push(w)) : [];
    this.#waypointWarnings = warnings;
    return new Map(configs.map((c) => {
      const name = resourceName(c.namespace, c.name);
      return [name, this.#encoder.encodeValue(WAYPOINT_CONFIG_TYPE, name, c, encodeWaypointConfig)];
    }));
  }

  /**
   * The resources a waypoint proxy on `node` receives: the configs of the waypoints that have a
   * replica there (workloads labelled gateway.networking.k8s.io/gateway-name), and the workloads,
   * services and trust bundle it routes and verifies with.
   */
  waypointResources(node: string, only?: GatewayRef): ResourceIndex {
    const onlyName = only ? resourceName(only.namespace, only.name) : undefined;
    const cacheKey = `${node}\u0000${onlyName ?? ""}`;
    let index = this.#perWaypointNode.get(cacheKey);
    if (!index) {
      const all = this.#shared.get(WAYPOINT_CONFIG_TYPE) ?? new Map<string, EncodedResource>();
      const mine = new Map<string, EncodedResource>();
      for (const name of this.#waypointReplicas().get(node) ?? []) {
        if (onlyName !== undefined && name !== onlyName) continue;
        const r = all.get(name);
        if (r) mine.set(name, r);
      }
      index = new Map([
        [WAYPOINT_CONFIG_TYPE, mine],
        [WORKLOAD_TYPE, this.#shared.get(WORKLOAD_TYPE) ?? new Map()],
        [SERVICE_TYPE, this.#shared.get(SERVICE_TYPE) ?? new Map()],
        [TRUST_BUNDLE_TYPE, this.#trustBundle],
      ]);
      this.#perWaypointNode.set(cacheKey, index);
    }
    return index;
  }

  /** Whether this Gateway has a replica (a WorkloadEntry labelled with its name) on this node. */
  hasWaypointReplica(gateway: GatewayRef, node: string): boolean {
    return this.#waypointReplicas().get(node)?.has(resourceName(gateway.namespace, gateway.name)) ?? false;
  }

  /** The service accounts of this Gateway's replicas: the identity a waypoint token may be signed. */
  waypointServiceAccounts(gateway: GatewayRef): readonly string[] {
    const accounts = new Set<string>();
    for (const { view } of this.#workloadViews.values()) {
      if (view.namespace === gateway.namespace && view.labels[GATEWAY_NAME_LABEL] === gateway.name) accounts.add(view.serviceAccount);
    }
    return [...accounts];
  }

  #waypointReplicas(): Map<string, Set<string>> {
    if (this.#replicasByNode) return this.#replicasByNode;
    const byNode = new Map<string, Set<string>>();
    for (const { view } of this.#workloadViews.values()) {
      const gateway = view.labels[GATEWAY_NAME_LABEL];
      if (!gateway) continue;
      let set = byNode.get(view.node);
      if (!set) byNode.set(view.node, (set = new Set()));
      set.add(resourceName(view.namespace, gateway));
    }
    return (this.#replicasByNode = byNode);
  }

  /** Whether a workload with this namespace and service account is bound to this node. */
  isBound(node: string, identity: { namespace: string; serviceAccount: string }): boolean {
    return (this.#bindings.get(bindingKey(node, identity.namespace, identity.serviceAccount)) ?? 0) > 0;
  }

  onChange(listener: () => void): () => void {
    this.#listeners.add(listener);
    return () => void this.#listeners.delete(listener);
  }

  countPush(typeUrl: string): void {
    this.#m.pushes.labels({ type: shortType(typeUrl) }).inc();
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
