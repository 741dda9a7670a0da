/**
 * Workload certificates on a node. For each identity a proxy needs, the manager generates a key
 * (WebCrypto ECDSA P-256; the key never leaves this process), asks the CA with a CSR, checks the
 * answer, and keeps it fresh:
 * - renews at `renewAt` (half) of the lifetime, with jittered exponential backoff on failure;
 * - keeps serving the previous certificate until it expires while renewal fails;
 * - refuses a returned certificate whose URI SAN is not the identity asked for, whose key is not
 *   the one it generated, or that is already expired — and retries;
 * - fetches on demand (`get`) and ahead of need (`want`), never two fetches for one identity.
 * `status()` is what the admin endpoint and `mesh ztunnel-config certificates` show.
 */
import { MeshError } from "../errors/mesh-error.ts";
import type { Logger } from "../telemetry/log.ts";
import type { CertificateSigner } from "./ca-client.ts";
import type { Clock } from "./clock.ts";
import { formatSpiffeId, type WorkloadIdentity } from "./spiffe.ts";
import { requestCertificate } from "./request-certificate.ts";

export interface WorkloadCertificate {
  readonly identity: WorkloadIdentity;
  readonly spiffeId: string;
  /** Leaf first. */
  readonly chain: readonly string[];
  readonly keyPem: string;
  readonly serial: string;
  readonly notBefore: Date;
  readonly notAfter: Date;
}

export type CertificateState = "pending" | "valid" | "renewing" | "expired";

export interface CertificateStatus {
  readonly spiffeId: string;
  readonly state: CertificateState;
  readonly serial?: string;
  readonly notBefore?: string;
  readonly notAfter?: string;
  readonly lastError?: string;
  readonly failures: number;
}

interface Entry {
  readonly identity: WorkloadIdentity;
  current?: WorkloadCertificate;
  inFlight?: Promise<WorkloadCertificate>;
  cancelTimer?: () => void;
  failures: number;
  lastError?: string;
}

export interface CertificateManagerOptions {
  readonly signer: CertificateSigner;
  readonly clock: Clock;
  readonly log: Logger;
  /** Requested lifetime (0: the CA's default). */
  readonly ttlSeconds?: number;
  /** Fraction of the lifetime after which to renew. */
  readonly renewAt?: number;
  readonly backoff?: { readonly initialMs: number; readonly maxMs: number };
  readonly random?: () => number;
}

export class CertificateManager {
  readonly #o: CertificateManagerOptions;
  readonly #entries = new Map<string, Entry>();
  readonly #listeners = new Set<(spiffeId: string) => void>();
  #closed = false;

  constructor(options: CertificateManagerOptions) {
    this.#o = options;
  }

  /** Keep a certificate for this identity from now on (fetched ahead of need). */
  want(identity: WorkloadIdentity): void {
    const entry = this.#entry(identity);
    if (!entry.current && !entry.inFlight) void this.#fetch(entry).catch(() => {});
  }

  /** Stop keeping it (its workload left the node); the certificate is forgotten. */
  drop(identity: WorkloadIdentity): void {
    const id = formatSpiffeId(identity);
    const entry = this.#entries.get(id);
    entry?.cancelTimer?.();
    this.#entries.delete(id);
  }

  /** A valid certificate for the identity, fetching it if there is none. */
  async get(identity: WorkloadIdentity): Promise<WorkloadCertificate> {
    const entry = this.#entry(identity);
    const now = this.#o.clock.now();
    if (entry.current && entry.current.notAfter.getTime() > now) return entry.current;
    return entry.inFlight ?? this.#fetch(entry);
  }

  /** The current unexpired certificate for a SPIFFE id, without fetching (TLS servers choose synchronously). */
  current(spiffeId: string): WorkloadCertificate | undefined {
    const c = this.#entries.get(spiffeId)?.current;
    return c && c.notAfter.getTime() > this.#o.clock.now() ? c : undefined;
  }

