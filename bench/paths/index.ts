/**
 * Every traffic path, baseline first. Scenarios measure each selected path against the same
 * backend; to add one (e.g. mesh-hbone) write its module and add it here.
 */
import { direct } from "./direct.ts";
import { stunnelMtls } from "./stunnel-mtls.ts";
import type { TrafficPath } from "./path.ts";

export const BASELINE_PATH = direct.name;

export const PATHS: readonly TrafficPath[] = [direct, stunnelMtls];
