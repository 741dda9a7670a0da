/**
 * The certificate authority's signing material and the signing decision itself. The CA holds a
 * signing certificate and key (a root it generated, or the operator's root or intermediate — a
 * "plug-in CA"), the chain from it up to the root, and the trust bundle (every root in force).
 * `issue` refuses, with a coded error, anything it should not sign: a CSR that is malformed, not
 * self-signed, with a weak or unsupported key, with any name but exactly one workload SPIFFE id
 * in this trust domain, or asking for more than the maximum lifetime.
 */
import { MeshError } from "../../errors/mesh-error.ts";
import type { SigningAuthority } from "../../identity/x509/certificate.ts";
import { parseCsrFast, signLeafDer, type LeafSigner } from "../../identity/x509/fast-ca.ts";
import { toPem } from "../../identity/x509/pem.ts";
import { parseSpiffeId, type WorkloadIdentity } from "../../identity/spiffe.ts";

export interface CaSettings {
  readonly trustDomain: string;
  readonly defaultTtlMs: number;
  readonly maxTtlMs: number;
  /** Not-before is backdated this much for clocks that run behind. */
  readonly backdateMs: number;
}

export const DEFAULT_CA_SETTINGS: Omit<CaSettings, "trustDomain"> = {
  defaultTtlMs: 24 * 3600_000,
  maxTtlMs: 7 * 24 * 3600_000,
  backdateMs: 5 * 60_000,
};

export interface CaMaterial {
  readonly signing: SigningAuthority;
  /** The same certificate and key, prepared for signing leaves quickly. */
  readonly leafSigner: LeafSigner;
  /** PEMs from the signing certificate up to (and including) its root. */
  readonly chain: readonly string[];
  /** Every root in force, PEM: what proxies trust. */
  readonly trustBundle: readonly string[];
  /** Changes when the signing root changes (root rotation). */
  readonly generation: number;
}

export interface IssueRequest {
  readonly csrPem: string;
  /** 0: the default lifetime. */
  readonly ttlMs: number;
}

export interface Issued {
  readonly identity: WorkloadIdentity;
  readonly spiffeId: string;
  /** Leaf first, root last. */
  readonly chain: readonly string[];
  readonly notAfter: Date;
}

/** Check a CSR and say which identity it asks for (no signing yet: the caller authorizes it first). */
export async function inspectCsr(csrPem: string, settings: CaSettings): Promise<{ identity: WorkloadIdentity; spiffeId: string; spki: Uint8Array }> {
  const parsed = parseCsrFast(csrPem);
  if (parsed.key.type === "rsa" && parsed.key.bits < 2048) {
    throw new MeshError("invalid_argument", `bad CSR: RSA keys must be at least 2048 bits (got ${parsed.key.bits})`);
  }
  if (parsed.uris.length !== 1) throw new MeshError("invalid_argument", `bad CSR: must ask for exactly one URI SAN (got ${parsed.uris.length})`);
  const spiffeId = parsed.uris[0] as string;
  const identity = parseSpiffeId(spiffeId);
  if (identity.trustDomain !== settings.trustDomain) {
    throw new MeshError("permission_denied", `identity ${spiffeId} is not in this CA's trust domain ${settings.trustDomain}`);
  }
  return { identity, spiffeId, spki: parsed.spki };
}

export function lifetimeFor(requestedMs: number, settings: CaSettings): number {
  if (requestedMs < 0) throw new MeshError("invalid_argument", "requested lifetime is negative");
  if (requestedMs > settings.maxTtlMs) {
    throw new MeshError("invalid_argument", `requested lifetime ${Math.round(requestedMs / 1000)} s is above the maximum ${Math.round(settings.maxTtlMs / 1000)} s`);
  }
  return requestedMs === 0 ? settings.defaultTtlMs : requestedMs;
}

export async function signFor(
  material: CaMaterial,
  settings: CaSettings,
  inspected: Awaited<ReturnType<typeof inspectCsr>>,
  ttlMs: number,
  now: Date,
): Promise<Issued> {
  const lifetime = lifetimeFor(ttlMs, settings);
  const notBefore = new Date(now.getTime() - settings.backdateMs);
  let notAfter = new Date(now.getTime() + lifetime);
  // A leaf never outlives the certificate that signs it.
  const signerExpiry = material.signing.certificate.notAfter.value;
  if (notAfter > signerExpiry) notAfter = signerExpiry;
  const leaf = signLeafDer(material.leafSigner, inspected.spki, inspected.spiffeId, notBefore, notAfter);
  return { identity: inspected.identity, spiffeId: inspected.spiffeId, chain: [toPem("CERTIFICATE", leaf), ...material.chain], notAfter };
}
