/**
 * Node tokens: how a ztunnel proves which node it serves when it asks the CA for certificates.
 * A token is a JWT (ES256) with audience "mesh-ca", the node name as subject and a unique id;
 * every minted token is recorded (never the token itself, only its id, node and expiry), so it
 * can be listed and revoked, and a token whose record is missing or revoked is refused even when
 * its signature is good. The signing key lives in the secret store (shared by replicas on etcd).
 *
 * A waypoint token (subject `waypoint:NS/NAME`, never a node name: those cannot hold ':') speaks
 * for one waypoint Gateway instead of a node: the CA signs only that Gateway's replicas' identity
 * for it, and xDS serves it only that Gateway's config (ca-service.ts, xds/authorize-stream.ts).
 */
import { randomUUID } from "node:crypto";
import { errors as joseErrors, exportPKCS8, generateKeyPair, importPKCS8, importSPKI, exportSPKI, jwtVerify, SignJWT, type CryptoKey as JoseKey, type JWTPayload } from "jose";
import { MeshError } from "../../errors/mesh-error.ts";
import { formatGatewayRef, parseGatewayRef, type GatewayRef } from "../../identity/gateway-ref.ts";
import { isNodeName } from "../../identity/node-identity.ts";
import type { ConfigStore } from "../store/store.ts";
import type { SecretStore } from "./secrets.ts";
import { checkTokenTtl } from "./token-ttl.ts";

export const NODE_TOKEN_AUDIENCE = "mesh-ca";
export const NODE_TOKEN_KIND = "NodeToken";
const ALG = "ES256";

export interface NodeTokenRecord {
  readonly id: string;
  /** Exactly one of node and waypoint (NS/NAME): whom the token speaks for. */
  readonly node?: string;
  readonly waypoint?: string;
  readonly issuedAt: string;
  readonly expiresAt: string;
  readonly revoked: boolean;
}

/** The token in an `authorization: Bearer …` header, if there is one. */
export function bearerToken(header: string | null | undefined): string | undefined {
  return header?.startsWith("Bearer ") ? header.slice(7).trim() : undefined;
}

/** Whom a valid token speaks for: a node, or one waypoint Gateway. */
export type TokenSubject = { readonly id: string; readonly node: string } | { readonly id: string; readonly waypoint: GatewayRef };

export interface NodeTokens {
  mint(node: string, ttlMs: number): Promise<{ token: string; record: NodeTokenRecord }>;
  /** A token that speaks for one waypoint Gateway only. */
  mintWaypoint(gateway: GatewayRef, ttlMs: number): Promise<{ token: string; record: NodeTokenRecord }>;
  /** Whom a token speaks for; MeshError("unauthenticated") for anything not currently valid. */
  verify(token: string): Promise<TokenSubject>;
  /** verify() for a request's authorization header; a missing token is unauthenticated too. */
  verifyHeader(header: string | null | undefined): Promise<TokenSubject>;
  /**
   * Is the token with this id still good for this node (recorded, not revoked, not expired)? What a
   * node certificate is checked against: it names the token it was issued against. MeshError
   * ("unauthenticated") when not.
   */
  verifyId(id: string, node: string): Promise<void>;
  list(): Promise<NodeTokenRecord[]>;
  /** Revoke one token by id, or every token of a node or of a waypoint (NS/NAME); returns what was revoked. */
  revoke(selector: { id?: string; node?: string; waypoint?: string }): Promise<NodeTokenRecord[]>;
}

const WAYPOINT_SUBJECT_PREFIX = "waypoint:";

function subjectOf(record: NodeTokenRecord): string {
  return record.waypoint !== undefined ? `${WAYPOINT_SUBJECT_PREFIX}${record.waypoint}` : (record.node ?? "");
}

/** Tokens whose signature check is remembered (one per node, with room to spare). */
const VERIFIED_CACHE_SIZE = 10_000;

