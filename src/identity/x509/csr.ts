/**
 * Certificate signing requests for workload identities, node side: a key pair with WebCrypto
 * (ECDSA P-256; the private key never leaves the process) and a CSR whose only name is the
 * identity as a URI SAN. The CA reads CSRs with fast-ca.ts.
 */
import * as pkijs from "pkijs";
import { GENERAL_NAME_URI, OID } from "./oids.ts";
import { toPem } from "./pem.ts";

export const ECDSA_P256: EcKeyGenParams = { name: "ECDSA", namedCurve: "P-256" };

/**
 * A workload key pair. Extractable only so this process can hand the private key to its own TLS
 * stack as PEM; it is never written to disk or sent anywhere (the CA gets a CSR, not the key).
 */
export async function generateWorkloadKey(): Promise<CryptoKeyPair> {
  return crypto.subtle.generateKey(ECDSA_P256, true, ["sign", "verify"]) as Promise<CryptoKeyPair>;
}

export function uriSanExtension(uris: readonly string[], critical: boolean): pkijs.Extension {
  const names = new pkijs.GeneralNames({ names: uris.map((value) => new pkijs.GeneralName({ type: GENERAL_NAME_URI, value })) });
  return new pkijs.Extension({ extnID: OID.subjectAltName, critical, extnValue: names.toSchema().toBER(false) });
}

/** A PEM CSR asking for `spiffeId`, signed with the key pair's private key. */
export async function createCsr(keys: CryptoKeyPair, spiffeId: string): Promise<string> {
  const csr = new pkijs.CertificationRequest();
  csr.version = 0;
  await csr.subjectPublicKeyInfo.importKey(keys.publicKey);
  csr.attributes = [
    new pkijs.Attribute({
      type: OID.extensionRequest,
      values: [new pkijs.Extensions({ extensions: [uriSanExtension([spiffeId], true)] }).toSchema()],
    }),
  ];
  await csr.sign(keys.privateKey, "SHA-256");
  return toPem("CERTIFICATE REQUEST", csr.toSchema().toBER(false));
}

export type KeyKind = { readonly type: "ec"; readonly curve: "P-256" | "P-384" } | { readonly type: "rsa"; readonly bits: number };
