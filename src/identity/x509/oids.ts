/** Object identifiers used by mesh's certificates and CSRs. */
export const OID = {
  extensionRequest: "1.2.840.113549.1.9.14",
  subjectAltName: "2.5.29.17",
  keyUsage: "2.5.29.15",
  extKeyUsage: "2.5.29.37",
  basicConstraints: "2.5.29.19",
  subjectKeyIdentifier: "2.5.29.14",
  authorityKeyIdentifier: "2.5.29.35",
  serverAuth: "1.3.6.1.5.5.7.3.1",
  clientAuth: "1.3.6.1.5.5.7.3.2",
  ecPublicKey: "1.2.840.10045.2.1",
  prime256v1: "1.2.840.10045.3.1.7",
  secp384r1: "1.3.132.0.34",
  rsaEncryption: "1.2.840.113549.1.1.1",
  commonName: "2.5.4.3",
  organization: "2.5.4.10",
} as const;

/** GeneralName tag for a URI (uniformResourceIdentifier). */
export const GENERAL_NAME_URI = 6;
