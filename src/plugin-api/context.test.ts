import { describe, expect, test } from "bun:test";
import { bodyOf, bufferBody, bufferText } from "./body.ts";
import { RequestContext, createContextKey } from "./context.ts";
import { recordingHost } from "./host.ts";

const host = recordingHost();
const newCtx = (authority = "reviews.bookinfo:9080", body: ReadableStream<Uint8Array> | null = null) =>
  new RequestContext({ request: { method: "POST", authority, path: "/r", headers: { "Content-Type": "application/grpc+proto", "X-A": "1" }, body }, log: host.log, metrics: host.metrics });

describe("RequestContext", () => {
  test("headers are case-insensitive and refuse CR/LF injection", () => {
    const { headers } = newCtx().request;
    expect(headers.get("x-a")).toBe("1");
    headers.append("X-a", "2");
    expect(headers.get("X-A")).toBe("1, 2");
    headers.set("x-A", "3");
    expect(headers.get("x-a")).toBe("3");
    headers.delete("X-A");
    expect(headers.has("x-a")).toBe(false);
    expect(() => headers.set("x-b", "v\r\nx-evil: 1")).toThrow();
  });

  test("typed values: default until set, then the value, per context", () => {
    const tenant = createContextKey<string | null>(null, { description: "tenant" });
    const a = newCtx();
    expect(a.get(tenant)).toBeNull();
    a.set(tenant, "acme");
    expect(a.get(tenant)).toBe("acme");
    expect(newCtx().get(tenant)).toBeNull();
    a.delete(tenant);
    expect(a.get(tenant)).toBeNull();
  });

  test("destination defaults come from the authority", () => {
    const cases: Array<[string, string, number]> = [
      ["reviews.bookinfo:9080", "reviews.bookinfo", 9080],
      ["reviews", "reviews", 80],
      ["[fd00::1]:8080", "[fd00::1]", 8080],
      ["[fd00::1]", "[fd00::1]", 80],
    ];
    for (const [authority, hostname, port] of cases) expect(newCtx(authority).destination).toEqual({ listener: "", hostname, port });
  });

  test("grpc is told by content-type", () => expect(newCtx().grpc).toBe(true));

  test("respond replaces the response and cancels the old body", async () => {
    const ctx = newCtx();
    let cancelled = "";
    ctx.respond(200, { body: new ReadableStream({ cancel: (r) => void (cancelled = String(r)) }) });
    ctx.respond(404, { details: "route_not_found" });
    expect(ctx.response?.status).toBe(404);
    expect(ctx.response?.details).toBe("route_not_found");
    await new Promise((r) => setTimeout(r, 0));
    expect(cancelled).toBe("replaced by a local reply");
  });

  test("onDone callbacks run once, newest first; a failing one is logged and the rest still run", async () => {
    const ctx = newCtx();
    const order: string[] = [];
    ctx.onDone(() => void order.push("first"));
    ctx.onDone(() => {
      throw new Error("cleanup broke");
    });
    ctx.onDone(async () => void order.push("last"));
    await ctx.finish();
    await ctx.finish();
    expect(order).toEqual(["last", "first"]);
    expect(host.lines.some((l) => l.message === "onDone callback failed" && l.fields.error === "cleanup broke")).toBe(true);
  });
});

describe("bufferBody", () => {
  const chunks = (...parts: string[]) =>
    new ReadableStream<Uint8Array>({
      start(c) {
        for (const p of parts) c.enqueue(new TextEncoder().encode(p));
        c.close();
      },
    });

  test("reads the whole body and puts it back for the next reader", async () => {
    const ctx = newCtx("a", chunks("hel", "lo"));
    expect(await bufferText(ctx.request, 10)).toBe("hello");
    expect(await new Response(ctx.request.body).text()).toBe("hello");
  });

  test("refuses a body over the bound with resource_exhausted", async () => {
    const ctx = newCtx("a", chunks("12345", "678"));
    const err = await bufferBody(ctx.request, 6).then(() => null, (e: { code: string; message: string }) => e);
    expect(err?.code).toBe("resource_exhausted");
    expect(err?.message).toBe("body is larger than 6 bytes");
  });

  test("no body reads as empty; bodyOf(null) is no body", async () => {
    expect((await bufferBody({ body: null }, 1)).byteLength).toBe(0);
    expect(bodyOf(null)).toBeNull();
  });
});
