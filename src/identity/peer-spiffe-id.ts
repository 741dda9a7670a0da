/**
 * The peer's SPIFFE id from its TLS certificate: the one `URI:spiffe://…` SAN (none, or two, is no
 * identity). Used wherever a peer is authenticated by certificate: HBONE both ways, and xDS/CA
 * clients on the control plane.
 */
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

/** Every URI SAN of a peer certificate (the control plane's xDS port classifies them: node or workload). */
export function peerUris(cert: { subjectaltname?: string } | undefined | null): string[] {
  const san = cert?.subjectaltname;
  if (!san) return [];
  return san
    .split(",")
    .map((part) => part.trim())
    .filter((entry) => entry.startsWith("URI:"))
    .map((entry) => entry.slice(4));
}

/**
 * The id of a TLS socket's peer. For sockets that refuse unverified peers (rejectUnauthorized);
 * where unverified peers are let through, check `socket.authorized` first (Deno does not set it
 * on server sockets that verified, so it cannot be checked here for everyone).
 */
export function socketPeerSpiffeId(socket: tls.TLSSocket): string | undefined {
  return peerSpiffeId(socket.getPeerCertificate());
}
