/**
 * The control plane's xDS/CA port authenticates a request from its headers and TLS client
 * certificate alone, before any message is read:
 * - a verified client certificate whose one URI SAN is a node URI (`urn:mesh:node:<node>`) and
 *   whose subject names the node token it was issued against (`CN=node-token:<id>`) speaks for
 *   that node while that token holds (recorded, not revoked, not expired): revoking a node's
 *   tokens retires its certificates at once, and the re-check ends their live streams;
 * - otherwise the node token (`authorization: Bearer …`) speaks for the node it was minted for,
 *   or a waypoint token for its one waypoint Gateway;
 * - a workload certificate (a SPIFFE id) speaks for no node: it identifies a workload, which may
 *   run on several nodes, so it is refused rather than mapped onto one of them. So is a node
 *   certificate that names no token (issued before certificates named theirs) without a token.
 */
import { MeshError } from "../../errors/mesh-error.ts";
import { parseNodeTokenCommonName, parseNodeUri } from "../../identity/node-identity.ts";
import { formatGatewayRef } from "../../identity/gateway-ref.ts";
import type { TokenSubject } from "../ca/node-tokens.ts";
import type { ProxyPrincipal } from "./principal.ts";

export interface TokenChecks {
  /** Whom a request's `authorization` header speaks for; MeshError("unauthenticated") when not valid. */
  readonly verifyHeader: (authorization: string | null) => Promise<TokenSubject>;
  /** Does the node token with this id still hold for this node? MeshError("unauthenticated") when not. */
  readonly verifyId: (id: string, node: string) => Promise<void>;
}

/** What the verified client certificate says: its URI SANs and subject common name (none when no certificate verified). */
export interface PeerCertificate {
  readonly uris: readonly string[];
  readonly commonName?: string | undefined;
}

export const NO_PEER_CERTIFICATE: PeerCertificate = { uris: [] };

/** Whom a verified token speaks for, as one comparable string. */
function subjectKey(s: TokenSubject): string {
  return "waypoint" in s ? `waypoint:${formatGatewayRef(s.waypoint)}` : s.node;
}

/** `authorization`: the request's header (undefined when absent). */
export type RequestAuthenticator = (authorization: string | undefined, peer: PeerCertificate) => Promise<ProxyPrincipal>;

export function requestAuthenticator(tokens: TokenChecks): RequestAuthenticator {
  return async function authenticateRequest(authorization, peer) {
    const node = peer.uris.length === 1 ? parseNodeUri(peer.uris[0] as string) : undefined;
    const certificateToken = node === undefined ? undefined : parseNodeTokenCommonName(peer.commonName);
    if (node !== undefined && certificateToken !== undefined) {
      const recheck = () =>
        tokens.verifyId(certificateToken, node).catch((err: unknown) => {
          const e = MeshError.from(err);
          throw new MeshError(e.code, `node certificate refused: ${e.message}`, { cause: err });
        });
      await recheck();
      return { node, via: "certificate", tokenId: certificateToken, recheck };
    }
    if (authorization) {
      const subject = await tokens.verifyHeader(authorization);
      const key = subjectKey(subject);
      const recheck = async () => {
        if (subjectKey(await tokens.verifyHeader(authorization)) !== key) throw new MeshError("unauthenticated", "the token now speaks for someone else");
      };
      return "waypoint" in subject ? { waypoint: subject.waypoint, via: "token", tokenId: subject.id, recheck } : { node: subject.node, via: "token", tokenId: subject.id, recheck };
    }
    if (node !== undefined) {
      throw new MeshError("permission_denied", `the node certificate of ${node} names no node token it was issued against; ask for a new one with the node token, or present the token`);
    }
    if (peer.uris.length > 0) {
      throw new MeshError("permission_denied", `the client certificate (${peer.uris.join(", ").slice(0, 300)}) is not a node certificate; present the node certificate or the node token`);
    }
    throw new MeshError("unauthenticated", "no credentials: present the node certificate or the node token (authorization: Bearer …)");
  };
}
