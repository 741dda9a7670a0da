/** Every scenario run.ts knows, in the order --help lists them. */
import { caSign } from "./ca-sign.ts";
import { connectionRate } from "./connection-rate.ts";
import { httpFixedRate } from "./http-fixed-rate.ts";
import { httpLatency } from "./http-latency.ts";
import { idleRss } from "./idle-rss.ts";
import type { Scenario } from "./scenario.ts";
import { tcpThroughput } from "./tcp-throughput.ts";
import { waypointHttp } from "./waypoint-http.ts";
import { xdsScale } from "./xds-scale.ts";

export const SCENARIOS: readonly Scenario[] = [tcpThroughput, httpLatency, httpFixedRate, connectionRate, idleRss, xdsScale, caSign, waypointHttp];
