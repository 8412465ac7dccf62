import type { RunState } from '@pv-pipeline/stages';
import type { PipelineQueues } from './queues.js';
import { enqueueFinalize } from './run-finalization.js';
import type { RunStore } from './run-store.js';
import { transformJobId } from './transform-job-id.js';

/** What cancelling a run did. */
export interface Cancellation {
  /** The state the run had: only `queued` and `running` runs are cancelled. */
  was: RunState;
  /** Queued transform jobs removed (no other run waited for them). */
  removed: number;
}

/** Queued job ids looked at per Redis round trip. */
const SCAN = 1000;

/**
 * Cancels a queued or running run: it becomes `cancelled`, its planning stops
 * at the next page, and its queued transform jobs that no other run waits for
 * are removed. Jobs already running finish, and what they load stays loaded
 * (and in the ledger, under this run's id). The run is then recorded in the
 * sink like any finished run, and recorded again as those jobs finish: each
 * outcome counts for the job's own run even when cancellation detached it
 * meanwhile (see {@link RunStore.recordOutcome}). Resolves null for an
 * unknown run; a finished run is left as it is.
 */
export async function cancelRun(runs: RunStore, queues: PipelineQueues, runId: string): Promise<Cancellation | null> {
  const was = await runs.cancel(runId);
  if (was === null) return null;
  if (was !== 'queued' && was !== 'running') return { was, removed: 0 };
  const plan = await queues.plan.getJob(runId);
  // a plan job that waits (or is delayed at the high-water mark) goes; a running one stops by itself
  if (plan && (await plan.isActive()) === false) await plan.remove().catch(() => {});
  const removed = await removeQueuedWork(runs, queues, runId);
  await enqueueFinalize(queues, runId);
  return { was, removed };
}

/**
 * Detaches a cancelled run from every queued transform job and removes the
 * jobs no run waits for any more. A job another run attached to in the
 * meantime is put back. A job a worker took between the detach and the
 * removal runs for the cancelled run: the detach is remembered, so that its
 * outcome still counts for that run. Resolves with the number removed.
 */
export async function removeQueuedWork(runs: RunStore, queues: PipelineQueues, runId: string): Promise<number> {
  const ids = await queues.transform.getRanges(['wait', 'prioritized', 'delayed'], 0, -1);
  let removed = 0;
  for (let i = 0; i < ids.length; i += SCAN) {
    const gone: string[] = [];
    for (const id of await runs.detach(runId, ids.slice(i, i + SCAN), true)) {
      const job = await queues.transform.getJob(id);
      if (!job) continue;
      // a job taken by a worker meanwhile is locked: it runs to its end (and counts for this run)
      if ((await queues.transform.remove(id)) !== 1) continue;
      // attached by an overlapping run since the detach: that run still needs it (and is the job's run now)
      const waiting = await runs.waitingRuns(id);
      if (waiting.length > 0) await queues.transform.add(job.name, { ...job.data, runId: waiting[0]! }, { jobId: id });
      else gone.push(id);
    }
    // removed for good: no outcome will come, so nothing is to be credited
    await runs.forgetDetached(gone);
    removed += gone.length;
  }
  // then the page being planned: objects attached whose jobs were never enqueued wait for nothing
  await releasePage(runs, queues, runId, true);
  return removed;
}

/**
 * Detaches a run that stops planning (cancelled, or its planning failed) from
 * the objects of the page it was planning: all of them (`all`), or those whose
 * transform job was never enqueued, which would otherwise keep their
 * attachment forever. A job that exists may still run for the run: that
 * detach is remembered (see {@link RunStore.detach}).
 */
export async function releasePage(runs: RunStore, queues: PipelineQueues, runId: string, all: boolean): Promise<void> {
  const plan = await runs.currentPagePlan(runId);
  if (!plan) return;
  const unqueued: string[] = [];
  const queued: string[] = [];
  for (const o of plan.toLoad) {
    const id = transformJobId(o.key, o.etag);
    if ((await queues.transform.getJobState(id)) === 'unknown') unqueued.push(id);
    else if (all) queued.push(id);
  }
  for (let i = 0; i < unqueued.length; i += SCAN) await runs.detach(runId, unqueued.slice(i, i + SCAN));
  for (let i = 0; i < queued.length; i += SCAN) await runs.detach(runId, queued.slice(i, i + SCAN), true);
}
