/**
 * Certificate signing requests for workload identities. The node side creates a key pair with
 * WebCrypto (ECDSA P-256; the private key is never exported) and a CSR whose only name is the
 * identity as a URI SAN. The CA side parses a CSR from the network (a trust boundary): checks its
 * self-signature, its key type and size, and extracts the URI SANs it asks for.
 */
import * as asn1js from "asn1js";
import * as pkijs from "pkijs";
import { MeshError } from "../../errors/mesh-error.ts";
import { GENERAL_NAME_URI, OID } from "./oids.ts";
import { bufferOf, fromPem, toPem } from "./pem.ts";

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

export interface ParsedCsr {
  readonly csr: pkijs.CertificationRequest;
  readonly uris: readonly string[];
  readonly key: KeyKind;
}

function bad(why: string): MeshError {
  return new MeshError("invalid_argument", `bad CSR: ${why}`);
}

export function keyKindOf(spki: pkijs.PublicKeyInfo): KeyKind {
  const alg = spki.algorithm.algorithmId;
  if (alg === OID.ecPublicKey) {
    const params = spki.algorithm.algorithmParams as asn1js.ObjectIdentifier | undefined;
    const curve = params?.valueBlock?.toString?.();
    if (curve === OID.prime256v1) return { type: "ec", curve: "P-256" };
    if (curve === OID.secp384r1) return { type: "ec", curve: "P-384" };
    throw bad(`unsupported EC curve ${curve ?? "(none)"}`);
  }
  if (alg === OID.rsaEncryption) {
    const rsa = spki.parsedKey as pkijs.RSAPublicKey | undefined;
    if (!rsa) throw bad("unreadable RSA key");
    const modulus = new Uint8Array(rsa.modulus.valueBlock.valueHexView);
    const bits = (modulus.length - (modulus[0] === 0 ? 1 : 0)) * 8;
    return { type: "rsa", bits };
  }
  throw bad(`unsupported key algorithm ${alg}`);
}

/** Parse and verify a PEM CSR. Throws MeshError("invalid_argument") on anything malformed. */
export async function parseCsr(pem: string): Promise<ParsedCsr> {
  if (pem.length > 64 * 1024) throw bad("larger than 64 KiB");
  let der: Uint8Array;
  try {
    der = fromPem("CERTIFICATE REQUEST", pem);
  } catch {
    throw bad("no CERTIFICATE REQUEST PEM block");
  }
  let csr: pkijs.CertificationRequest;
  try {
    const asn1 = asn1js.fromBER(bufferOf(der));
    if (asn1.offset === -1) throw new Error(asn1.result.error || "not DER");
    csr = new pkijs.CertificationRequest({ schema: asn1.result });
  } catch (err) {
    throw bad(`not a PKCS#10 request (${(err as Error).message})`);
  }
  const key = keyKindOf(csr.subjectPublicKeyInfo);
  let verified = false;
  try {
    verified = await csr.verify();
  } catch (err) {
    throw bad(`signature cannot be checked (${(err as Error).message})`);
  }
  if (!verified) throw bad("signature does not match its public key");
  const uris: string[] = [];
  for (const attr of csr.attributes ?? []) {
    if (attr.type !== OID.extensionRequest) continue;
    for (const value of attr.values) {
      const exts = new pkijs.Extensions({ schema: value });
      for (const ext of exts.extensions) {
        if (ext.extnID !== OID.subjectAltName) continue;
        const names = ext.parsedValue as pkijs.AltName | undefined;
        for (const n of names?.altNames ?? []) {
          if (n.type !== GENERAL_NAME_URI) throw bad("only URI subject alternative names are allowed");
          uris.push(String(n.value));
        }
      }
    }
  }
  return { csr, uris, key };
}
