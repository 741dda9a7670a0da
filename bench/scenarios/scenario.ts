/**
 * The scenario interface. A scenario starts its backend, measures every selected path with a load
 * tool (see paths/measure.ts) and returns rows plus the name of the baseline path; the harness
 * (run.ts) computes ratios, prints and writes the results.
 *
 * Invariant: every load is bounded in time (ctx.durationSec plus a hard kill deadline) and in
 * concurrency, targets loopback only, and every process is started through ctx.scope.
 */
import type { CertSet } from "../lib/certs.ts";
import type { Row } from "../lib/rows.ts";
import type { Scope } from "../lib/scope.ts";
import type { TrafficPath } from "../paths/path.ts";

export interface ScenarioContext {
  /** Seconds each load runs. */
  readonly durationSec: number;
  /** Closed when run() returns or throws. */
  readonly scope: Scope;
  /** A private temp dir, removed with the scope. */
  readonly tmpDir: string;
  /** The paths to measure, baseline first. */
  readonly paths: readonly TrafficPath[];
  certs(): Promise<CertSet>;
  log(message: string): void;
}

export interface ScenarioOutput {
  readonly baseline: string;
  readonly rows: readonly Row[];
  /** Fixed parameters worth recording with the figures (connections, threads, body size…). */
  readonly params: Record<string, unknown>;
}

export interface Scenario {
  readonly name: string;
  readonly description: string;
  /** Commands the scenario itself needs (paths declare their own). */
  readonly tools: readonly string[];
  run(ctx: ScenarioContext): Promise<ScenarioOutput>;
}
