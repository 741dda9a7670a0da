/**
 * Who an xDS/CA request speaks for, decided from its headers and TLS client certificate before any
 * message is read (listener.ts), and handed to the handlers as a Connect context value: a node
 * (its certificate or its token), or one waypoint Gateway (a waypoint token), which speaks for no
 * node — its replicas may run on several.
 */
import { createContextKey } from "@connectrpc/connect";
import { formatGatewayRef, type GatewayRef } from "../../identity/gateway-ref.ts";

interface PrincipalBase {
  /** The token's id: the token presented (via token), or the one a node certificate was issued against. */
  readonly tokenId: string;
  /** Proves it again with the same credentials (a long-lived stream re-checks a token — presented, or named by its certificate — that may since have been revoked or expired). */
  readonly recheck: () => Promise<void>;
}

export type ProxyPrincipal =
  | (PrincipalBase & {
      readonly node: string;
      readonly waypoint?: undefined;
      /** How it was proved: the node certificate, or the node token. */
      readonly via: "certificate" | "token";
    })
  | (PrincipalBase & { readonly waypoint: GatewayRef; readonly node?: undefined; readonly via: "token" });

/** For logs and refusals: "node N" or "waypoint NS/NAME". */
export function describePrincipal(p: ProxyPrincipal): string {
  return p.waypoint ? `waypoint ${formatGatewayRef(p.waypoint)}` : `node ${p.node}`;
}

/** Set by the listener on every request it lets through; handlers never see an unauthenticated one. */
export const PROXY_PRINCIPAL = createContextKey<ProxyPrincipal | undefined>(undefined, { description: "the authenticated node or waypoint" });
