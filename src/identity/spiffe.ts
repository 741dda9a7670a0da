/**
 * SPIFFE identities of workloads: `spiffe://<trust-domain>/ns/<namespace>/sa/<service-account>`.
 * Parsing is strict (a trust boundary: ids come from certificates and CSRs): lower-case trust
 * domain of letters, digits, '.', '-', '_'; namespace and service account as Kubernetes names;
 * no query, fragment, port, user info, empty or dot segments, percent-encoding.
 */
import { MeshError } from "../errors/mesh-error.ts";

export interface WorkloadIdentity {
  readonly trustDomain: string;
  readonly namespace: string;
  readonly serviceAccount: string;
}

const TRUST_DOMAIN = /^[a-z0-9._-]{1,255}$/;
const NAME = /^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$/;
const NAMESPACE = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;
const MAX_ID_LENGTH = 2048;

export function formatSpiffeId(id: WorkloadIdentity): string {
  return `spiffe://${id.trustDomain}/ns/${id.namespace}/sa/${id.serviceAccount}`;
}

/** The principal form Istio policies use: the id without "spiffe://". */
export function principalOf(id: WorkloadIdentity): string {
  return `${id.trustDomain}/ns/${id.namespace}/sa/${id.serviceAccount}`;
}

export function parseSpiffeId(text: string): WorkloadIdentity {
  const fail = (why: string) => new MeshError("invalid_argument", `not a workload SPIFFE id (${why}): ${JSON.stringify(text.slice(0, 200))}`);
  if (text.length > MAX_ID_LENGTH) throw fail("too long");
  if (!text.startsWith("spiffe://")) throw fail('must start with "spiffe://"');
  const rest = text.slice("spiffe://".length);
  const slash = rest.indexOf("/");
  if (slash < 0) throw fail("no path");
  const trustDomain = rest.slice(0, slash);
  if (!TRUST_DOMAIN.test(trustDomain) || trustDomain.startsWith(".") || trustDomain.endsWith(".")) throw fail("bad trust domain");
  const segments = rest.slice(slash + 1).split("/");
  if (segments.length !== 4 || segments[0] !== "ns" || segments[2] !== "sa") throw fail('path must be "/ns/<namespace>/sa/<service-account>"');
  const [, namespace, , serviceAccount] = segments as [string, string, string, string];
  if (!NAMESPACE.test(namespace)) throw fail("bad namespace");
  if (!NAME.test(serviceAccount)) throw fail("bad service account");
  return { trustDomain, namespace, serviceAccount };
}
