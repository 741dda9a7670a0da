/** Private keys as PKCS#8 PEM ↔ WebCrypto keys, for CA signing keys (ECDSA P-256/P-384, RSA). */
import * as asn1js from "asn1js";
import * as pkijs from "pkijs";
import { MeshError } from "../../errors/mesh-error.ts";
import { OID } from "./oids.ts";
import { bufferOf, fromPem, toPem } from "./pem.ts";

export async function exportPrivateKeyPem(key: CryptoKey): Promise<string> {
  return toPem("PRIVATE KEY", await crypto.subtle.exportKey("pkcs8", key));
}

/** Import a PKCS#8 "PRIVATE KEY" PEM for signing, detecting its algorithm. */
export async function importSigningKeyPem(pem: string): Promise<CryptoKey> {
  let der: Uint8Array;
  try {
    der = fromPem("PRIVATE KEY", pem);
  } catch {
    throw new MeshError("invalid_argument", 'CA key must be a PKCS#8 "PRIVATE KEY" PEM (convert with: openssl pkcs8 -topk8 -nocrypt -in key.pem)');
  }
  const asn1 = asn1js.fromBER(bufferOf(der));
  if (asn1.offset === -1) throw new MeshError("invalid_argument", "CA key: not DER");
  const info = new pkijs.PrivateKeyInfo({ schema: asn1.result });
  const alg = info.privateKeyAlgorithm.algorithmId;
  let params: EcKeyImportParams | RsaHashedImportParams;
  if (alg === OID.ecPublicKey) {
    const curve = (info.privateKeyAlgorithm.algorithmParams as asn1js.ObjectIdentifier).valueBlock.toString();
    const namedCurve = curve === OID.prime256v1 ? "P-256" : curve === OID.secp384r1 ? "P-384" : null;
    if (!namedCurve) throw new MeshError("invalid_argument", `CA key: unsupported curve ${curve}`);
    params = { name: "ECDSA", namedCurve };
  } else if (alg === OID.rsaEncryption) {
    params = { name: "RSASSA-PKCS1-v1_5", hash: "SHA-256" };
  } else {
    throw new MeshError("invalid_argument", `CA key: unsupported algorithm ${alg}`);
  }
  return crypto.subtle.importKey("pkcs8", bufferOf(der), params, false, ["sign"]);
}
