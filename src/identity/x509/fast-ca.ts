/**
 * The CA's hot path without pkijs: read a CSR (DER walk + node:crypto signature check) and sign a
 * workload leaf from a DER template (node:crypto signing). The certificates are the same as
 * certificate.ts builds (same extensions, same order); the tests check them with openssl and TLS.
 */
import { createHash, createPrivateKey, createPublicKey, randomBytes, sign, verify, type KeyObject } from "node:crypto";
import { MeshError } from "../../errors/mesh-error.ts";
import type { KeyKind } from "./csr.ts";
import { bitString, children, expectTag, explicit, octets, oid, readNode, readOid, seq, time, tlv, TRUE, unsignedInt } from "./der.ts";
import { OID } from "./oids.ts";
import { fromPem } from "./pem.ts";

const SIG_ALGS: Record<string, { hash: string; der: Uint8Array }> = {
  "ec-P-256": { hash: "sha256", der: seq(oid("1.2.840.10045.4.3.2")) },
  "ec-P-384": { hash: "sha384", der: seq(oid("1.2.840.10045.4.3.3")) },
  rsa: { hash: "sha256", der: seq(oid("1.2.840.113549.1.1.11"), Uint8Array.of(0x05, 0x00)) },
};

const CSR_SIGNATURE_HASHES: Record<string, string> = {
  "1.2.840.10045.4.3.2": "sha256",
  "1.2.840.10045.4.3.3": "sha384",
  "1.2.840.10045.4.3.4": "sha512",
  "1.2.840.113549.1.1.11": "sha256",
  "1.2.840.113549.1.1.12": "sha384",
  "1.2.840.113549.1.1.13": "sha512",
};

export interface FastCsr {
  readonly spki: Uint8Array;
  readonly uris: readonly string[];
  readonly key: KeyKind;
}

function bad(why: string): MeshError {
  return new MeshError("invalid_argument", `bad CSR: ${why}`);
}

function keyKind(spki: Uint8Array): KeyKind {
  let key: KeyObject;
  try {
    key = createPublicKey({ key: Buffer.from(spki), format: "der", type: "spki" });
  } catch (err) {
    throw bad(`unreadable public key (${(err as Error).message})`);
  }
  const d = key.asymmetricKeyDetails ?? {};
  if (key.asymmetricKeyType === "ec") {
    if (d.namedCurve === "prime256v1") return { type: "ec", curve: "P-256" };
    if (d.namedCurve === "secp384r1") return { type: "ec", curve: "P-384" };
    throw bad(`unsupported EC curve ${d.namedCurve ?? "(none)"}`);
  }
  if (key.asymmetricKeyType === "rsa") return { type: "rsa", bits: d.modulusLength ?? 0 };
  throw bad(`unsupported key algorithm ${key.asymmetricKeyType ?? "(none)"}`);
}

function sanUris(attributes: Uint8Array): string[] {
  const uris: string[] = [];
  for (const attr of children(attributes)) {
    const [type, values] = children(expectTag(attr, 0x30, "an attribute").content);
    if (!type || readOid(type) !== OID.extensionRequest) continue;
    for (const extensions of children(expectTag(values, 0x31, "attribute values").content)) {
      for (const ext of children(expectTag(extensions, 0x30, "extensions").content)) {
        const parts = children(expectTag(ext, 0x30, "an extension").content);
        if (readOid(parts[0] as Parameters<typeof readOid>[0]) !== OID.subjectAltName) continue;
        const value = expectTag(parts[parts.length - 1], 0x04, "an extension value");
        const names = expectTag(readNode(value.content).node, 0x30, "GeneralNames");
        for (const name of children(names.content)) {
          if (name.tag !== 0x86) throw bad("only URI subject alternative names are allowed");
          uris.push(new TextDecoder("utf-8", { fatal: true }).decode(name.content));
        }
      }
    }
  }
  return uris;
}

/** Parse and verify a PEM CSR. Throws MeshError("invalid_argument") on anything malformed. */
export function parseCsrFast(pem: string): FastCsr {
  if (pem.length > 64 * 1024) throw bad("larger than 64 KiB");
  let der: Uint8Array;
  try {
    der = fromPem("CERTIFICATE REQUEST", pem);
  } catch {
    throw bad("no CERTIFICATE REQUEST PEM block");
  }
  try {
    const { node: top, next } = readNode(der);
    if (next !== der.length) throw bad("trailing bytes");
    const [info, sigAlg, signature] = children(expectTag(top, 0x30, "a CertificationRequest").content);
    const infoNode = expectTag(info, 0x30, "CertificationRequestInfo");
    const [version, , spkiNode, attributes] = children(infoNode.content);
    expectTag(version, 0x02, "a version");
    const spki = expectTag(spkiNode, 0x30, "SubjectPublicKeyInfo").raw;
    const algOid = readOid(children(expectTag(sigAlg, 0x30, "a signature algorithm").content)[0] as Parameters<typeof readOid>[0]);
    const hash = CSR_SIGNATURE_HASHES[algOid];
    if (!hash) throw bad(`unsupported signature algorithm ${algOid}`);
    const sig = expectTag(signature, 0x03, "a signature");
    if (sig.content[0] !== 0) throw bad("signature has unused bits");
    const key = keyKind(spki);
    const ok = verify(hash, infoNode.raw, { key: Buffer.from(spki), format: "der", type: "spki", dsaEncoding: "der" }, sig.content.subarray(1));
    if (!ok) throw bad("signature does not match its public key");
    const uris = attributes && attributes.tag === 0xa0 ? sanUris(attributes.content) : [];
    return { spki, uris, key };
  } catch (err) {
    if (err instanceof MeshError) throw err.message.startsWith("bad CSR") ? err : bad(err.message.replace(/^bad DER: /, ""));
    throw bad((err as Error).message);
  }
}

