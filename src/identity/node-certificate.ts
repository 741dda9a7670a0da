/**
 * The node's own certificate (URI SAN `urn:mesh:node:<node>`), which a ztunnel presents to the
 * control plane's xDS port instead of its token. It is asked for with the node token and taken
 * on demand, when the xDS client (re)connects: a certificate only matters at the TLS handshake.
 * A new one is fetched once the current one is past half its lifetime.
 */
import type { CertificateSigner } from "./ca-client.ts";
import type { Clock } from "./clock.ts";
import { formatNodeUri } from "./node-identity.ts";
import { requestCertificate, type IssuedCertificate } from "./request-certificate.ts";

export interface NodeCertificateOptions {
  readonly node: string;
  readonly signer: CertificateSigner;
  readonly clock: Clock;
  /** Requested lifetime (0: the CA's default). */
  readonly ttlSeconds?: number;
}

export class NodeCertificate {
  readonly #o: NodeCertificateOptions;
  #current: IssuedCertificate | undefined;
  #inFlight: Promise<IssuedCertificate> | undefined;

  constructor(options: NodeCertificateOptions) {
    this.#o = options;
  }

  get uri(): string {
    return formatNodeUri(this.#o.node);
  }

  /** A certificate in the first half of its lifetime, fetched when there is none. */
  async get(): Promise<IssuedCertificate> {
    const c = this.#current;
    const now = this.#o.clock.now();
    if (c && now < (c.notBefore.getTime() + c.notAfter.getTime()) / 2) return c;
    this.#inFlight ??= requestCertificate(this.#o.signer, this.uri, this.#o.ttlSeconds ?? 0, now).finally(() => (this.#inFlight = undefined));
    this.#current = await this.#inFlight;
    return this.#current;
  }
}