export async function createNodeTokens(options: { secrets: SecretStore; store: ConfigStore; issuer: string; now?: () => Date }): Promise<NodeTokens> {
  const now = options.now ?? (() => new Date());
  let secret = await options.secrets.get("node-tokens");
  if (!secret) {
    const { privateKey, publicKey } = await generateKeyPair(ALG, { extractable: true });
    secret = await options.secrets.createOrGet("node-tokens", { "signing-key.pem": await exportPKCS8(privateKey), "public-key.pem": await exportSPKI(publicKey) });
  }
  const privateKey: JoseKey = await importPKCS8(secret["signing-key.pem"] as string, ALG);
  const publicKey: JoseKey = await importSPKI(secret["public-key.pem"] as string, ALG);
  const key = (id: string) => ({ kind: NODE_TOKEN_KIND, namespace: "", name: id });
  const recordOf = (spec: unknown) => spec as NodeTokenRecord;
  const put = (record: NodeTokenRecord, createOnly: boolean) =>
    options.store.commit([
      { type: "put", ...(createOnly ? { createOnly } : {}), resource: { apiVersion: "mesh.dev/v1", kind: NODE_TOKEN_KIND, metadata: { name: record.id, namespace: "", labels: {}, annotations: {} }, spec: record } },
    ]);

  const verified = new Map<string, JWTPayload>();

  const list = async (): Promise<NodeTokenRecord[]> => {
    const { items } = await options.store.list({ kind: NODE_TOKEN_KIND });
    const order = (r: NodeTokenRecord) => `${r.issuedAt}\u0000${subjectOf(r)}\u0000${r.id}`;
    return items.map((i) => recordOf(i.spec)).sort((a, b) => (order(a) < order(b) ? -1 : 1));
  };

  const verify = async (token: string): Promise<TokenSubject> => {
    if (token.length > 8192) throw new MeshError("unauthenticated", "node token too long");
    // A restart storm presents each node's token thousands of times: the signature check is
    // cached per token (expiry is still checked on every call, revocation below too).
    let payload = verified.get(token);
    if (payload && (payload.exp as number) * 1000 <= now().getTime()) {
      verified.delete(token);
      payload = undefined;
    }
    if (!payload) {
      try {
        ({ payload } = await jwtVerify(token, publicKey, {
          algorithms: [ALG],
          audience: NODE_TOKEN_AUDIENCE,
          issuer: options.issuer,
          currentDate: now(),
          requiredClaims: ["sub", "jti", "exp"],
        }));
      } catch (err) {
        const why = err instanceof joseErrors.JWTExpired ? "expired" : err instanceof joseErrors.JWTClaimValidationFailed ? `claim ${err.claim} is wrong` : "signature or format invalid";
        throw new MeshError("unauthenticated", `node token refused: ${why}`, { cause: err });
      }
      if (verified.size >= VERIFIED_CACHE_SIZE) verified.delete(verified.keys().next().value as string);
      verified.set(token, payload);
    }
    const record = await recordFor(payload.jti as string, payload.sub as string);
    return record.waypoint !== undefined ? { waypoint: parseGatewayRef(record.waypoint, "waypoint"), id: record.id } : { node: record.node ?? "", id: record.id };
  };

  /** The token's record, refused when missing, revoked or for another subject (a node, or "waypoint:NS/NAME"). */
  const recordFor = async (id: string, subject: string): Promise<NodeTokenRecord> => {
    const stored = await options.store.get(key(id));
    if (!stored) throw new MeshError("unauthenticated", "node token refused: unknown token id");
    const record = recordOf(stored.spec);
    if (record.revoked) throw new MeshError("unauthenticated", `node token refused: revoked (id ${record.id})`);
    if (subjectOf(record) !== subject) throw new MeshError("unauthenticated", "node token refused: subject does not match its record");
    return record;
  };

  const mint = async (subject: { node: string } | { waypoint: string }, ttlMs: number) => {
    checkTokenTtl(ttlMs);
    const issued = now();
    const expires = new Date(issued.getTime() + ttlMs);
    const record: NodeTokenRecord = { id: randomUUID(), ...subject, issuedAt: issued.toISOString(), expiresAt: expires.toISOString(), revoked: false };
    const token = await new SignJWT({ ...subject })
      .setProtectedHeader({ alg: ALG, typ: "JWT" })
      .setIssuer(options.issuer)
      .setAudience(NODE_TOKEN_AUDIENCE)
      .setSubject(subjectOf(record))
      .setJti(record.id)
      .setIssuedAt(Math.floor(issued.getTime() / 1000))
      .setExpirationTime(Math.floor(expires.getTime() / 1000))
      .sign(privateKey);
    await put(record, true);
    return { token, record };
  };

  return {
    list,
    async mint(node, ttlMs) {
      if (!isNodeName(node)) throw new MeshError("invalid_argument", `node name "${node}" must be a DNS subdomain`, { detail: { path: "--node" } });
      return mint({ node }, ttlMs);
    },
    async mintWaypoint(gateway, ttlMs) {
      return mint({ waypoint: formatGatewayRef(parseGatewayRef(formatGatewayRef(gateway), "--waypoint")) }, ttlMs);
    },

    verify,
    async verifyId(id, node) {
      const record = await recordFor(id, node);
      // The token's exp claim is whole seconds: expire the record at the same instant.
      if (Math.floor(Date.parse(record.expiresAt) / 1000) * 1000 <= now().getTime()) throw new MeshError("unauthenticated", "node token refused: expired");
    },
    async verifyHeader(header) {
      const token = bearerToken(header);
      if (!token) throw new MeshError("unauthenticated", "a node token is required (authorization: Bearer …)");
      return verify(token);
    },

    async revoke(selector) {
      if (!selector.id && !selector.node && !selector.waypoint) throw new MeshError("invalid_argument", "revoke needs a token id, --node or --waypoint");
      const matches = (r: NodeTokenRecord) => (selector.id ? r.id === selector.id : selector.node ? r.node === selector.node : r.waypoint === selector.waypoint);
      const targets = (await list()).filter((r) => !r.revoked && matches(r));
      if (selector.id && targets.length === 0) {
        const exists = await options.store.get(key(selector.id));
        if (!exists) throw new MeshError("not_found", `no node token with id ${selector.id}`);
      }
      const revoked = targets.map((r) => ({ ...r, revoked: true }));
      if (revoked.length > 0) {
        await options.store.commit(
          revoked.map((r) => ({ type: "put" as const, resource: { apiVersion: "mesh.dev/v1", kind: NODE_TOKEN_KIND, metadata: { name: r.id, namespace: "", labels: {}, annotations: {} }, spec: r } })),
        );
      }
      return revoked;
    },
  };
}
