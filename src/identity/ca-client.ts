/**
 * The proxies' client for the CA: sends a CSR with the node token (re-read from its file on every
 * call, so a rotated token file takes effect without a restart) and returns the chain.
 */
import { readFileSync } from "node:fs";
import { createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { MeshError } from "../errors/mesh-error.ts";
import { fromConnectError } from "../errors/grpc-code.ts";
import { IstioCertificateService } from "../gen/istio/v1/auth/ca_pb.ts";

export interface CertificateSigner {
  /** Send a CSR; resolves to the chain, leaf first. */
  sign(csrPem: string, ttlSeconds: number): Promise<string[]>;
}

export function caClient(options: { server: string; token: () => string; tls?: { ca?: string; cert?: string; key?: string }; timeoutMs?: number }): CertificateSigner {
  const client = createClient(
    IstioCertificateService,
    createGrpcTransport({ baseUrl: options.server, ...(options.tls ? { nodeOptions: { ...options.tls } } : {}) }),
  );
  return {
    async sign(csrPem, ttlSeconds) {
      try {
        const res = await client.createCertificate(
          { csr: csrPem, validityDuration: BigInt(ttlSeconds) },
          { headers: { authorization: `Bearer ${options.token()}` }, timeoutMs: options.timeoutMs ?? 10_000 },
        );
        return res.certChain;
      } catch (err) {
        throw fromConnectError(err);
      }
    },
  };
}

export function tokenFromFile(path: string): () => string {
  return () => {
    try {
      return readFileSync(path, "utf8").trim();
    } catch (err) {
      throw new MeshError("unauthenticated", `cannot read the node token file ${path}: ${(err as Error).message}`);
    }
  };
}
