/**
 * What one stream's proxy has of one type: name → version. After a full diff of a wildcard
 * subscription the proxy holds exactly the hub's index for that type, so the record is that index
 * itself (shared by every stream on the same build, never copied) plus a small map of later
 * differences (a version, or null for "removed"). 100 streams × 11,000 resources cost one index,
 * not 100 maps. Indexes are immutable snapshots (the hub builds new maps), so holding one is safe.
 */
import type { EncodedResource } from "./resources.ts";

/** Past this many differences the record is flattened into one plain map. */
const MAX_OVERRIDES = 4096;

export class KnownVersions {
  #base: ReadonlyMap<string, EncodedResource> | null = null;
  #overrides = new Map<string, string | null>();

  constructor(initial: Readonly<Record<string, string>> = {}) {
    for (const [name, version] of Object.entries(initial)) this.#overrides.set(name, version);
  }

  get(name: string): string | undefined {
    const o = this.#overrides.get(name);
    if (o !== undefined) return o ?? undefined;
    return this.#base?.get(name)?.version;
  }

  has(name: string): boolean {
    return this.get(name) !== undefined;
  }

  set(name: string, version: string): void {
    if (this.#base?.get(name)?.version === version) this.#overrides.delete(name);
    else this.#overrides.set(name, version);
    this.#compact();
  }

  delete(name: string): void {
    if (this.#base?.has(name)) this.#overrides.set(name, null);
    else this.#overrides.delete(name);
    this.#compact();
  }

  /** The proxy now holds exactly `index`. */
  rebase(index: ReadonlyMap<string, EncodedResource>): void {
    this.#base = index;
    this.#overrides = new Map();
  }

  *names(): IterableIterator<string> {
    for (const [name, v] of this.#overrides) if (v !== null) yield name;
    if (this.#base) for (const name of this.#base.keys()) if (!this.#overrides.has(name)) yield name;
  }

  toMap(): Map<string, string> {
    const out = new Map<string, string>();
    for (const name of this.names()) out.set(name, this.get(name) as string);
    return out;
  }

  #compact(): void {
    if (this.#overrides.size <= MAX_OVERRIDES || this.#base === null) return;
    const flat = this.toMap();
    this.#base = null;
    this.#overrides = flat;
  }
}
