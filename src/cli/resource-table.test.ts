import { describe, expect, test } from "bun:test";
import type { StoredResource } from "../controlplane/resources/resource.ts";
import { renderTable } from "./resource-table.ts";

const NOW = new Date("2026-12-04T12:00:00Z");

function fault(name: string, spec: unknown): StoredResource {
  return {
    apiVersion: "mesh.dev/v1",
    kind: "HTTPFault",
    metadata: { name, namespace: "bookinfo", labels: {}, annotations: {}, uid: name, resourceVersion: "1", generation: 1, creationTimestamp: "2026-12-04T11:59:00Z" },
    spec,
  };
}

describe("mesh get tables", () => {
  test("HTTPFault: delay and abort with their shares (100% when left out)", () => {
    const text = renderTable(
      [fault("flaky", { delay: { fixedDelay: "2s", percentage: 50 }, abort: { httpStatus: 503, percentage: 10 } }), fault("slow", { delay: { fixedDelay: "500ms" } }), fault("grpc", { abort: { grpcStatus: 14 } })],
      { allNamespaces: false, wide: false, now: NOW },
    );
    expect(text.split("\n").map((l) => l.trim().split(/\s{2,}/))).toEqual([
      ["NAME", "DELAY", "ABORT", "AGE"],
      ["flaky", "2s 50%", "503 10%", "60s"],
      ["slow", "500ms 100%", "<none>", "60s"],
      ["grpc", "<none>", "grpc 14 100%", "60s"],
    ]);
  });
});
