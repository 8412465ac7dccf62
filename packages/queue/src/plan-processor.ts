import { describeError, isRetryable, type Logger } from '@pv-pipeline/core';
import { type ObjectStore, PRIZE_PREFIX } from '@pv-pipeline/pvdaq';
import { listRunObjects, type RunRequest, splitByLedger } from '@pv-pipeline/stages';
import { type Job, UnrecoverableError } from 'bullmq';
import type { Redis } from 'ioredis';
import { JOB_NAMES, type PlanJobData, type TransformJobData } from './job-payloads.js';
import type { LedgerCache } from './ledger-cache.js';
import { addMetrics } from './pipeline-metrics.js';
import { addFresh, type PipelineQueues } from './queues.js';
import { enqueueFinalize } from './run-finalization.js';
import type { RunStore } from './run-store.js';
import { loadJobId, transformJobId } from './transform-job-id.js';

/** What the planner needs. */
export interface PlanProcessorDeps {
  store: ObjectStore;
  runs: RunStore;
  ledger: LedgerCache;
  queues: PipelineQueues;
  logger: Logger;
  /** Where the deployment's totals are kept (`pv_objects_skipped_total`): its Redis and key prefix. */
  metrics: { redis: Redis; prefix: string };
  /** Largest byte range of a prize CSV planned as one transform job. @defaultValue 16 MiB */
  partBytes?: number;
}

/**
 * The planner: lists a run's objects, skips those the ledger has with the same
 * ETag, attaches the run to the transform job of every other object (job id =
 * hash of key + ETag, so an object already in flight for an overlapping run is
 * shared, not enqueued twice) and asks the loader to refresh the dimensions.
 */
export function createPlanProcessor(deps: PlanProcessorDeps) {
  return async (job: Job<PlanJobData>): Promise<{ planned: number; toLoad: number; skipped: number }> => {
    const { runId, request } = await resolveRun(job, deps.runs);
    const logger = deps.logger.child({ run: runId, job: job.id });
    try {
      if (job.stalledCounter > 0) {
        await deps.runs.recordPlanRetry(runId, `stall:${job.stalledCounter}`, 'plan: planner lost mid-job (stalled)');
      }
      await deps.runs.start(runId);
      const { objects, systems } = await listRunObjects(deps.store, request, {
        ...(deps.partBytes ? { partBytes: deps.partBytes } : {}),
      });
      const cached = await deps.ledger.get(objects.map((o) => o.key));
      // every prize key the ledger has, so that parts a file no longer has are retired
      if (request.format === 'prize')
        for (const [k, v] of await deps.ledger.matching(`${PRIZE_PREFIX}*`)) cached.set(k, v);
      const { toLoad, skipped } = splitByLedger(objects, cached);
      await deps.runs.skip(
        runId,
        skipped.map((o) => o.key),
      );
      await addMetrics(deps.metrics.redis, deps.metrics.prefix, { objects_skipped: skipped.length });
      await addFresh(deps.queues.load, JOB_NAMES.dimensions, { kind: 'dimensions', runId, systems }, `d-${runId}`);
      // Attach first, then enqueue: an outcome reported in between still reaches this run.
      for (let i = 0; i < toLoad.length; i += 500) {
        const part = toLoad.slice(i, i + 500);
        await deps.runs.attach(
          runId,
          part.map((o) => transformJobId(o.key, o.etag)),
        );
        for (const o of part) await enqueueTransform(deps.queues, { runId, object: o });
      }
      const planned = toLoad.length + skipped.length; // retired prize parts included
      const done = await deps.runs.finishPlanning(runId, planned);
      if (done) await enqueueFinalize(deps.queues, runId);
      logger.info({ planned, toLoad: toLoad.length, skipped: skipped.length }, 'planned');
      return { planned, toLoad: toLoad.length, skipped: skipped.length };
    } catch (err) {
      const last = !isRetryable(err) || job.attemptsMade + 1 >= (job.opts.attempts ?? 1);
      logger.error({ err: describeError(err), last }, 'planning failed');
      if (last) {
        await deps.runs.fail(runId, `planning failed: ${describeError(err)}`);
        await enqueueFinalize(deps.queues, runId); // recorded in the sink, as every finished run
        throw new UnrecoverableError(describeError(err));
      }
      await deps.runs.recordPlanRetry(runId, `attempt:${job.attemptsMade}`, `plan: ${describeError(err)}`);
      throw err;
    }
  };
}

/**
 * Enqueues an object's transform unless its work is still under way: a
 * waiting or active transform, or a finished transform whose load is pending,
 * will report its outcome to the runs attached to it.
 */
async function enqueueTransform(queues: PipelineQueues, data: TransformJobData): Promise<void> {
  const { key, etag } = data.object;
  const id = transformJobId(key, etag);
  if ((await queues.transform.getJobState(id)) === 'completed') {
    const load = await queues.load.getJobState(loadJobId(key, etag));
    if (load !== 'completed' && load !== 'failed' && load !== 'unknown') return;
  }
  await addFresh(queues.transform, JOB_NAMES.transform, data, id);
}

/** The run of a plan job; a scheduled re-scan creates its run (last N days up to today, UTC) here. */
async function resolveRun(job: Job<PlanJobData>, runs: RunStore): Promise<{ runId: string; request: RunRequest }> {
  const data = job.data;
  if ('runId' in data) return data;
  const runId = `rescan-${job.id!.replace(/[^A-Za-z0-9-]/g, '-')}`;
  const today = new Date();
  const from = new Date(today.getTime() - (data.rescan.days - 1) * 86_400_000);
  const request: RunRequest = {
    systems: data.rescan.systems,
    from: from.toISOString().slice(0, 10),
    to: today.toISOString().slice(0, 10),
    format: data.rescan.format,
  };
  if (!(await runs.get(runId))) await runs.create(runId, request);
  return { runId, request };
}