  /** Re-issue every certificate now (the CA started signing with another root); current ones keep serving meanwhile. */
  renewAll(): void {
    for (const entry of this.#entries.values()) if (!entry.inFlight) void this.#fetch(entry).catch(() => {});
  }

  /** Called with the SPIFFE id whenever a new certificate is installed (TLS contexts are rebuilt). */
  onRotate(listener: (spiffeId: string) => void): () => void {
    this.#listeners.add(listener);
    return () => void this.#listeners.delete(listener);
  }

  status(): CertificateStatus[] {
    const now = this.#o.clock.now();
    return [...this.#entries.entries()]
      .map(([spiffeId, e]) => {
        const c = e.current;
        const state: CertificateState = !c ? "pending" : c.notAfter.getTime() <= now ? "expired" : e.inFlight || e.failures > 0 ? "renewing" : "valid";
        return {
          spiffeId,
          state,
          ...(c ? { serial: c.serial, notBefore: c.notBefore.toISOString(), notAfter: c.notAfter.toISOString() } : {}),
          ...(e.lastError ? { lastError: e.lastError } : {}),
          failures: e.failures,
        };
      })
      .sort((a, b) => (a.spiffeId < b.spiffeId ? -1 : 1));
  }

  close(): void {
    this.#closed = true;
    for (const e of this.#entries.values()) e.cancelTimer?.();
    this.#entries.clear();
  }

  #entry(identity: WorkloadIdentity): Entry {
    const id = formatSpiffeId(identity);
    let entry = this.#entries.get(id);
    if (!entry) this.#entries.set(id, (entry = { identity, failures: 0 }));
    return entry;
  }

  #fetch(entry: Entry): Promise<WorkloadCertificate> {
    const attempt = this.#request(entry.identity).then(
      (cert) => {
        entry.inFlight = undefined;
        if (this.#closed || this.#entries.get(cert.spiffeId) !== entry) return cert;
        entry.current = cert;
        entry.failures = 0;
        entry.lastError = undefined;
        this.#schedule(entry, this.#renewDelay(cert));
        for (const l of this.#listeners) l(cert.spiffeId);
        return cert;
      },
      (err: unknown) => {
        entry.inFlight = undefined;
        const e = MeshError.from(err);
        entry.failures++;
        entry.lastError = e.message;
        if (!this.#closed && this.#entries.get(formatSpiffeId(entry.identity)) === entry) this.#schedule(entry, this.#backoff(entry.failures));
        this.#o.log.warn("certificate request failed; keeping the current certificate", {
          identity: formatSpiffeId(entry.identity),
          failures: entry.failures,
          error: e.message,
          ...(entry.current ? { expires: entry.current.notAfter.toISOString() } : {}),
        });
        throw e;
      },
    );
    entry.inFlight = attempt;
    return attempt;
  }

  #schedule(entry: Entry, delayMs: number): void {
    entry.cancelTimer?.();
    entry.cancelTimer = this.#o.clock.after(delayMs, () => {
      entry.cancelTimer = undefined;
      if (!entry.inFlight) void this.#fetch(entry).catch(() => {});
    });
  }

  #renewDelay(cert: WorkloadCertificate): number {
    const lifetime = cert.notAfter.getTime() - cert.notBefore.getTime();
    const renewAt = cert.notBefore.getTime() + lifetime * (this.#o.renewAt ?? 0.5);
    return Math.max(0, renewAt - this.#o.clock.now());
  }

  #backoff(failures: number): number {
    const { initialMs, maxMs } = this.#o.backoff ?? { initialMs: 1000, maxMs: 60_000 };
    const base = Math.min(maxMs, initialMs * 2 ** Math.min(failures - 1, 20));
    return base / 2 + (this.#o.random ?? Math.random)() * (base / 2);
  }

  async #request(identity: WorkloadIdentity): Promise<WorkloadCertificate> {
    const spiffeId = formatSpiffeId(identity);
    return { identity, spiffeId, ...(await requestCertificate(this.#o.signer, spiffeId, this.#o.ttlSeconds ?? 0, this.#o.clock.now())) };
  }
}
