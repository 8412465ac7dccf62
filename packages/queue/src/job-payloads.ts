import type { StagedManifest } from '@pv-pipeline/core';
import type { PlannedObject, RunRequest } from '@pv-pipeline/stages';

/** `plan` queue: plan one run (triggered), or a scheduled re-scan (the run is created when it fires). */
export type PlanJobData =
  | { runId: string; request: RunRequest }
  | { rescan: { systems: number[] | 'all'; days: number; format: RunRequest['format'] } };

/** `transform` queue: transform one source object (job id = hash of key + ETag). */
export interface TransformJobData {
  /** The run that first planned the object (others may share it; see RunStore). */
  runId: string;
  object: PlannedObject;
}

/** `load` queue: the loader's three kinds of work. */
export type LoadJobData =
  | { kind: 'readings'; runId: string; manifest: StagedManifest }
  | { kind: 'dimensions'; runId: string; systems: number[] }
  | {
      kind: 'finalize';
      runId: string;
      /** How many times this run's finalization failed before (see FINALIZE_REVIVALS); absent: none. */
      revived?: number;
    };

/** `cleanup` queue: staged files of one committed batch, to remove (their rows are in the sink). */
export interface CleanupJobData {
  /** Staged file references, as the manifests carry them. */
  staged: string[];
}

/** BullMQ job names, one per payload kind. */
export const JOB_NAMES = {
  plan: 'plan-run',
  transform: 'transform-object',
  readings: 'load-readings',
  dimensions: 'load-dimensions',
  finalize: 'finalize-run',
  cleanup: 'remove-staged',
} as const;