/** A signer for leaves: the issuer's name and key id precomputed once. */
export interface LeafSigner {
  readonly issuerName: Uint8Array;
  readonly authorityKeyId: Uint8Array;
  readonly key: KeyObject;
  readonly algorithm: { hash: string; der: Uint8Array };
}

/** A leaf signer for the CA certificate and key given as PEM (the issuer name is copied byte for byte). */
export function leafSignerFromPem(certPem: string, keyPem: string): LeafSigner {
  const cert = readNode(fromPem("CERTIFICATE", certPem)).node;
  const tbs = children(expectTag(children(expectTag(cert, 0x30, "a certificate").content)[0], 0x30, "TBSCertificate").content);
  // [0] version, serial, signature algorithm, issuer, validity, subject, subjectPublicKeyInfo, ...
  const offset = tbs[0]?.tag === 0xa0 ? 1 : 0;
  const subject = expectTag(tbs[offset + 4], 0x30, "subject");
  const spki = expectTag(tbs[offset + 5], 0x30, "subjectPublicKeyInfo");
  return leafSigner(subject.raw, spki.raw, keyPem);
}

export function leafSigner(issuerName: Uint8Array, issuerSpki: Uint8Array, keyPem: string): LeafSigner {
  const key = createPrivateKey(keyPem);
  const kind = key.asymmetricKeyType === "ec" ? `ec-${key.asymmetricKeyDetails?.namedCurve === "secp384r1" ? "P-384" : "P-256"}` : key.asymmetricKeyType === "rsa" ? "rsa" : "";
  const algorithm = SIG_ALGS[kind];
  if (!algorithm) throw new MeshError("invalid_argument", `CA key type ${key.asymmetricKeyType} is not supported for signing`);
  // Key identifier: SHA-1 of the subjectPublicKey BIT STRING's bytes (RFC 5280 §4.2.1.2 method 1).
  const spkiParts = children(readNode(issuerSpki).node.content);
  const publicKeyBits = expectTag(spkiParts[1], 0x03, "subjectPublicKey").content.subarray(1);
  return { issuerName, authorityKeyId: createHash("sha1").update(publicKeyBits).digest(), key, algorithm };
}

const EXT_BASIC_CONSTRAINTS = seq(oid(OID.basicConstraints), TRUE, octets(seq()));
const EXT_KEY_USAGE = seq(oid(OID.keyUsage), TRUE, octets(Uint8Array.of(0x03, 0x02, 0x05, 0xa0)));
const EXT_EXT_KEY_USAGE = seq(oid(OID.extKeyUsage), octets(seq(oid(OID.serverAuth), oid(OID.clientAuth))));
const SAN_OID = oid(OID.subjectAltName);
const AKI_OID = oid(OID.authorityKeyIdentifier);
const VERSION_3 = explicit(0, Uint8Array.of(0x02, 0x01, 0x02));
const EMPTY_NAME = seq();
const COMMON_NAME_OID = oid(OID.commonName);

/** A subject name of one common name (UTF8String), or the empty name. */
function subjectName(commonName: string | undefined): Uint8Array {
  return commonName === undefined ? EMPTY_NAME : seq(tlv(0x31, seq(COMMON_NAME_OID, tlv(0x0c, new TextEncoder().encode(commonName)))));
}

/**
 * DER of a leaf for `spki` with `uri` as its only (critical) SAN. `commonName`, when given, is the
 * subject's one CN (a node certificate names the node token it was issued against there).
 */
export function signLeafDer(signer: LeafSigner, spki: Uint8Array, uri: string, notBefore: Date, notAfter: Date, commonName?: string): Uint8Array {
  const serial = randomBytes(16);
  serial[0] = ((serial[0] as number) & 0x7f) | 0x01;
  const san = seq(SAN_OID, TRUE, octets(seq(tlv(0x86, new TextEncoder().encode(uri)))));
  const aki = seq(AKI_OID, octets(seq(tlv(0x80, signer.authorityKeyId))));
  const tbs = seq(
    VERSION_3,
    unsignedInt(serial),
    signer.algorithm.der,
    signer.issuerName,
    seq(time(notBefore), time(notAfter)),
    subjectName(commonName),
    spki,
    explicit(3, seq(EXT_BASIC_CONSTRAINTS, EXT_KEY_USAGE, EXT_EXT_KEY_USAGE, aki, san)),
  );
  const signature = sign(signer.algorithm.hash, tbs, { key: signer.key, dsaEncoding: "der" });
  return seq(tbs, signer.algorithm.der, bitString(signature));
}
