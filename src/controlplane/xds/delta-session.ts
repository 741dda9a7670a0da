/**
 * The delta xDS protocol for one stream, as a state machine with no I/O: requests and resource
 * updates in, responses and ACK/NACK records out. Semantics follow Envoy's incremental xDS:
 * - per type URL, a subscription is a wildcard (empty first subscribe list, or "*") or a set of names;
 * - the server tracks which version of each resource the client has (seeded from
 *   initial_resource_versions on reconnect, so nothing unchanged is sent again) and sends only
 *   what differs, plus removed_resources for what disappeared;
 * - every response has a fresh nonce; a request echoing it with error_detail is a NACK: recorded,
 *   never retried with the same versions (the next change sends again), and it never holds back
 *   other resources or other types;
 * - responses are split so that none exceeds `maxResponseBytes` (grpc clients cap at 4 MiB);
 *   only the last part of a split response carries system_version_info.
 * What a stream may make the server hold is bounded (a flood of 200k subscribed names per stream
 * grew the control plane to ~1 GB): per type, at most MAX_SUBSCRIBED_NAMES named subscriptions
 * and as many initial_resource_versions as the type has resources plus that many again, each
 * name at most MAX_NAME_CHARS long. A request past a bound ends the stream
 * (MeshError("resource_exhausted" / "invalid_argument")); the clients here subscribe by wildcard.
 */
import { MeshError } from "../../errors/mesh-error.ts";
import { KnownVersions } from "./known-versions.ts";
import type { EncodedResource, ResourceIndex } from "./resources.ts";

export interface DeltaRequest {
  readonly typeUrl: string;
  readonly subscribe: readonly string[];
  readonly unsubscribe: readonly string[];
  readonly initialVersions: Readonly<Record<string, string>>;
  readonly responseNonce: string;
  readonly errorDetail?: { readonly code: number; readonly message: string };
}

export interface DeltaResponse {
  readonly typeUrl: string;
  readonly nonce: string;
  readonly systemVersion: string;
  readonly resources: readonly EncodedResource[];
  readonly removed: readonly string[];
}

/** Names that changed or disappeared, per type URL, since some earlier build; absent types need a full diff. */
export type ResourceDelta = ReadonlyMap<string, { readonly changed: ReadonlySet<string>; readonly removed: ReadonlySet<string> }>;

export interface NackRecord {
  readonly typeUrl: string;
  readonly nonce: string;
  readonly message: string;
  readonly resources: readonly string[];
}

export interface SessionOutput {
  readonly responses: readonly DeltaResponse[];
  readonly acked?: { readonly typeUrl: string; readonly nonce: string };
  readonly nacked?: NackRecord;
}

interface TypeState {
  wildcard: boolean;
  readonly names: Set<string>;
  /** What the client has: name → version. */
  readonly known: KnownVersions;
}

/**
 * Well below grpc's 4 MiB cap: a stream's responses are written one at a time, so smaller parts
 * bound how much of an initial push each stream buffers (100 streams × 3 MB was the benchmark's
 * memory peak).
 */
export const DEFAULT_MAX_RESPONSE_BYTES = 64 * 1024;
const MAX_IN_FLIGHT = 256;
/** Named subscriptions per type on one stream. */
export const MAX_SUBSCRIBED_NAMES = 10_000;
/** Longest resource name: `<namespace>/<name>` is two DNS names (253 each) and a slash. */
export const MAX_NAME_CHARS = 512;
const EMPTY_NAMES: ReadonlySet<string> = new Set();

/**
 * Refuse a request that would make this stream hold more than its bounds, before any of it is
 * kept: `names` is what the stream has subscribed to by name for the type, `known` how many
 * resources the type has. Pure.
 */
export function checkSubscriptionBounds(req: Pick<DeltaRequest, "typeUrl" | "subscribe" | "initialVersions">, names: ReadonlySet<string>, first: boolean, known: number): void {
  const type = req.typeUrl.slice(req.typeUrl.lastIndexOf(".") + 1);
  for (const name of req.subscribe) if (name.length > MAX_NAME_CHARS) throw new MeshError("invalid_argument", `a ${type} name longer than ${MAX_NAME_CHARS} characters was subscribed`);
  if (names.size + req.subscribe.length > MAX_SUBSCRIBED_NAMES) {
    // Maybe repeats or names it has already: count the new ones, stopping at the first past the bound.
    const added = new Set<string>();
    for (const name of req.subscribe) {
      if (name === "*" || names.has(name)) continue;
      added.add(name);
      if (names.size + added.size > MAX_SUBSCRIBED_NAMES) {
        throw new MeshError("resource_exhausted", `more than ${MAX_SUBSCRIBED_NAMES} ${type} names subscribed on one stream (subscribe by wildcard)`);
      }
    }
  }
  if (!first) return;
  let initial = 0;
  for (const name in req.initialVersions) {
    if (name.length > MAX_NAME_CHARS) throw new MeshError("invalid_argument", `initial_resource_versions has a ${type} name longer than ${MAX_NAME_CHARS} characters`);
    if (++initial > known + MAX_SUBSCRIBED_NAMES) {
      throw new MeshError("resource_exhausted", `initial_resource_versions names more than ${known + MAX_SUBSCRIBED_NAMES} ${type} resources; this server has ${known}`);
    }
  }
}

export class DeltaSession {
  readonly #types = new Map<string, TypeState>();
  readonly #inFlight = new Map<string, { typeUrl: string; names: string[] }>();
  readonly #allowed: ReadonlySet<string>;
  readonly #maxBytes: number;
  #nonce = 0;

