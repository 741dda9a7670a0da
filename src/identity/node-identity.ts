/**
 * Node identities in certificates: one URI SAN `urn:mesh:node:<node>`. A node certificate is what
 * a ztunnel presents to the control plane's xDS port; it is signed only against that node's token.
 * It cannot be mistaken for a workload identity: it is not a `spiffe://` URI, so HBONE (which
 * admits exactly one SPIFFE id) refuses it, and a workload CSR can never ask for it (the CA signs
 * this form only for the token's own node).
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
