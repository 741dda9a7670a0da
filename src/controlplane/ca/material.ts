/**
 * Loading the CA's signing material: the operator's (plug-in CA: a root or an intermediate, its
 * key, and the chain up to the root) or a root mesh generates on first start and keeps in the
 * secret store (with its rotation state, rotation.ts). Roots are ECDSA P-256, valid ten years.
 */
import { readFileSync } from "node:fs";
import { MeshError } from "../../errors/mesh-error.ts";
import { certificateToPem, parseCertificateChainPem, parseCertificatePem, summarize } from "../../identity/x509/certificate.ts";
import { importSigningKeyPem } from "../../identity/x509/keys.ts";
import { leafSignerFromPem } from "../../identity/x509/fast-ca.ts";
import { generateRoot, materialFrom, stateFromSecret, stateToSecret, type RootsState } from "./rotation.ts";
import type { CaMaterial } from "./authority.ts";
import type { SecretStore } from "./secrets.ts";

export interface PluginCaFiles {
  readonly certFile: string;
  readonly keyFile: string;
  /** Intermediates above the signing certificate, up to the root (root last); absent when the signing certificate is the root. */
  readonly chainFile?: string;
}

function readFile(path: string, what: string): string {
  try {
    return readFileSync(path, "utf8");
  } catch (err) {
    throw new MeshError("invalid_argument", `${what} ${path}: ${(err as Error).message}`);
  }
}

export async function loadPluginCa(files: PluginCaFiles): Promise<CaMaterial> {
  const certPem = readFile(files.certFile, "--ca-cert");
  const keyPem = readFile(files.keyFile, "--ca-key");
  const certificate = parseCertificatePem(certPem);
  if (!summarize(certificate).isCa) throw new MeshError("invalid_argument", `--ca-cert ${files.certFile} is not a CA certificate (basicConstraints CA:TRUE)`);
  const key = await importSigningKeyPem(keyPem);
  const above = files.chainFile ? parseCertificateChainPem(readFile(files.chainFile, "--ca-chain")) : [];
  const chain = [certificate, ...above];
  // The key must belong to the certificate: sign a probe and verify it with the certificate's key.
  const probe = new TextEncoder().encode("mesh plug-in CA key check");
  const algorithm = key.algorithm.name === "ECDSA" ? { name: "ECDSA", hash: "SHA-256" } : { name: key.algorithm.name };
  const signature = await crypto.subtle.sign(algorithm, key, probe);
  const publicKey = await certificate.getPublicKey();
  if (!(await crypto.subtle.verify(algorithm, publicKey, signature, probe))) {
    throw new MeshError("invalid_argument", `--ca-key ${files.keyFile} does not match --ca-cert ${files.certFile}`);
  }
  const root = chain[chain.length - 1] as (typeof chain)[number];
  return { signing: { certificate, key }, leafSigner: leafSignerFromPem(certPem, keyPem), chain: chain.map(certificateToPem), trustBundle: [certificateToPem(root)], generation: 1 };
}

export async function loadOrCreateRoot(secrets: SecretStore, trustDomain: string, now: Date): Promise<CaMaterial> {
  return materialFrom(await loadOrCreateRootsState(secrets, trustDomain, now));
}

export async function loadOrCreateRootsState(secrets: SecretStore, trustDomain: string, now: Date): Promise<RootsState> {
  let secret = await secrets.get("ca");
  if (!secret) {
    const root = await generateRoot(trustDomain, now);
    secret = await secrets.createOrGet("ca", stateToSecret({ signing: root, bundle: [root.certPem], generation: 1 }));
  }
  return stateFromSecret(secret);
}
