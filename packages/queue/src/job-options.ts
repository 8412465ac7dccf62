import type { DefaultJobOptions } from 'bullmq';

/** Retention and retry settings shared by every queue. */
export interface QueueTuning {
  /** Tries of a job that fails with a retryable error. @defaultValue 5 */
  attempts: number;
  /** First backoff delay in ms (exponential, ±50 % jitter). @defaultValue 1000 */
  backoffMs: number;
  /** Completed jobs kept: at most this many seconds … @defaultValue 3600 */
  keepCompletedSeconds: number;
  /** … and at most this many jobs. @defaultValue 10,000 */
  keepCompletedCount: number;
  /** Failed jobs kept for this many seconds (default 7 days) and at most this many (default 10,000). */
  keepFailedSeconds: number;
  keepFailedCount: number;
  /** Length cap of each queue's events stream. @defaultValue 10,000 */
  eventsMaxLen: number;
}

/** The defaults of {@link QueueTuning}. */
export const DEFAULT_TUNING: QueueTuning = {
  attempts: 5,
  backoffMs: 1000,
  keepCompletedSeconds: 3600,
  keepCompletedCount: 10_000,
  keepFailedSeconds: 7 * 86_400,
  keepFailedCount: 10_000,
  eventsMaxLen: 10_000,
};

/** BullMQ default job options from a tuning. */
export function defaultJobOptions(t: QueueTuning): DefaultJobOptions {
  return {
    attempts: t.attempts,
    backoff: { type: 'exponential', delay: t.backoffMs, jitter: 0.5 },
    removeOnComplete: { age: t.keepCompletedSeconds, count: t.keepCompletedCount },
    removeOnFail: { age: t.keepFailedSeconds, count: t.keepFailedCount },
  };
}
