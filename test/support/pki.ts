/**
 * A throwaway CA for tests that need real certificates without a control plane: a fresh ECDSA
 * root, and workload leaves signed by the same code the CA uses (any SPIFFE id, any validity
 * window, so tests can make expired or not-yet-valid ones).
 */
import { createRootCertificate, certificateToPem } from "../../src/identity/x509/certificate.ts";
import { leafSignerFromPem, signLeafDer } from "../../src/identity/x509/fast-ca.ts";
import { generateWorkloadKey } from "../../src/identity/x509/csr.ts";
import { exportPrivateKeyPem } from "../../src/identity/x509/keys.ts";
import { toPem } from "../../src/identity/x509/pem.ts";

export interface TestLeaf {
  readonly spiffeId: string;
  readonly chain: readonly string[];
  readonly keyPem: string;
}

export interface TestPki {
  readonly roots: readonly string[];
  issue(spiffeId: string, validity?: { notBefore?: Date; notAfter?: Date }): Promise<TestLeaf>;
}

export async function createTestPki(trustDomain = "cluster.local"): Promise<TestPki> {
  const now = Date.now();
  const rootKeys = await generateWorkloadKey();
  const root = await createRootCertificate(rootKeys, trustDomain, new Date(now - 3600_000), new Date(now + 30 * 24 * 3600_000));
  const rootPem = certificateToPem(root);
  const signer = leafSignerFromPem(rootPem, await exportPrivateKeyPem(rootKeys.privateKey));
  return {
    roots: [rootPem],
    async issue(spiffeId, validity = {}) {
      const keys = await generateWorkloadKey();
      const spki = new Uint8Array(await crypto.subtle.exportKey("spki", keys.publicKey));
      const der = signLeafDer(signer, spki, spiffeId, validity.notBefore ?? new Date(Date.now() - 60_000), validity.notAfter ?? new Date(Date.now() + 3600_000));
      return { spiffeId, chain: [toPem("CERTIFICATE", der), rootPem], keyPem: await exportPrivateKeyPem(keys.privateKey) };
    },
  };
}
