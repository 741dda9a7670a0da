/**
 * A JWKS fetched from its `jwksUri`, kept across config versions. When to fetch is decided by a
 * pure function (`decideJwks`, table-tested); `RemoteJwks` carries it out:
 *
 * - no keys yet: fetch and wait (one fetch at a time; waiters share it);
 * - keys younger than `refreshMs`: use them;
 * - older: use them and refresh in the background, until `refreshMs + staleMs` after the last
 *   good fetch — a JWKS server that stays down past that leaves no keys, and tokens get 401;
 * - a token names a `kid` the keys lack (the issuer rotated): fetch again and wait;
 * - fetch attempts are at least `minRetryMs` apart whatever asks for them (a flood of tokens with
 *   made-up kids, or a server that is down, costs one fetch per interval).
 *
 * A fetch is bounded in time (the rule's timeout) and size (`maxBytes`); a failed fetch, a non-200
 * answer or a document without usable keys keeps the previous keys.
 */
import type { PluginFetch, PluginLogger } from "../../src/plugin-api/index.ts";
import { parseJwks, type Jwks } from "./jwks.ts";

export interface JwksPolicy {
  readonly refreshMs: number;
  readonly staleMs: number;
  readonly minRetryMs: number;
  readonly maxBytes: number;
}

/** Envoy's default JWKS cache duration is 5 min; stale keys serve 10 min more; 1 fetch per 5 s at most. */
export const DEFAULT_JWKS_POLICY: JwksPolicy = { refreshMs: 5 * 60_000, staleMs: 10 * 60_000, minRetryMs: 5000, maxBytes: 256 * 1024 };

export interface JwksState {
  readonly keys: Jwks | null;
  /** When `keys` were fetched (ms); meaningless without keys. */
  readonly fetchedAt: number;
  /** When the last fetch started, -Infinity if never. */
  readonly attemptedAt: number;
}

export type JwksDecision = { readonly use: Jwks | null; readonly fetch: "none" | "background" | "wait" };

export function decideJwks(state: JwksState, now: number, policy: JwksPolicy, unknownKid = false): JwksDecision {
  const mayFetch = now - state.attemptedAt >= policy.minRetryMs;
  const age = now - state.fetchedAt;
  const keys = state.keys !== null && age < policy.refreshMs + policy.staleMs ? state.keys : null;
  if (keys === null || unknownKid) return { use: keys, fetch: mayFetch ? "wait" : "none" };
  return { use: keys, fetch: age >= policy.refreshMs && mayFetch ? "background" : "none" };
}

export class RemoteJwks {
  readonly uri: string;
  #state: JwksState = { keys: null, fetchedAt: 0, attemptedAt: -Infinity };
  #inflight: Promise<void> | null = null;

  constructor(uri: string) {
    this.uri = uri;
  }

  /** The keys to check a token with (null: none usable), fetching first when the decision says wait. */
  async keys(io: { fetch: PluginFetch; now: () => number; log: PluginLogger; timeoutMs: number; policy: JwksPolicy }, unknownKid = false): Promise<Jwks | null> {
    const decision = decideJwks(this.#state, io.now(), io.policy, unknownKid);
    // A fetch already under way may bring the keys (or the kid) this request lacks: wait for it rather than refuse.
    if (decision.fetch === "none") return this.#inflight && (decision.use === null || unknownKid) ? this.#wait(io) : decision.use;
    const fetching = this.#refresh(io);
    if (decision.fetch === "background") return decision.use;
    await fetching;
    return decideJwks(this.#state, io.now(), io.policy).use;
  }

  /** Resolves once no fetch is in flight (a background refresh has landed or failed). */
  async settled(): Promise<void> {
    await this.#inflight;
  }

  async #wait(io: { now: () => number; policy: JwksPolicy }): Promise<Jwks | null> {
    await this.#inflight;
    return decideJwks(this.#state, io.now(), io.policy).use;
  }

  #refresh(io: { fetch: PluginFetch; now: () => number; log: PluginLogger; timeoutMs: number; policy: JwksPolicy }): Promise<void> {
    if (this.#inflight) return this.#inflight;
    this.#state = { ...this.#state, attemptedAt: io.now() };
    this.#inflight = fetchJwks(this.uri, io)
      .then((keys) => {
        this.#state = { ...this.#state, keys, fetchedAt: io.now() };
        io.log.debug("jwks fetched", { uri: this.uri, keys: keys.keys.length });
      })
      .catch((err: unknown) => io.log.warn("jwks fetch failed", { uri: this.uri, error: err instanceof Error ? err.message : String(err) }))
      .finally(() => (this.#inflight = null));
    return this.#inflight;
  }
}

async function fetchJwks(uri: string, io: { fetch: PluginFetch; timeoutMs: number; policy: JwksPolicy }): Promise<Jwks> {
  const signal = AbortSignal.timeout(io.timeoutMs);
  const response = await io.fetch(new Request(uri, { headers: { accept: "application/json" }, signal }), { timeoutMs: io.timeoutMs });
  if (response.status !== 200) {
    await response.body?.cancel().catch(() => undefined);
    throw new Error(`HTTP ${response.status}`);
  }
  const text = await boundedText(response, io.policy.maxBytes, signal);
  const jwks = parseJwks(text);
  if (typeof jwks === "string") throw new Error(jwks);
  return jwks;
}

async function boundedText(response: Response, maxBytes: number, signal: AbortSignal): Promise<string> {
  if (response.body === null) return "";
  const reader = response.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  const onAbort = () => void reader.cancel(signal.reason).catch(() => undefined);
  signal.addEventListener("abort", onAbort, { once: true });
  try {
    for (;;) {
      if (signal.aborted) throw new Error("timed out reading the JWKS");
      const { done, value } = await reader.read();
      if (done) break;
      size += value.byteLength;
      if (size > maxBytes) {
        await reader.cancel("too large").catch(() => undefined);
        throw new Error(`JWKS larger than ${maxBytes} bytes`);
      }
      chunks.push(value);
    }
  } finally {
    signal.removeEventListener("abort", onAbort);
  }
  const all = new Uint8Array(size);
  let off = 0;
  for (const c of chunks) {
    all.set(c, off);
    off += c.byteLength;
  }
  return new TextDecoder().decode(all);
}
