/** The peer's SPIFFE id from a verified TLS socket: the certificate's one `URI:spiffe://…` SAN. */
import type tls from "node:tls";

export function peerSpiffeId(cert: { subjectaltname?: string } | undefined | null): string | undefined {
  const san = cert?.subjectaltname;
  if (!san) return undefined;
  let found: string | undefined;
  for (const part of san.split(",")) {
    const entry = part.trim();
    if (!entry.startsWith("URI:spiffe://")) continue;
    if (found !== undefined) return undefined; // two identities: trust neither
    found = entry.slice(4);
  }
  return found;
}

export function socketPeerSpiffeId(socket: tls.TLSSocket): string | undefined {
  return peerSpiffeId(socket.getPeerCertificate());
}
