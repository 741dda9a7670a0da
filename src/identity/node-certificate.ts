/**
 * The node's own certificate (URI SAN `urn:mesh:node:<node>`), which a ztunnel presents to the
 * control plane's xDS port instead of its token. It is asked for with the node token and taken
 * on demand, when the xDS client (re)connects: a certificate only matters at the TLS handshake.
 * A new one is fetched once the current one is past half its lifetime, or once the node token has
 * changed: a node certificate holds only while the token it was issued against does, so after a
 * token rotation (new token file, old token revoked) the old certificate is refused and the next
 * connection must present one issued against the new token.
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
  /** The node token the signer asks with (read on every call: a changed token means a new certificate). */
  readonly token?: () => string;
}

export class NodeCertificate {
  readonly #o: NodeCertificateOptions;
  #current: { readonly cert: IssuedCertificate; readonly token: string | undefined } | undefined;
  #inFlight: Promise<{ readonly cert: IssuedCertificate; readonly token: string | undefined }> | undefined;

  constructor(options: NodeCertificateOptions) {
    this.#o = options;
  }

  get uri(): string {
    return formatNodeUri(this.#o.node);
  }

  /** A certificate in the first half of its lifetime, issued against the current token; fetched when there is none. */
  async get(): Promise<IssuedCertificate> {
    const c = this.#current;
    const now = this.#o.clock.now();
    const token = this.#o.token?.();
    if (c && c.token === token && now < (c.cert.notBefore.getTime() + c.cert.notAfter.getTime()) / 2) return c.cert;
    this.#inFlight ??= requestCertificate(this.#o.signer, this.uri, this.#o.ttlSeconds ?? 0, now)
      .then((cert) => ({ cert, token }))
      .finally(() => (this.#inFlight = undefined));
    this.#current = await this.#inFlight;
    return this.#current.cert;
  }
}
