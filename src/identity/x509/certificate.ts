/**
 * Building and reading X.509 certificates with pkijs: root certificates (workload leaves are
 * signed on the CA's hot path by fast-ca.ts), and what the certificate manager needs back out of
 * a certificate (URI SANs, validity, serial).
 */
import * as asn1js from "asn1js";
import * as pkijs from "pkijs";
import { MeshError } from "../../errors/mesh-error.ts";
import { GENERAL_NAME_URI, OID } from "./oids.ts";
import { bufferOf, fromPem, fromPemAll, toPem } from "./pem.ts";

const KEY_USAGE = { digitalSignature: 0x80, keyCertSign: 0x04, cRLSign: 0x02 } as const;

function bitString(byte: number): asn1js.BitString {
  let unused = 0;
  while (unused < 7 && (byte & (1 << unused)) === 0) unused++;
  return new asn1js.BitString({ valueHex: new Uint8Array([byte]).buffer, unusedBits: unused });
}

function extension(extnID: string, critical: boolean, value: asn1js.AsnType | { toSchema(): asn1js.AsnType }): pkijs.Extension {
  const schema = "toSchema" in value ? value.toSchema() : value;
  return new pkijs.Extension({ extnID, critical, extnValue: schema.toBER(false) });
}

async function keyIdentifier(spki: pkijs.PublicKeyInfo): Promise<ArrayBuffer> {
  return crypto.subtle.digest("SHA-1", spki.subjectPublicKey.valueBlock.valueHexView as Uint8Array<ArrayBuffer>);
}

function randomSerial(): asn1js.Integer {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  bytes[0] = ((bytes[0] as number) & 0x7f) | 0x01; // positive and exactly 16 bytes
  return new asn1js.Integer({ valueHex: bytes.buffer });
}

function name(parts: ReadonlyArray<readonly [string, string]>): pkijs.RelativeDistinguishedNames {
  return new pkijs.RelativeDistinguishedNames({
    typesAndValues: parts.map(([type, value]) => new pkijs.AttributeTypeAndValue({ type, value: new asn1js.Utf8String({ value }) })),
  });
}

export interface SigningAuthority {
  readonly certificate: pkijs.Certificate;
  readonly key: CryptoKey;
}

/** A self-signed root for the trust domain, named O=<trust domain> as Istio's roots are. */
export async function createRootCertificate(keys: CryptoKeyPair, trustDomain: string, notBefore: Date, notAfter: Date): Promise<pkijs.Certificate> {
  const cert = new pkijs.Certificate();
  cert.version = 2;
  cert.serialNumber = randomSerial();
  const subject = name([[OID.organization, trustDomain]]);
  cert.issuer = subject;
  cert.subject = subject;
  cert.notBefore.value = notBefore;
  cert.notAfter.value = notAfter;
  await cert.subjectPublicKeyInfo.importKey(keys.publicKey);
  const ski = await keyIdentifier(cert.subjectPublicKeyInfo);
  cert.extensions = [
    extension(OID.basicConstraints, true, new pkijs.BasicConstraints({ cA: true })),
    extension(OID.keyUsage, true, bitString(KEY_USAGE.keyCertSign | KEY_USAGE.cRLSign | KEY_USAGE.digitalSignature)),
    extension(OID.subjectKeyIdentifier, false, new asn1js.OctetString({ valueHex: ski })),
  ];
  await cert.sign(keys.privateKey, "SHA-256");
  return cert;
}

export function certificateToPem(cert: pkijs.Certificate): string {
  return toPem("CERTIFICATE", cert.toSchema().toBER(false));
}

export function parseCertificate(der: Uint8Array): pkijs.Certificate {
  const asn1 = asn1js.fromBER(bufferOf(der));
  if (asn1.offset === -1) throw new MeshError("invalid_argument", `not a DER certificate: ${asn1.result.error}`);
  try {
    return new pkijs.Certificate({ schema: asn1.result });
  } catch (err) {
    throw new MeshError("invalid_argument", `not an X.509 certificate: ${(err as Error).message}`);
  }
}

export function parseCertificatePem(pem: string): pkijs.Certificate {
  return parseCertificate(fromPem("CERTIFICATE", pem));
}

export function parseCertificateChainPem(pem: string): pkijs.Certificate[] {
  return fromPemAll("CERTIFICATE", pem).map(parseCertificate);
}

export interface CertificateSummary {
  readonly serial: string;
  readonly notBefore: Date;
  readonly notAfter: Date;
  readonly uris: readonly string[];
  readonly isCa: boolean;
}

export function summarize(cert: pkijs.Certificate): CertificateSummary {
  const uris: string[] = [];
  let isCa = false;
  for (const ext of cert.extensions ?? []) {
    if (ext.extnID === OID.subjectAltName) {
      for (const n of (ext.parsedValue as pkijs.AltName | undefined)?.altNames ?? []) if (n.type === GENERAL_NAME_URI) uris.push(String(n.value));
    }
    if (ext.extnID === OID.basicConstraints) isCa = Boolean((ext.parsedValue as pkijs.BasicConstraints | undefined)?.cA);
  }
  return {
    serial: Buffer.from(cert.serialNumber.valueBlock.valueHexView).toString("hex"),
    notBefore: cert.notBefore.value,
    notAfter: cert.notAfter.value,
    uris,
    isCa,
  };
}
