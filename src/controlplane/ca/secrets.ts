/**
 * Where the control plane keeps its own secrets (the CA root, the node-token signing key). With
 * SQLite they are files in the data directory (private keys mode 0600); with etcd they live in
 * the shared store so every replica signs with the same keys. Creation is create-only: when two
 * replicas start at once, one creates and the other reads what it created.
 */
import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { isMeshError } from "../../errors/mesh-error.ts";
import type { ConfigStore } from "../store/store.ts";

/** A secret is a set of named files (e.g. root-cert.pem, root-key.pem). */
export type Secret = Readonly<Record<string, string>>;

export interface SecretStore {
  get(name: string): Promise<Secret | undefined>;
  /** Store `value` unless `name` exists; returns what is stored afterwards (ours or the winner's). */
  createOrGet(name: string, value: Secret): Promise<Secret>;
  /** Replace a secret whole (root rotation). */
  replace(name: string, value: Secret): Promise<void>;
}

export function fileSecrets(dataDir: string): SecretStore {
  const readDir = (dir: string): Secret | undefined => {
    if (!existsSync(dir)) return undefined;
    return Object.fromEntries(readdirSync(dir).filter((f) => !f.startsWith(".")).map((f) => [f, readFileSync(join(dir, f), "utf8")]));
  };
  // A replace that crashed between its two renames leaves only the previous version: use it.
  const read = (name: string) => readDir(join(dataDir, name)) ?? readDir(join(dataDir, `.${name}.old`));
  /** Write into a temporary directory first, so a crash never leaves half a secret. */
  const writeTmp = (name: string, value: Secret): string => {
    const tmp = join(dataDir, `.${name}.tmp-${process.pid}`);
    rmSync(tmp, { recursive: true, force: true });
    mkdirSync(tmp, { recursive: true, mode: 0o700 });
    for (const [file, content] of Object.entries(value)) {
      const mode = file.includes("key") ? 0o600 : 0o644;
      writeFileSync(join(tmp, file), content, { mode });
      chmodSync(join(tmp, file), mode);
    }
    return tmp;
  };
  return {
    get: async (name) => read(name),
    createOrGet: async (name, value) => {
      const existing = read(name);
      if (existing) return existing;
      renameSync(writeTmp(name, value), join(dataDir, name));
      return value;
    },
    replace: async (name, value) => {
      const tmp = writeTmp(name, value);
      const target = join(dataDir, name);
      const old = join(dataDir, `.${name}.old`);
      rmSync(old, { recursive: true, force: true });
      if (existsSync(target)) renameSync(target, old);
      renameSync(tmp, target);
      rmSync(old, { recursive: true, force: true });
    },
  };
}

const SECRET_KIND = "MeshSecret";

/** Secrets in the config store under an internal kind the API does not serve. */
export function storeSecrets(store: ConfigStore): SecretStore {
  const key = (name: string) => ({ kind: SECRET_KIND, namespace: "", name });
  const get = async (name: string) => (await store.get(key(name)))?.spec as Secret | undefined;
  const resource = (name: string, value: Secret) => ({ apiVersion: "mesh.dev/v1", kind: SECRET_KIND, metadata: { name, namespace: "", labels: {}, annotations: {} }, spec: value });
  return {
    get,
    replace: async (name, value) => void (await store.commit([{ type: "put", resource: resource(name, value) }])),
    createOrGet: async (name, value) => {
      try {
        await store.commit([{ type: "put", createOnly: true, resource: resource(name, value) }]);
        return value;
      } catch (err) {
        if (!isMeshError(err, "already_exists")) throw err;
        return (await get(name)) as Secret;
      }
    },
  };
}
