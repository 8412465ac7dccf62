import { DEFAULTS, describeError, isRetryable, type Logger } from '@pv-pipeline/core';
import type { ObjectStore } from '@pv-pipeline/pvdaq';
import {
  DEFAULT_PART_BYTES,
  isFinished,
  listPage,
  type PlannedObject,
  type PlanPage,
  type RunRequest,
  runPages,
  splitByLedger,
} from '@pv-pipeline/stages';
import { DelayedError, type Job, UnrecoverableError } from 'bullmq';
import type { Redis } from 'ioredis';
import { JOB_NAMES, type LoadJobData, type PlanJobData, type TransformJobData } from './job-payloads.js';
import type { LedgerCache } from './ledger-cache.js';
import { addMetrics } from './pipeline-metrics.js';
import { addFresh, type PipelineQueues } from './queues.js';
import { releasePage, removeQueuedWork } from './run-cancellation.js';
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
  /**
   * A run's planning pauses while this many of its transform jobs are
   * outstanding, and goes on as they drain. @defaultValue 10,000 (PV_PLAN_HIGH_WATER)
   */
  highWater?: number;
  /** How long a paused planning waits before it looks at the backlog again, ms. @defaultValue 1000 */
  pollMs?: number;
}

/** What a plan job did in this attempt. */
export interface PlanJobResult {
  /** The run's state when the job ended (`running` while its objects are still under way). */
  state: string;
  /** Pages planned in this attempt. */
  pages: number;
}

/** Transform jobs attached and enqueued per Redis round trip. */
const CHUNK = 500;

/**
 * The planner: plans a run page by page (a system's year or month folder, or
 * a prize folder; see runPages). Per page it lists the objects, skips those
 * the ledger has with the same ETag, attaches the run to every other object's
 * transform job (job id = hash of key + ETag, so an object already in flight
 * for an overlapping run is shared, not enqueued twice), enqueues them in bulk
 * and commits the page's counts. While the run has `highWater` objects
 * outstanding the job steps aside (delayed) and plans on as the queue drains,
 * so neither the planner nor Redis holds more than a page and the
 * outstanding jobs, whatever the run's size. A cancelled run stops at the
 * next page.
 */
export function createPlanProcessor(deps: PlanProcessorDeps) {
  const highWater = deps.highWater ?? DEFAULTS.planHighWater;
  const pollMs = deps.pollMs ?? 1000;
  const partBytes = deps.partBytes ?? DEFAULT_PART_BYTES;
  return async (job: Job<PlanJobData>, token?: string): Promise<PlanJobResult> => {
    const { runId, request } = await resolveRun(job, deps.runs);
    const logger = deps.logger.child({ run: runId, job: job.id });
    let planned = 0;
    try {
      if (job.stalledCounter > 0) {
        await deps.runs.recordPlanRetry(runId, `stall:${job.stalledCounter}`, 'plan: planner lost mid-job (stalled)');
      }
      let progress = await deps.runs.progress(runId);
      if (progress.state === 'queued') await deps.runs.start(runId);
      else if (progress.state !== 'running') {
        // finished by an earlier attempt that died before its run's finalization was enqueued
        const run = await deps.runs.get(runId);
        if (run && isFinished(run.state) && !run.recorded) await enqueueFinalize(deps.queues, runId);
        return { state: progress.state, pages: 0 };
      }
      const pages =
        (await deps.runs.pages(runId)) ?? (await deps.runs.savePages(runId, await runPages(deps.store, request)));
      for (;;) {
        progress = await deps.runs.progress(runId);
        if (progress.state !== 'running') {
          // cancelled while this page was enqueued: what it enqueued goes too
          if (progress.state === 'cancelled') await removeQueuedWork(deps.runs, deps.queues, runId);
          logger.info({ state: progress.state, page: progress.page }, 'planning stopped');
          return { state: progress.state, pages: planned };
        }
        if (progress.page >= pages.length) break;
        if (progress.outstanding >= highWater) {
          // step aside until the queue drains; a delayed job keeps its attempts
          logger.debug(
            { outstanding: progress.outstanding, page: progress.page },
            'planning paused at the high-water mark',
          );
          await job.moveToDelayed(Date.now() + pollMs, token);
          throw new DelayedError();
        }
        await planPage(deps, { runId, request, partBytes }, progress.page, pages[progress.page]!);
        planned++;
      }
      if (await deps.runs.finishPlanning(runId)) await enqueueFinalize(deps.queues, runId);
      logger.info({ pages: pages.length }, 'planned');
      return { state: (await deps.runs.progress(runId)).state, pages: planned };
    } catch (err) {
      if (err instanceof DelayedError) throw err;
      const last = !isRetryable(err) || job.attemptsMade + 1 >= (job.opts.attempts ?? 1);
      logger.error({ err: describeError(err), last }, 'planning failed');
      if (last) {
        await deps.runs.fail(runId, `planning failed: ${describeError(err)}`);
        await releasePage(deps.runs, deps.queues, runId, false);
        await enqueueFinalize(deps.queues, runId); // recorded in the sink, as every finished run
        throw new UnrecoverableError(describeError(err));
      }
      await deps.runs.recordPlanRetry(runId, `attempt:${job.attemptsMade}`, `plan: ${describeError(err)}`);
      throw err;
    }
  };
}

