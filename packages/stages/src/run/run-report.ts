import { type DroppedCounts, noneDropped } from '@pv-pipeline/core';
import type { RunRow } from '@pv-pipeline/schema';
import type { RunRequest } from './run-request.js';

/** One object that did not load, with the reason. */
export interface ObjectFailure {
  key: string;
  reason: string;
}

/** Live counts of a run. */
export interface RunCounts {
  /** Objects listed in range (to load + skipped). */
  planned: number;
  /** Objects transformed (staged). */
  transformed: number;
  /** Objects committed to the sink. */
  loaded: number;
  /** Objects already in the ledger with the same ETag. */
  skipped: number;
  /** Objects that failed. */
  failed: number;
  /** Fact rows committed. */
  readings: number;
}

/**
 * The state of a run, the same in the CLI, the API, OpenAPI and `pv_runs`:
 * `queued` and `running` while it goes; `completed` (every object loaded or
 * skipped), `partial` (some objects failed, the others loaded), `failed` (it
 * could not run: planning failed) or `cancelled` once it is over.
 */
export const RUN_STATES = ['queued', 'running', 'completed', 'partial', 'failed', 'cancelled'] as const;
/** One of {@link RUN_STATES}. */
export type RunState = (typeof RUN_STATES)[number];

/** States of a run that is over. */
export const FINISHED_RUN_STATES: ReadonlySet<RunState> = new Set(['completed', 'partial', 'failed', 'cancelled']);

/** Whether a run in this state is over. */
export function isFinished(state: string): boolean {
  return FINISHED_RUN_STATES.has(state as RunState);
}

/**
 * What a run did, as both executors report it: `pv-pipeline run` (its
 * summary, `--json`) and the cluster's run record (`GET /api/runs/:id`).
 */
export interface RunReport {
  runId: string;
  state: RunState;
  request: RunRequest;
  counts: RunCounts;
  /** Rows removed because their object changed (or another object re-delivered their key). */
  replaced: number;
  /** Readings the reading rules dropped, by rule. */
  dropped: DroppedCounts;
  /** Objects that failed, with their reasons (a run that failed as a whole: key ''). */
  failures: ObjectFailure[];
  /** Metadata problems that did not fail the run. */
  warnings: string[];
  /** ISO instants. */
  startedAt: string | null;
  finishedAt: string | null;
}

/** The outcome of an inline run, as printed by `pv-pipeline run` (and `--json`). */
export interface RunSummary extends RunReport {
  source: string;
  sink: string;
  seconds: number;
  readingsPerSecond: number;
  /** Peak resident memory of the process so far (getrusage maxrss), MiB. */
  peakRssMb: number;
}

/** Fresh zero counts. */
export function emptyCounts(): RunCounts {
  return { planned: 0, transformed: 0, loaded: 0, skipped: 0, failed: 0, readings: 0 };
}

/** An empty report of a run that starts now. */
export function emptyReport(runId: string, request: RunRequest): RunReport {
  return {
    runId,
    state: 'running',
    request,
    counts: emptyCounts(),
    replaced: 0,
    dropped: noneDropped(),
    failures: [],
    warnings: [],
    startedAt: new Date().toISOString(),
    finishedAt: null,
  };
}

/** The state of a run whose work is over: partial when any object failed. */
export function finishedState(counts: Pick<RunCounts, 'failed'>): 'completed' | 'partial' {
  return counts.failed > 0 ? 'partial' : 'completed';
}

/** The `pv_runs` row of a finished run (both executors record runs through this one mapping). */
export function runRowOf(report: RunReport): RunRow {
  return {
    run_id: report.runId,
    state: report.state,
    request: JSON.stringify(report.request),
    planned: report.counts.planned,
    loaded: report.counts.loaded,
    skipped: report.counts.skipped,
    failed: report.counts.failed,
    readings: report.counts.readings,
    replaced: report.replaced,
    dropped: JSON.stringify(report.dropped),
    errors: report.failures.length > 0 ? JSON.stringify(report.failures) : null,
    warnings: report.warnings.length > 0 ? JSON.stringify(report.warnings) : null,
    started_at: report.startedAt,
    finished_at: report.finishedAt,
  };
}
