import { describe, expect, test } from "bun:test";
import { bookinfoView, productpage, productpageService, reviews, reviewsService, sleep, waypointA, waypointB, waypointService } from "./bookinfo.test-support.ts";
import { identityOf, MeshState } from "./mesh-state.ts";

const state = new MeshState(bookinfoView);

describe("MeshState indexes", () => {
  test("workload by address", () => {
    expect(state.workloadAt("10.0.1.10")).toBe(sleep);
    expect(state.workloadAt("10.9.9.9")).toBeUndefined();
  });
  test("service by VIP, by name, by key", () => {
    expect(state.serviceAt("10.96.0.20")).toBe(productpageService);
    expect(state.serviceNamed("bookinfo", "reviews")).toBe(reviewsService);
    expect(state.serviceByKey("bookinfo/waypoint.bookinfo.svc.cluster.local")).toBe(waypointService);
    expect(state.serviceAt("10.96.9.9")).toBeUndefined();
  });
  test("endpoints of a service", () => {
    expect(state.endpointsOf(reviewsService)).toEqual([reviews]);
    expect(state.endpointsOf(waypointService)).toEqual([waypointA, waypointB]);
  });
  test("the service a workload serves on a target port", () => {
    expect(state.serviceServedOn(productpage, 8080)).toBe(productpageService);
    expect(state.serviceServedOn(productpage, 9999)).toBeUndefined();
  });
  test("identity of a workload, formatted once per view", () => {
    expect(identityOf(sleep)).toBe("spiffe://cluster.local/ns/bookinfo/sa/sleep");
    expect(identityOf(sleep)).toBe(identityOf(sleep));
  });
});
