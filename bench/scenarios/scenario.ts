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

/** A scenario's own whole-number flag, e.g. --workloads 1000. */
export interface ScenarioOption {
  readonly name: string;
  readonly description: string;
  readonly default: number;
  readonly min: number;
  readonly max: number;
}

export interface ScenarioContext {
  /** Seconds each load runs. */
  readonly durationSec: number;
  /** The scenario's options (see Scenario.options), defaults filled in. */
  readonly options: Readonly<Record<string, number>>;
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
  /** Per path, the baseline its ratios are against when that is not `baseline` (e.g. netns paths against netns-direct). */
  readonly baselines?: Readonly<Record<string, string>>;
  readonly rows: readonly Row[];
  /** Fixed parameters worth recording with the figures (connections, threads, body size…). */
  readonly params: Record<string, unknown>;
  /** Table columns when they are not the traffic paths (e.g. ["target", "mesh"]); baseline first. */
  readonly columns?: readonly string[];
  /** Replaces "N s per load" in the report when the scenario's loads are not timed by --duration. */
  readonly loadNote?: string;
  /** Replaces "Ratios are against <baseline> measured in the same run" when that is not what they are. */
  readonly ratioNote?: string;
  /** Paragraphs for the Markdown report, after the table (findings, caveats). */
  readonly notes?: readonly string[];
  /**
   * The verdict against the target, written from the rows the report shows (medians of
   * every run with --repeat), not from this run's alone; appended to the notes.
   */
  readonly conclude?: (rows: readonly Row[]) => string;
}

export interface Scenario {
  readonly name: string;
  readonly description: string;
  /** Commands the scenario itself needs (paths declare their own). */
  readonly tools: readonly string[];
  /** false: the scenario carries no traffic over the paths (no path is started; --paths is refused). */
  readonly usesPaths?: boolean;
  /** The paths it measures without --paths (their testbeds' baselines added); default: every path available. */
  readonly defaultPaths?: readonly string[];
  /** Its own flags, listed by --help and passed in ctx.options. */
  readonly options?: readonly ScenarioOption[];
  run(ctx: ScenarioContext): Promise<ScenarioOutput>;
}
