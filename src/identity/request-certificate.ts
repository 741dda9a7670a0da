/**
 * One certificate from the CA for one URI SAN: generate a key (WebCrypto ECDSA P-256; it never
 * leaves this process), send a CSR, and refuse an answer whose one URI SAN is not the one asked
 * for, whose key is not ours, or that is already expired. Workload certificates (cert-manager)
 * and the node certificate (node-certificate) are both fetched this way.
 */
import { MeshError } from "../errors/mesh-error.ts";
import type { CertificateSigner } from "./ca-client.ts";
import { parseCertificatePem, summarize } from "./x509/certificate.ts";
import { createCsr, generateWorkloadKey } from "./x509/csr.ts";
import { exportPrivateKeyPem } from "./x509/keys.ts";

export interface IssuedCertificate {
  /** Leaf first. */
  readonly chain: readonly string[];
  readonly keyPem: string;
  readonly serial: string;
  readonly notBefore: Date;
  readonly notAfter: Date;
}

export async function requestCertificate(signer: CertificateSigner, uri: string, ttlSeconds: number, now: number): Promise<IssuedCertificate> {
  const keys = await generateWorkloadKey();
  const chain = await signer.sign(await createCsr(keys, uri), ttlSeconds);
  const leafPem = chain[0];
  if (!leafPem) throw new MeshError("internal", `the CA returned no certificate for ${uri}`);
  const leaf = parseCertificatePem(leafPem);
  const info = summarize(leaf);
  if (info.uris.length !== 1 || info.uris[0] !== uri) {
    throw new MeshError("permission_denied", `the CA returned a certificate for ${info.uris.join(", ") || "no identity"}, not ${uri}; refused`);
  }
  const ours = new Uint8Array(await crypto.subtle.exportKey("spki", keys.publicKey));
  const theirs = new Uint8Array(leaf.subjectPublicKeyInfo.toSchema().toBER(false));
  if (Buffer.compare(ours, theirs) !== 0) throw new MeshError("permission_denied", `the CA returned a certificate for another key than ours (${uri}); refused`);
  if (info.notAfter.getTime() <= now) throw new MeshError("failed_precondition", `the CA returned an expired certificate for ${uri}`);
  return { chain, keyPem: await exportPrivateKeyPem(keys.privateKey), serial: info.serial, notBefore: info.notBefore, notAfter: info.notAfter };
}
