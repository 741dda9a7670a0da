/**
 * A watch as an HTTP response: newline-delimited JSON events, Kubernetes style
 * (`{"type":"ADDED"|"MODIFIED"|"DELETED","object":{…}}`). Without a starting resourceVersion the
 * stream first lists what exists (as ADDED) and then follows changes from that list's revision.
 * A compacted start revision ends the stream with an ERROR event carrying a Status.
 */
import type { StoredResource } from "../resources/resource.ts";
import type { ConfigStore, ListFilter, Watch, WatchEvent } from "../store/store.ts";
import { statusBody } from "./status.ts";

function matches(r: StoredResource, filter: ListFilter): boolean {
  return (!filter.kind || r.kind === filter.kind) && (filter.namespace === undefined || r.metadata.namespace === filter.namespace);
}

export function watchResponse(store: ConfigStore, filter: ListFilter, fromRevision: string | undefined, signal: AbortSignal): Response {
  const encoder = new TextEncoder();
  const seen = new Set<string>();
  let watch: Watch | undefined;
  const stream = new ReadableStream<Uint8Array>({
    async start(controller) {
      const send = (type: string, object: unknown) => controller.enqueue(encoder.encode(JSON.stringify({ type, object }) + "\n"));
      const stop = () => {
        watch?.close();
        try {
          controller.close();
        } catch {
          // already closed
        }
      };
      signal.addEventListener("abort", stop, { once: true });
      let from = fromRevision;
      if (from === undefined) {
        const listed = await store.list(filter);
        for (const r of listed.items) {
          seen.add(r.metadata.uid);
          send("ADDED", r);
        }
        from = listed.revision;
      }
      watch = store.watch(
        from,
        (events: readonly WatchEvent[]) => {
          for (const e of events) {
            if (!matches(e.resource, filter)) continue;
            const uid = e.resource.metadata.uid;
            if (e.type === "delete") {
              seen.delete(uid);
              send("DELETED", e.resource);
            } else {
              send(seen.has(uid) || e.resource.metadata.generation > 1 ? "MODIFIED" : "ADDED", e.resource);
              seen.add(uid);
            }
          }
        },
        (err) => {
          send("ERROR", statusBody(err));
          stop();
        },
      );
      if (signal.aborted) stop();
    },
    cancel() {
      watch?.close();
    },
  });
  return new Response(stream, { headers: { "content-type": "application/x-ndjson", "cache-control": "no-store" } });
}
