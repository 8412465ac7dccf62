import type { ServiceConfig } from '@pv-pipeline/core';
import type { WorkerOptions } from 'bullmq';
import type { Redis } from 'ioredis';
import { DEFAULT_TUNING, type QueueTuning } from './job-options.js';

/** Queue tuning from the service configuration. */
export function tuningFrom(config: ServiceConfig): QueueTuning {
  return { ...DEFAULT_TUNING, attempts: config.PV_JOB_ATTEMPTS, backoffMs: config.PV_JOB_BACKOFF_MS };
}

/** BullMQ worker options shared by the roles. */
export function workerOptions(config: ServiceConfig, connection: Redis, concurrency: number): WorkerOptions {
  return {
    connection,
    prefix: config.PV_QUEUE_PREFIX,
    concurrency,
    lockDuration: config.PV_LOCK_DURATION_MS,
    stalledInterval: config.PV_STALLED_INTERVAL_MS,
    // a job whose worker died twice is still tried again, a third stall fails it
    maxStalledCount: 2,
  };
}

/**
 * Concurrency of the loader's BullMQ worker for batches of `batchObjects`: a readings job stays
 * active until its batch commits, so there must be room for one batch committing, the next one
 * filling, and a few dimension and finalize jobs besides.
 */
export function loadWorkerConcurrency(batchObjects: number): number {
  return 2 * batchObjects + 16;
}