/**
 * Plans one page: its plan (listing split by the ledger) is kept until the
 * page is committed, so that an attempt redoing the page after a crash plans
 * the same objects, attaches none twice and counts the page once.
 */
async function planPage(
  deps: PlanProcessorDeps,
  run: { runId: string; request: RunRequest; partBytes: number },
  n: number,
  page: PlanPage,
): Promise<void> {
  const { runId, request } = run;
  let plan = await deps.runs.pagePlan(runId, n);
  if (!plan) {
    const objects = await listPage(deps.store, request, page, run.partBytes);
    const cached = await deps.ledger.get(objects.map((o) => o.key));
    // every ledger key of the prize folder, so that parts a file no longer has are retired
    if (request.format === 'prize') for (const [k, v] of await deps.ledger.under(page.prefix)) cached.set(k, v);
    const { toLoad, skipped } = splitByLedger(objects, cached);
    plan = { page: n, toLoad, skipped: skipped.length };
    // an empty page (most months of a long range) needs no plan kept: a redo lists it again
    if (toLoad.length + skipped.length > 0) await deps.runs.savePagePlan(runId, plan);
  }
  if (plan.toLoad.length + plan.skipped > 0) {
    // the system's dimensions, once per run (a job of that id still kept makes this a no-op)
    const data: LoadJobData = { kind: 'dimensions', runId, systems: [page.ssId] };
    await deps.queues.load.add(JOB_NAMES.dimensions, data, { jobId: `d-${runId}-${page.ssId}` });
  }
  // Attach first, then enqueue: an outcome reported in between still reaches this run.
  for (let i = 0; i * CHUNK < plan.toLoad.length; i++) {
    const part = plan.toLoad.slice(i * CHUNK, (i + 1) * CHUNK);
    const waiting = new Set(
      await deps.runs.attach(
        runId,
        n,
        i,
        part.map((o) => transformJobId(o.key, o.etag)),
      ),
    );
    await enqueueTransforms(
      deps.queues,
      deps.metrics.redis,
      runId,
      part.filter((o) => waiting.has(transformJobId(o.key, o.etag))),
    );
  }
  if (await deps.runs.commitPage(runId, n, plan.toLoad.length + plan.skipped, plan.skipped))
    await addMetrics(deps.metrics.redis, deps.metrics.prefix, { objects_skipped: plan.skipped });
}

/**
 * Enqueues objects' transforms in bulk. An object whose job is still kept
 * goes the careful way ({@link enqueueTransform}); the others (nearly all)
 * are added in one round trip.
 */
export async function enqueueTransforms(
  queues: PipelineQueues,
  redis: Redis,
  runId: string,
  objects: readonly PlannedObject[],
): Promise<void> {
  if (objects.length === 0) return;
  const ids = objects.map((o) => transformJobId(o.key, o.etag));
  const pipeline = redis.pipeline();
  for (const id of ids) pipeline.exists(queues.transform.toKey(id));
  const kept = ((await pipeline.exec()) ?? []).map(([, n]) => n === 1);
  const fresh = objects.filter((_, i) => !kept[i]);
  await queues.transform.addBulk(
    fresh.map((object) => ({
      name: JOB_NAMES.transform,
      data: { runId, object },
      opts: { jobId: transformJobId(object.key, object.etag) },
    })),
  );
  for (const object of objects.filter((_, i) => kept[i])) await enqueueTransform(queues, redis, { runId, object });
}

/** How long a job whose outcome was just given may take to be marked finished, ms. */
const FINISHING_MS = 60_000;

/**
 * Enqueues an object's transform unless its work is still under way: a
 * waiting or active transform, or a finished transform whose load is pending,
 * will report its outcome to the runs attached to it. A job that already gave
 * its outcome (marked `pvOutcome`, see RunStore.recordOutcome) but is not yet
 * marked finished will not report again: the object is enqueued again once it
 * is (at most {@link FINISHING_MS} later), or this run would wait for nothing.
 */
async function enqueueTransform(queues: PipelineQueues, redis: Redis, data: TransformJobData): Promise<void> {
  const { key, etag } = data.object;
  const id = transformJobId(key, etag);
  const loadId = loadJobId(key, etag);
  const gaveOutcome = async (queue: { toKey(id: string): string }, jobId: string) =>
    (await redis.hexists(queue.toKey(jobId), 'pvOutcome')) === 1;
  const pending = async (): Promise<'transform' | 'load' | null> => {
    const transform = await queues.transform.getJobState(id);
    if (transform === 'active') return 'transform';
    if (transform !== 'completed') return null;
    const load = await queues.load.getJobState(loadId);
    return load === 'completed' || load === 'failed' || load === 'unknown' ? null : 'load';
  };
  let busy = await pending();
  if (busy === 'transform' && !(await gaveOutcome(queues.transform, id))) return;
  if (busy === 'load' && !(await gaveOutcome(queues.load, loadId))) return;
  const deadline = Date.now() + FINISHING_MS;
  while (busy !== null && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 100));
    busy = await pending();
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
