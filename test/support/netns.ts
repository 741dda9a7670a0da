/**
 * Network namespaces for tests. Every namespace is created with a unique name and deleted in a
 * finally block; deleting a namespace also removes its interfaces and iptables rules, so a test
 * that fails half-way leaves nothing behind.
 */
import { runOk } from "./command.ts";

export interface Netns {
  readonly name: string;
  /** Prefix for running a command inside the namespace. */
  exec(argv: readonly string[]): string[];
  sh(script: string): Promise<string>;
}

let counter = 0;

export async function withNetns<T>(label: string, fn: (ns: Netns) => Promise<T>): Promise<T> {
  const name = `mt-${label}-${process.pid}-${counter++}`.slice(0, 30);
  await runOk(["ip", "netns", "add", name]);
  const ns: Netns = {
    name,
    exec: (argv) => ["ip", "netns", "exec", name, ...argv],
    sh: (script) => runOk(["ip", "netns", "exec", name, "sh", "-ec", script]),
  };
  try {
    await runOk(["ip", "-n", name, "link", "set", "lo", "up"]);
    return await fn(ns);
  } finally {
    await runOk(["ip", "netns", "del", name]).catch((err) => console.error(`cleanup of netns ${name}: ${err}`));
  }
}
