/**
 * The trust bundle a proxy installs: every root must parse and be a CA certificate, or the whole
 * bundle is refused (the xDS client then NACKs it and keeps the last good one).
 */
import { MeshError } from "../errors/mesh-error.ts";
import type { TrustBundleView } from "../state/view.ts";
import { decodeTrustBundle } from "../xds/wire.ts";
import { parseCertificatePem, summarize } from "./x509/certificate.ts";

export function checkTrustBundle(bundle: TrustBundleView): TrustBundleView {
  bundle.roots.forEach((pem, i) => {
    let isCa = false;
    try {
      isCa = summarize(parseCertificatePem(pem)).isCa;
    } catch (err) {
      throw new MeshError("invalid_argument", `${bundle.trustDomain}: roots[${i}]: not a certificate: ${(err as Error).message}`);
    }
    if (!isCa) throw new MeshError("invalid_argument", `${bundle.trustDomain}: roots[${i}]: not a CA certificate`);
  });
  return bundle;
}

/** The xDS decoder proxies use for trust bundles: wire checks, then certificate checks. */
export function decodeCheckedTrustBundle(name: string, bytes: Uint8Array): TrustBundleView {
  return checkTrustBundle(decodeTrustBundle(name, bytes));
}
