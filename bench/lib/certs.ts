/**
 * A throwaway PKI for TLS baselines, made with the openssl CLI: one CA, a server certificate
 * (DNS server.mesh.test, IP 127.0.0.1 and ::1) and a client certificate (a SPIFFE URI SAN), all
 * ECDSA P-256, valid one day. Keys are written into a 0700 directory the caller owns and removes.
 */
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { randomBytes } from "node:crypto";
import { runOk } from "./process.ts";

export interface KeyPair {
  readonly cert: string;
  readonly key: string;
}

/** A leaf: its certificate and key files, and both in one PEM file (what haproxy's `crt` takes). */
export interface LeafFiles extends KeyPair {
  readonly certAndKey: string;
}

export interface CertSet {
  readonly dir: string;
  readonly caCert: string;
  readonly server: LeafFiles;
  readonly client: LeafFiles;
  /** The server name the client side must check. */
  readonly serverName: string;
  readonly clientId: string;
}

const SERVER_NAME = "server.mesh.test";
const CLIENT_ID = "spiffe://mesh.test/ns/bench/sa/client";

async function ecKey(path: string): Promise<void> {
  await runOk(["openssl", "genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", path]);
}

async function issue(dir: string, name: string, subject: string, extensions: string, ca: KeyPair): Promise<LeafFiles> {
  const key = join(dir, `${name}.key`);
  const csr = join(dir, `${name}.csr`);
  const cert = join(dir, `${name}.crt`);
  const ext = join(dir, `${name}.ext`);
  writeFileSync(ext, extensions);
  await ecKey(key);
  await runOk(["openssl", "req", "-new", "-key", key, "-subj", subject, "-out", csr]);
  await runOk([
    "openssl", "x509", "-req", "-in", csr, "-CA", ca.cert, "-CAkey", ca.key,
    "-set_serial", `0x${randomBytes(12).toString("hex")}`, "-days", "1", "-sha256", "-extfile", ext, "-out", cert,
  ]);
  const certAndKey = join(dir, `${name}.pem`);
  writeFileSync(certAndKey, readFileSync(cert, "utf8") + readFileSync(key, "utf8"), { mode: 0o600 });
  return { cert, key, certAndKey };
}

export async function makeCerts(parent: string): Promise<CertSet> {
  const dir = join(parent, "pki");
  mkdirSync(dir, { mode: 0o700 });
  const ca: KeyPair = { cert: join(dir, "ca.crt"), key: join(dir, "ca.key") };
  await ecKey(ca.key);
  await runOk([
    "openssl", "req", "-x509", "-new", "-key", ca.key, "-subj", "/CN=mesh-bench-ca", "-days", "1", "-sha256",
    "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign", "-out", ca.cert,
  ]);
  const leaf = "basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\n";
  const server = await issue(dir, "server", `/CN=${SERVER_NAME}`,
    `${leaf}extendedKeyUsage=serverAuth\nsubjectAltName=DNS:${SERVER_NAME},IP:127.0.0.1,IP:::1\n`, ca);
  const client = await issue(dir, "client", "/CN=bench-client",
    `${leaf}extendedKeyUsage=clientAuth\nsubjectAltName=URI:${CLIENT_ID}\n`, ca);
  for (const leafCert of [server.cert, client.cert]) await runOk(["openssl", "verify", "-CAfile", ca.cert, leafCert]);
  return { dir, caCert: ca.cert, server, client, serverName: SERVER_NAME, clientId: CLIENT_ID };
}
