/**
 * Runs inside a test's network namespace: listens with the runtime's capture listener, connects to
 * each target given on the command line, and prints (as JSON) the original destination the
 * listener saw for each connection. Used by the runtime contract suite.
 *   capture-probe.ts <listen-port> <host:port | [v6]:port>...
 */
import net from "node:net";
import { loadRuntime } from "../index.ts";
import type { SocketAddress } from "../port.ts";

const rt = await loadRuntime();
const [portArg, ...targets] = rt.argv();
const seen = new Map<string, SocketAddress | null>();
const listener = await rt.listenCapture({ host: "::", port: Number(portArg) }, (conn) => {
  conn.socket.once("data", (d) => {
    seen.set(String(d).trim(), conn.originalDestination);
    conn.socket.end("ok\n");
  });
});

function parseTarget(t: string): { host: string; port: number } {
  const m = /^\[?([^\]]+?)\]?:(\d+)$/.exec(t);
  if (!m) throw new Error(`bad target ${t}`);
  return { host: m[1]!, port: Number(m[2]) };
}

const results: Array<{ target: string; originalDestination: SocketAddress | null }> = [];
for (const target of targets) {
  const { host, port } = parseTarget(target);
  await new Promise<void>((resolve, reject) => {
    const s = net.connect({ host, port }, () => s.write(`${target}\n`));
    s.once("error", reject);
    s.on("data", () => {});
    s.once("close", () => resolve());
  });
  results.push({ target, originalDestination: seen.get(target) ?? null });
}
await listener.close();
console.log(JSON.stringify(results));
rt.exit(0);
