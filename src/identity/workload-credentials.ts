/**
 * The TLS material of a proxy's workloads (a ztunnel's local workloads, a waypoint's own identity): client credentials for outbound tunnels and server
 * contexts for inbound ones, both from the certificate manager's current certificates and the
 * trust bundle from xDS. Server contexts are built once per (certificate, bundle) and chosen
 * synchronously per connection; a workload without a certificate yet has no context, so its
 * inbound connections are refused rather than served with another identity.
 */
import tls from "node:tls";
import type { ClientCredentials } from "../hbone/client.ts";
import type { CertificateManager, WorkloadCertificate } from "./cert-manager.ts";
import { MeshError } from "../errors/mesh-error.ts";
import type { TrustBundleView, WorkloadView } from "../state/view.ts";
import { identityOf } from "../state/mesh-state.ts";

export class WorkloadCredentials {
  readonly #certs: CertificateManager;
  #bundle: TrustBundleView | undefined;
  /** Bumped on every bundle change: part of every context and credential version. */
  #bundleVersion = 0;
  readonly #contexts = new Map<string, { key: string; context: tls.SecureContext }>();

  constructor(certs: CertificateManager) {
    this.#certs = certs;
  }

  get bundle(): TrustBundleView | undefined {
    return this.#bundle;
  }

  /** A new trust bundle: contexts are rebuilt lazily; a new signing root means re-issuing certificates. */
  setBundle(bundle: TrustBundleView | undefined): void {
    const previous = this.#bundle;
    this.#bundle = bundle;
    this.#bundleVersion++;
    if (previous && bundle && previous.generation !== bundle.generation) this.#certs.renewAll();
  }

  /** Keep certificates for exactly these workloads. */
  keepFor(workloads: readonly WorkloadView[], previous: readonly WorkloadView[]): void {
    const wanted = new Set(workloads.map(identityOf));
    for (const w of workloads) this.#certs.want({ trustDomain: w.trustDomain, namespace: w.namespace, serviceAccount: w.serviceAccount });
    for (const w of previous) {
      const id = identityOf(w);
      if (!wanted.has(id)) {
        this.#certs.drop({ trustDomain: w.trustDomain, namespace: w.namespace, serviceAccount: w.serviceAccount });
        this.#contexts.delete(id);
      }
    }
  }

  #roots(): string[] {
    const roots = this.#bundle?.roots;
    if (!roots || roots.length === 0) throw new MeshError("unavailable", "no trust bundle received from the control plane yet");
    return [...roots];
  }

  async clientCredentials(w: WorkloadView): Promise<ClientCredentials> {
    const cert = await this.#certs.get({ trustDomain: w.trustDomain, namespace: w.namespace, serviceAccount: w.serviceAccount });
    return this.#credentials(cert);
  }

  #credentials(cert: WorkloadCertificate): ClientCredentials {
    const roots = this.#roots();
    return { spiffeId: cert.spiffeId, version: `${cert.serial}/${this.#bundleVersion}`, chain: cert.chain, keyPem: cert.keyPem, roots };
  }

  /** The server context for a workload, or undefined while it has no certificate or no bundle. */
  serverContext(w: WorkloadView): tls.SecureContext | undefined {
    const id = identityOf(w);
    const cert = this.#certs.current(id);
    if (!cert || !this.#bundle || this.#bundle.roots.length === 0) return undefined;
    const key = `${cert.serial}/${this.#bundleVersion}`;
    const hit = this.#contexts.get(id);
    if (hit && hit.key === key) return hit.context;
    const context = tls.createSecureContext({ cert: cert.chain.join("\n"), key: cert.keyPem, ca: [...this.#bundle.roots], minVersion: "TLSv1.3" });
    this.#contexts.set(id, { key, context });
    return context;
  }

  /** Ready when every given workload has a certificate. */
  readyFor(workloads: readonly WorkloadView[]): boolean {
    return workloads.every((w) => this.#certs.current(identityOf(w)) !== undefined);
  }
}
