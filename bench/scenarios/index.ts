/** Every scenario run.ts knows, in the order --help lists them. */
import { httpLatency } from "./http-latency.ts";
import type { Scenario } from "./scenario.ts";
import { tcpThroughput } from "./tcp-throughput.ts";

export const SCENARIOS: readonly Scenario[] = [tcpThroughput, httpLatency];
