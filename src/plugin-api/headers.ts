/**
 * Header maps. Filters see request and response headers as a `HeaderMap`: the subset of the web
 * `Headers` class a proxy needs (case-insensitive get/set/append/delete, iteration in lower case).
 * The web class itself satisfies it and refuses values with CR, LF or NUL, so a filter cannot
 * inject a header line; `createHeaders` is the one constructor filters and tests use.
 */

export interface HeaderMap {
  /** All values of `name` joined with ", ", or null. */
  get(name: string): string | null;
  has(name: string): boolean;
  set(name: string, value: string): void;
  append(name: string, value: string): void;
  delete(name: string): void;
  /** Every header, names in lower case, in sorted order (the web Headers order). */
  entries(): IterableIterator<[string, string]>;
}

export type HeaderInit = HeaderMap | Iterable<readonly [string, string]> | Readonly<Record<string, string>>;

export function createHeaders(init?: HeaderInit): HeaderMap {
  const h = new Headers();
  if (init === undefined) return h;
  const pairs: Iterable<readonly [string, string]> = isHeaderMap(init) ? init.entries() : Symbol.iterator in init ? (init as Iterable<readonly [string, string]>) : Object.entries(init);
  for (const [k, v] of pairs) h.append(k, v);
  return h;
}

function isHeaderMap(v: HeaderInit): v is HeaderMap {
  return typeof (v as HeaderMap).get === "function" && typeof (v as HeaderMap).entries === "function";
}
