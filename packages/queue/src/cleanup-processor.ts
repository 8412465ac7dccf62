import type { StagingArea } from '@pv-pipeline/stages';
import type { Job } from 'bullmq';
import type { CleanupJobData } from './job-payloads.js';

/**
 * The workers' cleanup processor: removes a committed batch's staged files
 * (the loader's job in the `cleanup` queue, one per batch). A file already
 * gone is fine, so a job redone after a lost worker removes nothing twice; a
 * failed request is retried by BullMQ, and a job failed for good leaves only
 * files no manifest refers to any more.
 */
export function createCleanupProcessor(staging: StagingArea) {
  return async (job: Job<CleanupJobData>): Promise<{ removed: number }> => {
    await staging.remove(job.data.staged);
    return { removed: job.data.staged.length };
  };
}
