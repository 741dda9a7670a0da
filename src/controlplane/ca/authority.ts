/**
 * The certificate authority's signing material and the signing decision itself. The CA holds a
 * signing certificate and key (a root it generated, or the operator's root or intermediate — a
 * "plug-in CA"), the chain from it up to the root, and the trust bundle (every root in force).
 * `issue` refuses, with a coded error, anything it should not sign: a CSR that is malformed, not
 * self-signed, with a weak or unsupported key, with any name but exactly one URI SAN — a workload
 * SPIFFE id in this trust domain or a node URI (`urn:mesh:node:<node>`) — or asking for more than
 * the maximum lifetime. Which subject the caller may have is the caller's decision (ca-service).
 */
import { MeshError } from "../../errors/mesh-error.ts";
import type { SigningAuthority } from "../../identity/x509/certificate.ts";
import { parseCsrFast, signLeafDer, type LeafSigner } from "../../identity/x509/fast-ca.ts";
import { toPem } from "../../identity/x509/pem.ts";
import { formatNodeTokenCommonName, NODE_URI_PREFIX, parseNodeUri } from "../../identity/node-identity.ts";
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

/** Who a CSR asks to be: a workload, or a node (for the control plane's xDS port). */
export type CsrSubject = { readonly kind: "workload"; readonly identity: WorkloadIdentity } | { readonly kind: "node"; readonly node: string };

export interface InspectedCsr {
  readonly subject: CsrSubject;
  /** The one URI SAN the certificate will carry. */
  readonly uri: string;
  readonly spki: Uint8Array;
}

export interface Issued {
  readonly uri: string;
  /** Leaf first, root last. */
  readonly chain: readonly string[];
  readonly notAfter: Date;
}

/** Check a CSR and say which identity it asks for (no signing yet: the caller authorizes it first). */
export async function inspectCsr(csrPem: string, settings: CaSettings): Promise<InspectedCsr> {
  const parsed = parseCsrFast(csrPem);
  if (parsed.key.type === "rsa" && parsed.key.bits < 2048) {
    throw new MeshError("invalid_argument", `bad CSR: RSA keys must be at least 2048 bits (got ${parsed.key.bits})`);
  }
  if (parsed.uris.length !== 1) throw new MeshError("invalid_argument", `bad CSR: must ask for exactly one URI SAN (got ${parsed.uris.length})`);
  const uri = parsed.uris[0] as string;
  if (uri.startsWith(NODE_URI_PREFIX)) {
    const node = parseNodeUri(uri);
    if (node === undefined) throw new MeshError("invalid_argument", `bad CSR: ${JSON.stringify(uri.slice(0, 300))} is not a node URI (urn:mesh:node:<node name>)`);
    return { subject: { kind: "node", node }, uri, spki: parsed.spki };
  }
  const identity = parseSpiffeId(uri);
  if (identity.trustDomain !== settings.trustDomain) {
    throw new MeshError("permission_denied", `identity ${uri} is not in this CA's trust domain ${settings.trustDomain}`);
  }
  return { subject: { kind: "workload", identity }, uri, spki: parsed.spki };
}

export function lifetimeFor(requestedMs: number, settings: CaSettings): number {
  if (requestedMs < 0) throw new MeshError("invalid_argument", "requested lifetime is negative");
  if (requestedMs > settings.maxTtlMs) {
    throw new MeshError("invalid_argument", `requested lifetime ${Math.round(requestedMs / 1000)} s is above the maximum ${Math.round(settings.maxTtlMs / 1000)} s`);
  }
  return requestedMs === 0 ? settings.defaultTtlMs : requestedMs;
}

/**
 * Sign what `inspected` asks for. A node certificate names the node token it is issued against
 * (`tokenId`, required for one) in its subject: the control plane accepts it only while that
 * token holds.
 */
export async function signFor(
  material: CaMaterial,
  settings: CaSettings,
  inspected: InspectedCsr,
  ttlMs: number,
  now: Date,
  tokenId?: string,
): Promise<Issued> {
  if (inspected.subject.kind === "node" && tokenId === undefined) throw new MeshError("internal", "a node certificate is signed only against a node token");
  const lifetime = lifetimeFor(ttlMs, settings);
  const notBefore = new Date(now.getTime() - settings.backdateMs);
  let notAfter = new Date(now.getTime() + lifetime);
  // A leaf never outlives the certificate that signs it.
  const signerExpiry = material.signing.certificate.notAfter.value;
  if (notAfter > signerExpiry) notAfter = signerExpiry;
  const commonName = inspected.subject.kind === "node" ? formatNodeTokenCommonName(tokenId as string) : undefined;
  const leaf = signLeafDer(material.leafSigner, inspected.spki, inspected.uri, notBefore, notAfter, commonName);
  return { uri: inspected.uri, chain: [toPem("CERTIFICATE", leaf), ...material.chain], notAfter };
}
