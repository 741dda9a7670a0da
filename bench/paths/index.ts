/**
 * Every traffic path, each testbed's baseline first. Scenarios measure each selected path against
 * the same backend; to add one write its module and add it here. A path's ratios are against the
 * baseline of its own testbed (BASELINES), measured in the same run.
 */
import type { TestbedKind } from "../lib/testbed.ts";
import { direct, netnsDirect } from "./direct.ts";
import { haproxyTcp, netnsHaproxyTcp } from "./haproxy-tcp.ts";
import { netnsHaproxyHttp, netnsNginxHttp } from "./l7-proxies.ts";
import { haproxyMtls, netnsHaproxyMtls, netnsStunnelMtls, stunnelMtls } from "./mtls-pair.ts";
import { waypoint } from "./waypoint.ts";
import { ztunnel } from "./ztunnel.ts";
import type { TrafficPath } from "./path.ts";

export const BASELINE_PATH = direct.name;

/** The baseline path of each testbed. */
export const BASELINES: Readonly<Record<TestbedKind, string>> = { loopback: direct.name, netns: netnsDirect.name };

export const PATHS: readonly TrafficPath[] = [direct, haproxyTcp, stunnelMtls, haproxyMtls, netnsDirect, netnsHaproxyTcp, netnsStunnelMtls, netnsHaproxyMtls, netnsHaproxyHttp, netnsNginxHttp, ztunnel, waypoint];

export function testbedOf(path: TrafficPath): TestbedKind {
  return path.testbed ?? "loopback";
}

/** path name → the name of the baseline its ratios are against. */
export function baselineMap(paths: readonly TrafficPath[]): Record<string, string> {
  return Object.fromEntries(paths.map((p) => [p.name, BASELINES[testbedOf(p)]]));
}
