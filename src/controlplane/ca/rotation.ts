/**
 * Root rotation with overlap, in three operator steps, so no handshake fails on the way:
 *   prepare  — a new root is generated and added to the trust bundle (proxies trust both);
 *   activate — the CA signs with the new root; the generation changes, so proxies re-issue
 *              their certificates (both roots are still trusted while they do);
 *   retire   — once every proxy holds a new certificate, the old root leaves the bundle.
 * The state lives in the "ca" secret (files in the data directory, or etcd for replicas).
 */
import { MeshError } from "../../errors/mesh-error.ts";
import { ECDSA_P256 } from "../../identity/x509/csr.ts";
import { certificateToPem, createRootCertificate, parseCertificatePem } from "../../identity/x509/certificate.ts";
import { exportPrivateKeyPem, importSigningKeyPem } from "../../identity/x509/keys.ts";
import { fromPemAll, toPem } from "../../identity/x509/pem.ts";
import { leafSignerFromPem } from "../../identity/x509/fast-ca.ts";
import type { CaMaterial } from "./authority.ts";
import type { Secret } from "./secrets.ts";

export const ROTATION_PHASES = ["prepare", "activate", "retire"] as const;
export type RotationPhase = (typeof ROTATION_PHASES)[number];

const ROOT_LIFETIME_MS = 10 * 365 * 24 * 3600_000;

interface KeyedRoot {
  readonly certPem: string;
  readonly keyPem: string;
}

export interface RootsState {
  readonly signing: KeyedRoot;
  readonly next?: KeyedRoot;
  /** PEM roots in force. */
  readonly bundle: readonly string[];
  readonly generation: number;
}

export function stateFromSecret(secret: Secret): RootsState {
  const certPem = secret["root-cert.pem"];
  const keyPem = secret["root-key.pem"];
  if (!certPem || !keyPem) throw new MeshError("failed_precondition", "stored CA secret is incomplete (needs root-cert.pem and root-key.pem)");
  const next = secret["next-root-cert.pem"] && secret["next-root-key.pem"] ? { certPem: secret["next-root-cert.pem"], keyPem: secret["next-root-key.pem"] } : undefined;
  const bundlePem = secret["trust-bundle.pem"];
  const bundle = bundlePem ? fromPemAll("CERTIFICATE", bundlePem).map((der) => toPem("CERTIFICATE", der)) : [certPem];
  return { signing: { certPem, keyPem }, ...(next ? { next } : {}), bundle, generation: Number(secret.generation ?? "1") };
}

export function stateToSecret(state: RootsState): Secret {
  return {
    "root-cert.pem": state.signing.certPem,
    "root-key.pem": state.signing.keyPem,
    ...(state.next ? { "next-root-cert.pem": state.next.certPem, "next-root-key.pem": state.next.keyPem } : {}),
    "trust-bundle.pem": state.bundle.join(""),
    generation: String(state.generation),
  };
}

export async function generateRoot(trustDomain: string, now: Date): Promise<KeyedRoot> {
  const keys = (await crypto.subtle.generateKey(ECDSA_P256, true, ["sign", "verify"])) as CryptoKeyPair;
  const cert = await createRootCertificate(keys, trustDomain, new Date(now.getTime() - 3600_000), new Date(now.getTime() + ROOT_LIFETIME_MS));
  return { certPem: certificateToPem(cert), keyPem: await exportPrivateKeyPem(keys.privateKey) };
}

export async function rotate(state: RootsState, phase: RotationPhase, trustDomain: string, now: Date): Promise<RootsState> {
  switch (phase) {
    case "prepare": {
      if (state.next) throw new MeshError("failed_precondition", "a new root is already prepared: activate it, or keep going with the current one");
      const next = await generateRoot(trustDomain, now);
      return { ...state, next, bundle: [...state.bundle, next.certPem] };
    }
    case "activate":
      if (!state.next) throw new MeshError("failed_precondition", "no prepared root to activate: run the prepare step first");
      return { signing: state.next, bundle: state.bundle, generation: state.generation + 1 };
    case "retire":
      if (state.next) throw new MeshError("failed_precondition", "a prepared root is not active yet: activate it before retiring the old one");
      if (state.bundle.length <= 1) throw new MeshError("failed_precondition", "nothing to retire: the bundle holds only the signing root");
      return { ...state, bundle: [state.signing.certPem] };
  }
}

export async function materialFrom(state: RootsState): Promise<CaMaterial> {
  return {
    signing: { certificate: parseCertificatePem(state.signing.certPem), key: await importSigningKeyPem(state.signing.keyPem) },
    leafSigner: leafSignerFromPem(state.signing.certPem, state.signing.keyPem),
    chain: [state.signing.certPem],
    trustBundle: state.bundle,
    generation: state.generation,
  };
}
