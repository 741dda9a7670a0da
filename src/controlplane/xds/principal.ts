/**
 * Who an xDS/CA request speaks for, decided from its headers and TLS client certificate before any
 * message is read (listener.ts), and handed to the handlers as a Connect context value.
 */
import { createContextKey } from "@connectrpc/connect";

export interface ProxyPrincipal {
  readonly node: string;
  /** How it was proved: the node certificate, or the node token. */
  readonly via: "certificate" | "token";
  /** The node token's id: the token presented (via token), or the one the certificate was issued against. */
  readonly tokenId: string;
  /** Proves it again with the same credentials (a long-lived stream re-checks a token — presented, or named by its certificate — that may since have been revoked or expired). */
  readonly recheck: () => Promise<void>;
}

/** Set by the listener on every request it lets through; handlers never see an unauthenticated one. */
export const PROXY_PRINCIPAL = createContextKey<ProxyPrincipal | undefined>(undefined, { description: "the authenticated node" });
