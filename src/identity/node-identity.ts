/**
 * Node identities in certificates: one URI SAN `urn:mesh:node:<node>`. A node certificate is what
 * a ztunnel presents to the control plane's xDS port; it is signed only against that node's token.
 * It cannot be mistaken for a workload identity: it is not a `spiffe://` URI, so HBONE (which
 * admits exactly one SPIFFE id) refuses it, and a workload CSR can never ask for it (the CA signs
 * this form only for the token's own node).
 *
 * A node certificate also names the node token it was issued against, in its subject's common
 * name (`node-token:<token id>`, written by the CA, never taken from the CSR): the control plane
 * accepts the certificate only while that token is recorded, not revoked and not expired, so
 * revoking a node's tokens retires its certificates too.
 */
export const NODE_URI_PREFIX = "urn:mesh:node:";

/** Node names are DNS subdomains (what `mesh token create --node` accepts). */
const NODE_NAME = /^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$/;

export function isNodeName(name: string): boolean {
  return NODE_NAME.test(name);
}

export function formatNodeUri(node: string): string {
  return `${NODE_URI_PREFIX}${node}`;
}

/** The node a URI names, or undefined when it is not a well-formed node URI. */
export function parseNodeUri(uri: string): string | undefined {
  if (!uri.startsWith(NODE_URI_PREFIX)) return undefined;
  const node = uri.slice(NODE_URI_PREFIX.length);
  return isNodeName(node) ? node : undefined;
}

export const NODE_TOKEN_CN_PREFIX = "node-token:";

/** Token ids are UUIDs (node-tokens.ts mints them with randomUUID). */
const TOKEN_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

export function formatNodeTokenCommonName(tokenId: string): string {
  return `${NODE_TOKEN_CN_PREFIX}${tokenId}`;
}

/** The token id a node certificate's common name names, or undefined when it names none. */
export function parseNodeTokenCommonName(commonName: string | undefined): string | undefined {
  if (commonName === undefined || !commonName.startsWith(NODE_TOKEN_CN_PREFIX)) return undefined;
  const id = commonName.slice(NODE_TOKEN_CN_PREFIX.length);
  return TOKEN_ID.test(id) ? id : undefined;
}
