/**
 * A stand-in for the ztunnel's capture listeners, run inside a test's node namespace: listens on
 * each port given with the runtime's capture listener (which reads SO_ORIGINAL_DST) and answers
 * each connection, after the first bytes arrive, with a tiny HTTP response whose body is JSON:
 * `{ port, local, remote, originalDestination }`. Prints "listening" when every port is bound.
 *   bun test/support/capture-listener.ts <port>...
 */
import { bunRuntime } from "../../src/runtime/bun.ts";

const ports = bunRuntime.argv().map(Number);
if (ports.length === 0 || ports.some((p) => !Number.isInteger(p) || p < 1 || p > 65535)) {
  console.error("usage: capture-listener.ts <port>...");
  bunRuntime.exit(2);
}

for (const port of ports) {
  await bunRuntime.listenCapture({ host: "::", port }, (conn) => {
    conn.socket.on("error", () => undefined);
    conn.socket.once("data", () => {
      const body = JSON.stringify({ port, local: conn.local, remote: conn.remote, originalDestination: conn.originalDestination });
      conn.socket.end(`HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`);
    });
  });
}
console.log("listening");
