/**
 * Tokens whose signature already verified, so a client sending the same token again costs a map
 * lookup instead of a signature check (Envoy's jwt_cache_config). An entry is good only for the
 * very key set object it verified against: a fetched JWKS is a new object, so after a refresh or
 * rotation every token is checked again. Only the signature is cached: time, issuer and audience
 * are checked on every request. Bounded: `max` entries (oldest out first) of tokens up to
 * `maxTokenBytes`, so the cache holds at most max × maxTokenBytes of token text.
 */
import type { Jwks } from "./jwks.ts";
import type { ParsedToken } from "./token.ts";

export interface VerifiedToken {
  readonly token: ParsedToken;
  readonly jwks: Jwks;
}

export class VerifiedCache {
  readonly #entries = new Map<string, VerifiedToken>();
  readonly #max: number;
  readonly #maxTokenBytes: number;

  constructor(max = 1000, maxTokenBytes = 4096) {
    this.#max = max;
    this.#maxTokenBytes = maxTokenBytes;
  }

  /** The token as parsed when it verified, and the key set object it verified against (a hit only if the caller's current set is that very object). */
  get(text: string): VerifiedToken | undefined {
    return this.#entries.get(text);
  }

  add(token: ParsedToken, jwks: Jwks): void {
    if (this.#max === 0 || token.text.length > this.#maxTokenBytes) return;
    this.#entries.delete(token.text);
    if (this.#entries.size >= this.#max) this.#entries.delete(this.#entries.keys().next().value as string);
    this.#entries.set(token.text, { token, jwks });
  }

  get size(): number {
    return this.#entries.size;
  }
}
