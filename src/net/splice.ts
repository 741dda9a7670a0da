/**
 * Carry bytes both ways between two duplex streams until both directions are done, with TCP's
 * half-close: when one side ends, the other side's writable is ended after everything queued is
 * flushed, and the other direction keeps flowing. Once either side errors, both are destroyed.
 * Whatever happens, `onDone` is called exactly once, after both streams have closed.
 *
 * When one side stops writing (its peer closed), data still arriving for it is read and dropped
 * rather than left unread: an unread HTTP/2 stream would pin its connection's flow-control window
 * and stall every other tunnel sharing that connection.
 */
import type { Duplex } from "node:stream";

export interface SpliceResult {
  /** The first error seen on either side, if any. */
  readonly error?: Error;
}

export function splice(a: Duplex, b: Duplex, onDone: (result: SpliceResult) => void): void {
  let error: Error | undefined;
  let closed = 0;
  let done = false;

  const fail = (err: Error) => {
    error ??= err;
    a.destroy();
    b.destroy();
  };
  const onClose = () => {
    if (++closed < 2 || done) return;
    done = true;
    onDone(error ? { error } : {});
  };
  const forward = (from: Duplex, to: Duplex) => {
    from.on("data", (chunk: Buffer) => {
      if (to.writableEnded || to.destroyed) return; // drained and dropped, see the header
      if (!to.write(chunk)) {
        from.pause();
        to.once("drain", () => from.resume());
      }
    });
    from.once("end", () => {
      if (!to.writableEnded && !to.destroyed) to.end();
    });
    from.resume(); // a front end may have paused it (SOCKS5 does after its handshake)
  };
  forward(a, b);
  forward(b, a);
  a.on("error", fail);
  b.on("error", fail);
  a.once("close", () => {
    // A side that closed without ending cleanly takes the other down with it.
    if (!a.readableEnded || !a.writableFinished) b.destroy();
    onClose();
  });
  b.once("close", () => {
    if (!b.readableEnded || !b.writableFinished) a.destroy();
    onClose();
  });
}
