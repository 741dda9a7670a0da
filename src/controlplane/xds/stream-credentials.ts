/**
 * Ends live xDS streams whose credentials stop holding. A stream is authenticated when it opens;
 * without this, a revoked node kept receiving config until it reconnected. Every live stream
 * re-checks its credentials (the same check it opened with, so a revoked or expired token, or a
 * certificate identity no longer bound to the node, fails):
 * - at once when a NodeToken record changes — a revocation on this replica or another, since it
 *   arrives through the store's watch;
 * - every `intervalMs` (5 s by default), which catches token expiry and binding changes.
 * Rechecks never overlap: a change during one runs one more afterwards.
 */
import { MeshError } from "../../errors/mesh-error.ts";
import type { Logger } from "../../telemetry/log.ts";
import { NODE_TOKEN_KIND } from "../ca/node-tokens.ts";
import type { ConfigStore, Watch } from "../store/store.ts";
import type { ProxyRegistry } from "./proxy-registry.ts";

export const DEFAULT_RECHECK_INTERVAL_MS = 5000;

export interface StreamCredentialWatch {
  /** Resolves when no recheck is running or asked for (tests wait on it). */
  idle(): Promise<void>;
  close(): void;
}

export function watchStreamCredentials(options: { store: ConfigStore; registry: Pick<ProxyRegistry, "recheckAll">; log: Logger; intervalMs?: number }): StreamCredentialWatch {
  const { store, registry, log } = options;
  let closed = false;
  let watch: Watch | undefined;
  let running: Promise<void> | undefined;
  let again = false;

  const recheck = (): void => {
    if (closed) return;
    if (running) {
      again = true;
      return;
    }
    running = registry
      .recheckAll()
      .then(() => undefined)
      .catch((err) => log.warn("re-checking xDS stream credentials failed", { error: MeshError.from(err) }))
      .finally(() => {
        running = undefined;
        if (again) {
          again = false;
          recheck();
        }
      });
  };

  const follow = async (): Promise<void> => {
    const { revision } = await store.list({ kind: NODE_TOKEN_KIND });
    if (closed) return;
    watch?.close();
    watch = store.watch(
      revision,
      (events) => {
        if (events.some((e) => e.resource.kind === NODE_TOKEN_KIND)) recheck();
      },
      (err) => {
        log.warn("node token watch ended; following again", { error: err });
        void start();
      },
    );
    recheck(); // anything revoked while the watch was not following
  };
  const start = (): Promise<void> => follow().catch((err) => log.warn("cannot follow node tokens; streams are re-checked on the timer only", { error: MeshError.from(err) }));

  void start();
  const timer = setInterval(recheck, options.intervalMs ?? DEFAULT_RECHECK_INTERVAL_MS);
  (timer as { unref?: () => void }).unref?.();

  return {
    async idle() {
      while (running) await running;
    },
    close() {
      closed = true;
      clearInterval(timer);
      watch?.close();
    },
  };
}
