import { BadInputError, isRetryable } from '@pv-pipeline/core';
import type { Worker } from 'bullmq';
import type { Redis } from 'ioredis';

/** Why an object failed for good, as `pv_object_failures_total{reason}` counts it. */
export const FAILURE_REASONS = ['bad_input', 'retries_exhausted', 'stalled_out', 'permanent'] as const;
/** One of {@link FAILURE_REASONS}. */
export type FailureReason = (typeof FAILURE_REASONS)[number];

/** Totals the API exposes on /metrics, kept in one Redis hash (`<prefix>:metrics`) by every service. */
export type MetricField =
  | 'readings_loaded'
  | 'objects_loaded'
  | 'objects_failed'
  | 'objects_skipped'
  | 'jobs_stalled'
  | `failed_${FailureReason}`;

/** Adds to the shared totals. */
export async function addMetrics(
  redis: Redis,
  prefix: string,
  inc: Partial<Record<MetricField, number>>,
): Promise<void> {
  const m = redis.multi();
  for (const [field, n] of Object.entries(inc)) if (n) m.hincrby(`${prefix}:metrics`, field, n);
  await m.exec();
}

/** The failure class of an object's last error: bad input, a transient fault tried too often, or anything else. */
export function failureReason(err: unknown): FailureReason {
  if (err instanceof BadInputError) return 'bad_input';
  return isRetryable(err) ? 'retries_exhausted' : 'permanent';
}

/** Counts one object failed for good, by reason. */
export function addFailure(redis: Redis, prefix: string, reason: FailureReason): Promise<void> {
  return addMetrics(redis, prefix, { objects_failed: 1, [`failed_${reason}`]: 1 });
}

/**
 * Counts the jobs a worker finds stalled (`pv_jobs_stalled_total`): the stall
 * check runs in one worker at a time, so each stalled job is counted once.
 */
export function countStalledJobs(worker: Worker, redis: Redis, prefix: string): void {
  worker.on('stalled', () => {
    addMetrics(redis, prefix, { jobs_stalled: 1 }).catch(() => undefined); // a lost count, never a crash
  });
}
