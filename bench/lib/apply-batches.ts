/**
 * Request bodies for POST /api/v1/apply: each a JSON `List` of at most `maxDocs` documents and
 * at most `maxBytes` bytes (the API refuses more than 1,000 documents or 4 MiB per request).
 */
export function* applyBatches(docs: Iterable<unknown>, maxDocs = 1000, maxBytes = 3 * 1024 * 1024): Generator<{ body: string; count: number }> {
  let parts: string[] = [];
  let bytes = 0;
  const flush = () => {
    const out = { body: `{"apiVersion":"v1","kind":"List","items":[${parts.join(",")}]}`, count: parts.length };
    parts = [];
    bytes = 0;
    return out;
  };
  for (const doc of docs) {
    const json = JSON.stringify(doc);
    if (parts.length > 0 && (parts.length >= maxDocs || bytes + json.length + 64 > maxBytes)) yield flush();
    parts.push(json);
    bytes += json.length + 1;
  }
  if (parts.length > 0) yield flush();
}
