/**
 * xDS resources as the server holds them: encoded once per content, versioned by a hash of
 * their bytes, and shared by every stream that sends them (the same bytes go to every ztunnel).
 * An encoder cache keeps the previous push's objects, so a resource whose content did not change
 * keeps its identity and version and is never sent again.
 */
import { createHash } from "node:crypto";
import { create } from "@bufbuild/protobuf";
import { AnySchema, type Any } from "@bufbuild/protobuf/wkt";
import { ResourceSchema, type Resource } from "../../gen/envoy/service/discovery/v3/discovery_pb.ts";
import { AUTHORIZATION_TYPE, SERVICE_TYPE, WORKLOAD_TYPE } from "../../xds/type-urls.ts";
import { resourceName, type ZtunnelView } from "../../state/view.ts";
import { encodeAuthorization, encodeService, encodeWorkload } from "../../xds/wire.ts";

export interface EncodedResource {
  readonly name: string;
  readonly version: string;
  readonly any: Any;
  /** The discovery Resource wrapper, built once and shared by every stream's responses. */
  readonly message: Resource;
  /** Encoded size, for splitting responses. */
  readonly size: number;
}

/** type URL → name → resource. */
export type ResourceIndex = ReadonlyMap<string, ReadonlyMap<string, EncodedResource>>;

export class ResourceEncoder {
  #cache = new Map<string, EncodedResource>();
  /** The JSON of the domain value each cached resource was encoded from. */
  #sources = new Map<string, string>();

  encode(typeUrl: string, name: string, bytes: Uint8Array): EncodedResource {
    const version = createHash("sha256").update(bytes).digest("base64url").slice(0, 16);
    const key = `${typeUrl}\u0000${name}`;
    const cached = this.#cache.get(key);
    if (cached && cached.version === version) return cached;
    const any = create(AnySchema, { typeUrl, value: bytes });
    const resource = { name, version, any, message: create(ResourceSchema, { name, version, resource: any }), size: bytes.length + name.length + typeUrl.length + 32 };
    this.#cache.set(key, resource);
    return resource;
  }

  /**
   * Encode `value` unless it is the same (as JSON) as last time, in which case the cached
   * resource comes back untouched: JSON.stringify is native and far cheaper than protobuf
   * encoding plus hashing, and most of a push's 10,000 workloads did not change.
   */
  encodeValue<V>(typeUrl: string, name: string, value: V, toBytes: (v: V) => Uint8Array): EncodedResource {
    const key = `${typeUrl}\u0000${name}`;
    const source = JSON.stringify(value);
    const cached = this.#cache.get(key);
    if (cached && this.#sources.get(key) === source) return cached;
    const resource = this.encode(typeUrl, name, toBytes(value));
    this.#sources.set(key, source);
    return resource;
  }

  /** Forget one resource that no longer exists. */
  forget(typeUrl: string, name: string): void {
    const key = `${typeUrl}\u0000${name}`;
    this.#cache.delete(key);
    this.#sources.delete(key);
  }

  /** Forget resources that no longer exist (call after each full build). */
  retain(index: ResourceIndex): void {
    const keep = new Set<string>();
    for (const [typeUrl, byName] of index) for (const name of byName.keys()) keep.add(`${typeUrl}\u0000${name}`);
    for (const key of this.#cache.keys()) {
      if (keep.has(key)) continue;
      this.#cache.delete(key);
      this.#sources.delete(key);
    }
  }
}

export function encodeZtunnelView(view: ZtunnelView, encoder: ResourceEncoder): ResourceIndex {
  const workloads = new Map<string, EncodedResource>();
  for (const w of view.workloads) {
    const name = resourceName(w.namespace, w.name);
    workloads.set(name, encoder.encodeValue(WORKLOAD_TYPE, name, w, encodeWorkload));
  }
  const services = new Map<string, EncodedResource>();
  for (const s of view.services) {
    const name = resourceName(s.namespace, s.hostname);
    services.set(name, encoder.encodeValue(SERVICE_TYPE, name, s, encodeService));
  }
  const authorizations = new Map<string, EncodedResource>();
  for (const a of view.authorizations) {
    const name = resourceName(a.namespace, a.name);
    authorizations.set(name, encoder.encodeValue(AUTHORIZATION_TYPE, name, a, encodeAuthorization));
  }
  return new Map([
    [WORKLOAD_TYPE, workloads],
    [SERVICE_TYPE, services],
    [AUTHORIZATION_TYPE, authorizations],
  ]);
}
