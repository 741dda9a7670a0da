/**
 * The control plane's xDS/CA port authenticates a request from its headers and TLS client
 * certificate alone, before any message is read:
 * - a verified client certificate whose one URI SAN is a node URI (`urn:mesh:node:<node>`, issued
 *   against that node's token) speaks for that node;
 * - otherwise the node token (`authorization: Bearer …`) speaks for the node it was minted for,
 *   or a waypoint token for its one waypoint Gateway;
 * - a workload certificate (a SPIFFE id) speaks for no node: it identifies a workload, which may
 *   run on several nodes, so it is refused rather than mapped onto one of them.
 */
import { MeshError } from "../../errors/mesh-error.ts";
import { parseNodeUri } from "../../identity/node-identity.ts";
import { formatGatewayRef, type GatewayRef } from "../../identity/gateway-ref.ts";
import type { ProxyPrincipal } from "./principal.ts";

export type TokenVerifier = (authorization: string | null) => Promise<{ readonly node: string } | { readonly waypoint: GatewayRef }>;

/** Whom a verified token speaks for, as one comparable string. */
function subjectKey(s: { readonly node: string } | { readonly waypoint: GatewayRef }): string {
  return "waypoint" in s ? `waypoint:${formatGatewayRef(s.waypoint)}` : s.node;
}

/**
 * `authorization`: the request's header (undefined when absent); `peerUris`: the URI SANs of the
 * client certificate, empty when none was presented or it did not verify.
 */
export type RequestAuthenticator = (authorization: string | undefined, peerUris: readonly string[]) => Promise<ProxyPrincipal>;

export function requestAuthenticator(verifyToken: TokenVerifier): RequestAuthenticator {
  return async function authenticateRequest(authorization, peerUris) {
    const node = peerUris.length === 1 ? parseNodeUri(peerUris[0] as string) : undefined;
    // The certificate was verified in the handshake and lives until it expires: nothing to re-check.
    if (node !== undefined) return { node, via: "certificate", recheck: async () => {} };
    if (authorization) {
      const subject = await verifyToken(authorization);
      const key = subjectKey(subject);
      const recheck = async () => {
        if (subjectKey(await verifyToken(authorization)) !== key) throw new MeshError("unauthenticated", "the token now speaks for someone else");
      };
      return "waypoint" in subject ? { waypoint: subject.waypoint, via: "token", recheck } : { node: subject.node, via: "token", recheck };
    }
    if (peerUris.length > 0) {
      throw new MeshError("permission_denied", `the client certificate (${peerUris.join(", ").slice(0, 300)}) is not a node certificate; present the node certificate or the node token`);
    }
    throw new MeshError("unauthenticated", "no credentials: present the node certificate or the node token (authorization: Bearer …)");
  };
}
