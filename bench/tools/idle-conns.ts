/**
 * Idle TCP connections, held open on purpose (the idle-rss scenario). Run with bun, one process
 * per role, inside a testbed namespace:
 *
 *   bun run idle-conns.ts server HOST PORT MAX_SEC
 *       accepts every connection, writes one byte ("k") on it and keeps it; prints "listening".
 *   bun run idle-conns.ts client HOST PORT MAX_SEC
 *       reads commands on stdin: "open N" opens connections until N are held (at most 200 being
 *       opened at a time; each counts once the server's byte has arrived through the whole path,
 *       or fails after 10 s), then prints "held <n> failed <f> ms <elapsed>"; "close" closes them
 *       all and exits.
 *
 * Bounds: both exit by themselves after MAX_SEC seconds whatever happens; the client opens at most
 * MAX_CONNECTIONS; the harness also kills the process group. Only the address given is dialed (the
 * harness checks it against the testbed).
 */
import net from "node:net";

const MAX_CONNECTIONS = 12_000;
const IN_FLIGHT = 200;
const CONNECT_TIMEOUT_MS = 10_000;

const [role, host, portText, maxSecText] = process.argv.slice(2);
const port = Number(portText);
const maxSec = Number(maxSecText);
if (!host || !Number.isInteger(port) || !(maxSec > 0) || (role !== "server" && role !== "client")) {
  process.stderr.write("usage: idle-conns.ts server|client HOST PORT MAX_SEC\n");
  process.exit(2);
}
setTimeout(() => {
  process.stderr.write(`idle-conns ${role}: ${maxSec} s deadline reached, exiting\n`);
  process.exit(3);
}, maxSec * 1000).unref();
const keepAlive = setInterval(() => undefined, 60_000); // the deadline timer is unref'd; this keeps the process up

const held = new Set<net.Socket>();

if (role === "server") {
  const server = net.createServer((socket) => {
    held.add(socket);
    socket.on("error", () => undefined);
    socket.once("close", () => held.delete(socket));
    socket.write("k");
  });
  server.listen({ host, port, backlog: 4096 }, () => process.stdout.write("listening\n"));
} else {
  let failed = 0;
  const openOne = (): Promise<boolean> =>
    new Promise((resolve) => {
      const socket = net.connect({ host, port });
      const timer = setTimeout(() => finish(false), CONNECT_TIMEOUT_MS);
      function finish(ok: boolean): void {
        clearTimeout(timer);
        socket.removeAllListeners("data");
        if (ok) {
          held.add(socket);
          socket.once("close", () => held.delete(socket));
        } else {
          socket.destroy();
        }
        resolve(ok);
      }
      socket.on("error", () => finish(false));
      socket.once("data", () => finish(true));
    });
  const openUntil = async (target: number): Promise<void> => {
    const started = performance.now();
    const want = Math.min(target, MAX_CONNECTIONS);
    let attempts = Math.max(0, want - held.size) * 2; // a bound on retries of failed connections
    let opening = 0;
    const worker = async (): Promise<void> => {
      while (held.size + opening < want && attempts-- > 0) {
        opening++;
        const ok = await openOne();
        opening--;
        if (!ok) failed++;
      }
    };
    await Promise.all(Array.from({ length: IN_FLIGHT }, worker));
    process.stdout.write(`held ${held.size} failed ${failed} ms ${Math.round(performance.now() - started)}\n`);
  };
  let queue = Promise.resolve();
  let buffer = "";
  process.stdin.setEncoding("utf8").on("data", (text: string) => {
    buffer += text;
    for (let cut = buffer.indexOf("\n"); cut >= 0; cut = buffer.indexOf("\n")) {
      const line = buffer.slice(0, cut).trim();
      buffer = buffer.slice(cut + 1);
      const open = /^open (\d+)$/.exec(line);
      if (open) queue = queue.then(() => openUntil(Number(open[1])));
      else if (line === "close") {
        queue = queue.then(() => {
          for (const s of held) s.destroy();
          process.stdout.write("closed\n");
          clearInterval(keepAlive);
          process.exit(0);
        });
      }
    }
  });
  process.stdin.once("end", () => process.exit(0));
  process.stdout.write("ready\n");
}