  constructor(allowedTypes: readonly string[], maxResponseBytes = DEFAULT_MAX_RESPONSE_BYTES) {
    this.#allowed = new Set(allowedTypes);
    this.#maxBytes = maxResponseBytes;
  }

  /** The types this stream has subscribed to. */
  get subscribedTypes(): string[] {
    return [...this.#types.keys()];
  }

  /** Resources the client has, per type (for the operator's view of a proxy). */
  known(typeUrl: string): ReadonlyMap<string, string> {
    return this.#types.get(typeUrl)?.known.toMap() ?? new Map();
  }

  onRequest(req: DeltaRequest, current: ResourceIndex, systemVersion: string): SessionOutput {
    if (!this.#allowed.has(req.typeUrl)) {
      return { responses: [], nacked: { typeUrl: req.typeUrl, nonce: req.responseNonce, message: `type ${req.typeUrl} is not served to this proxy`, resources: [] } };
    }
    let ackRecord: SessionOutput["acked"];
    let nackRecord: SessionOutput["nacked"];
    if (req.responseNonce !== "") {
      const sent = this.#inFlight.get(req.responseNonce);
      this.#inFlight.delete(req.responseNonce);
      if (req.errorDetail) {
        nackRecord = { typeUrl: req.typeUrl, nonce: req.responseNonce, message: req.errorDetail.message, resources: sent?.names ?? [] };
      } else {
        ackRecord = { typeUrl: req.typeUrl, nonce: req.responseNonce };
      }
    }
    let state = this.#types.get(req.typeUrl);
    const first = state === undefined;
    // Throws before anything of the request is kept: the caller ends the stream.
    checkSubscriptionBounds(req, state?.names ?? EMPTY_NAMES, first, current.get(req.typeUrl)?.size ?? 0);
    if (!state) {
      state = { wildcard: req.subscribe.length === 0, names: new Set(), known: new KnownVersions(req.initialVersions) };
      this.#types.set(req.typeUrl, state);
    }
    for (const name of req.subscribe) {
      if (name === "*") state.wildcard = true;
      else state.names.add(name);
    }
    for (const name of req.unsubscribe) {
      if (name === "*") state.wildcard = false;
      else {
        state.names.delete(name);
        if (!state.wildcard) state.known.delete(name);
      }
    }
    const changedSubscription = first || req.subscribe.length > 0 || req.unsubscribe.length > 0;
    const responses = changedSubscription ? this.#diff(req.typeUrl, state, current, systemVersion, first) : [];
    return { responses, ...(ackRecord ? { acked: ackRecord } : {}), ...(nackRecord ? { nacked: nackRecord } : {}) };
  }

  /**
   * New resources for this proxy: what changed for each subscribed type. With `delta`, only the
   * names it lists are looked at for its types (a push touches a few of 10,000 workloads).
   */
  onUpdate(current: ResourceIndex, systemVersion: string, delta?: ResourceDelta | null): DeltaResponse[] {
    const out: DeltaResponse[] = [];
    for (const [typeUrl, state] of this.#types) out.push(...this.#diff(typeUrl, state, current, systemVersion, false, delta?.get(typeUrl)));
    return out;
  }

  #diff(
    typeUrl: string,
    state: TypeState,
    current: ResourceIndex,
    systemVersion: string,
    alwaysRespond: boolean,
    only?: { readonly changed: ReadonlySet<string>; readonly removed: ReadonlySet<string> },
  ): DeltaResponse[] {
    const available = current.get(typeUrl) ?? new Map<string, EncodedResource>();
    const wanted = (name: string) => state.wildcard || state.names.has(name);
    const changed: EncodedResource[] = [];
    const removed: string[] = [];
    if (only) {
      for (const name of new Set([...only.changed, ...only.removed])) {
        const resource = available.get(name);
        if (resource && wanted(name)) {
          if (state.known.get(name) !== resource.version) changed.push(resource);
        } else if (state.known.has(name)) {
          removed.push(name);
        }
      }
    } else {
      for (const [name, resource] of available) {
        if (wanted(name) && state.known.get(name) !== resource.version) changed.push(resource);
      }
      for (const name of state.known.names()) if (!available.has(name) || !wanted(name)) removed.push(name);
    }
    if (!only && state.wildcard) state.known.rebase(available); // it now has exactly the index: share it
    else {
      for (const r of changed) state.known.set(r.name, r.version);
      for (const name of removed) state.known.delete(name);
    }
    if (changed.length === 0 && removed.length === 0 && !alwaysRespond) return [];

    const chunks: EncodedResource[][] = [[]];
    let bytes = 0;
    for (const r of changed) {
      if (bytes + r.size > this.#maxBytes && (chunks[chunks.length - 1] as EncodedResource[]).length > 0) {
        chunks.push([]);
        bytes = 0;
      }
      (chunks[chunks.length - 1] as EncodedResource[]).push(r);
      bytes += r.size;
    }
    return chunks.map((resources, i) => {
      const nonce = String(++this.#nonce);
      this.#inFlight.set(nonce, { typeUrl, names: resources.map((r) => r.name) });
      // A client that never answers must not grow this without bound.
      if (this.#inFlight.size > MAX_IN_FLIGHT) this.#inFlight.delete(this.#inFlight.keys().next().value as string);
      // Only the last part carries the version: a client knows a split response is complete when it sees one.
      const last = i === chunks.length - 1;
      return { typeUrl, nonce, systemVersion: last ? systemVersion : "", resources, removed: last ? removed : [] };
    });
  }
}
