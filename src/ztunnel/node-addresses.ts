/**
 * The addresses this node's kernel delivers locally, as the passthrough guard needs them: IPv4
 * from the local routes in /proc/net/fib_trie (every `host LOCAL` entry, so also ranges such as
 * 127.0.0.0/8 or `ip route add local 10.99.0.0/16 dev lo`), IPv6 from /proc/net/if_inet6. Both
 * files are the reading process's own network namespace, and they list addresses whatever the
 * state of their interface, where the interface list of node:os skips interfaces without carrier.
 * Parsing is pure; `NodeAddresses` rereads at most once per `maxAgeMs` (an address appears only
 * when someone with the node's privileges adds it).
 */
import { readFileSync } from "node:fs";
import { networkInterfaces } from "node:os";
import { formatIp } from "../net/ip.ts";

/** CIDR texts of the `host LOCAL` routes in a /proc/net/fib_trie listing. */
export function parseFibTrieLocal(text: string): string[] {
  const out = new Set<string>();
  let leaf: string | undefined;
  for (const line of text.split("\n")) {
    const l = /^\s*\|-- (\d+\.\d+\.\d+\.\d+)\s*$/.exec(line);
    if (l) {
      leaf = l[1];
      continue;
    }
    const entry = /^\s*\/(\d+) host LOCAL\s*$/.exec(line);
    if (entry && leaf) out.add(`${leaf}/${entry[1]}`);
  }
  return [...out];
}

/** Addresses (as /128 CIDR texts) in a /proc/net/if_inet6 listing. */
export function parseIfInet6(text: string): string[] {
  const out = new Set<string>();
  for (const line of text.split("\n")) {
    const hex = /^([0-9a-f]{32})\s/.exec(line.trim())?.[1];
    if (!hex) continue;
    const bytes = new Uint8Array(16);
    for (let i = 0; i < 16; i++) bytes[i] = parseInt(hex.slice(i * 2, i * 2 + 2), 16);
    out.add(`${formatIp(bytes)}/128`);
  }
  return [...out];
}

function readOr(path: string): string | undefined {
  try {
    return readFileSync(path, "utf8");
  } catch {
    return undefined;
  }
}

/** What the kernel says now; without /proc (not Linux), the interface list of node:os. */
export function readNodeAddresses(): string[] {
  const fib = readOr("/proc/net/fib_trie");
  const inet6 = readOr("/proc/net/if_inet6");
  if (fib !== undefined || inet6 !== undefined) return [...parseFibTrieLocal(fib ?? ""), ...parseIfInet6(inet6 ?? "")];
  return Object.values(networkInterfaces()).flatMap((list) => (list ?? []).map((a) => `${a.address}/${a.family === "IPv4" ? 32 : 128}`));
}

export class NodeAddresses {
  readonly #read: () => string[];
  readonly #maxAgeMs: number;
  readonly #now: () => number;
  #cached: readonly string[] = [];
  #readAt = -Infinity;

  constructor(options: { read?: () => string[]; maxAgeMs?: number; now?: () => number } = {}) {
    this.#read = options.read ?? readNodeAddresses;
    this.#maxAgeMs = options.maxAgeMs ?? 1000;
    this.#now = options.now ?? Date.now;
  }

  /** CIDR texts of the node's local addresses, at most maxAgeMs old; the same array until they change. */
  current(): readonly string[] {
    const now = this.#now();
    if (now - this.#readAt >= this.#maxAgeMs) {
      const fresh = this.#read();
      // The same array while nothing changed, so what is derived from it can be kept by identity.
      if (fresh.join(",") !== this.#cached.join(",")) this.#cached = fresh;
      this.#readAt = now;
    }
    return this.#cached;
  }
}
