import { describeError, type Logger } from '@pv-pipeline/core';
import type { Job } from 'bullmq';
import { JOB_NAMES, type LoadJobData } from './job-payloads.js';
import { addFresh, type PipelineQueues } from './queues.js';
import type { RunStore } from './run-store.js';

/**
 * How many times a finalize job that failed (its loader kept dying on it, or
 * the sink kept refusing the run's row) is enqueued again before the run is
 * left unrecorded in the sink, which the loader then logs as an error.
 */
export const FINALIZE_REVIVALS = 3;

/**
 * Enqueues the loader's job that records a finished run in the sink and lets
 * its Redis keys expire (job id `f-<run>`; a finished job of that id is
 * replaced, a waiting one serves). While that job is active it may have read
 * the run already: another one (`f-<run>-again-<ms>`) records the run after it,
 * so that a count that changed meanwhile (a cancelled run's job finishing) is
 * never left out of the sink's row.
 *
 * @param revived how many times this run's finalization failed before
 */
export async function enqueueFinalize(queues: PipelineQueues, runId: string, revived = 0): Promise<void> {
  const data: LoadJobData = revived > 0 ? { kind: 'finalize', runId, revived } : { kind: 'finalize', runId };
  const id = `f-${runId}`;
  const state = await queues.load.getJobState(id);
  if (state === 'active') {
    await queues.load.add(JOB_NAMES.finalize, data, { jobId: `${id}-again-${Date.now()}` });
    return;
  }
  await addFresh(queues.load, JOB_NAMES.finalize, data, id, state);
}

/**
 * Enqueues finalization of every finished run that was never recorded (run by
 * the loader at start-up: a finalize job lost with Redis' data, or failed for
 * good while no loader was left to notice). Resolves with those runs' ids.
 */
export async function finalizeUnrecorded(runs: RunStore, queues: PipelineQueues): Promise<string[]> {
  const ids = await runs.unrecorded();
  for (const id of ids) await enqueueFinalize(queues, id);
  return ids;
}

/**
 * A `failed` listener for the loader's worker: a finalize job that failed
 * (stalled out, or out of attempts) is enqueued again, at most
 * {@link FINALIZE_REVIVALS} times, so that a finished run is still recorded
 * in the sink once the fault has passed.
 */
export function createFinalizeRevival(deps: {
  queues: PipelineQueues;
  logger: Logger;
}): (job: Job<LoadJobData> | undefined, err: Error) => void {
  const revive = async (job: Job<LoadJobData>, runId: string, revived: number, err: Error): Promise<void> => {
    // 'failed' also fires for an attempt that will be retried: only a job failed for good is revived
    if ((await deps.queues.load.getJobState(job.id ?? `f-${runId}`)) !== 'failed') return;
    if (revived >= FINALIZE_REVIVALS) {
      deps.logger.error(
        { run: runId, err: err.message, revived },
        'run not recorded in the sink: its finalization kept failing',
      );
      return;
    }
    await enqueueFinalize(deps.queues, runId, revived + 1);
    deps.logger.warn({ run: runId, err: err.message, revived: revived + 1 }, 'run finalization failed; enqueued again');
  };
  return (job, err) => {
    if (job?.data.kind !== 'finalize') return;
    const { runId } = job.data;
    revive(job, runId, job.data.revived ?? 0, err).catch((e) =>
      deps.logger.error({ run: runId, err: describeError(e) }, 'could not enqueue the run finalization again'),
    );
  };
}
