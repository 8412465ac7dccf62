/**
 * Plans a synthetic archive through the real planner (createPlanProcessor)
 * and a real Redis, in a process of its own so that its peak RSS is the
 * planner's: `tsx test/load/plan-synthetic.ts --redis URL --systems N --days D
 * [--high-water H] [--cancel-at N]`. Prints one JSON line of figures.
 *
 * The store is a SyntheticStore (a test double of the store interface only).
 * Nothing transforms: each time the planner steps aside at its high-water
 * mark, the harness settles every queued transform job as loaded (the outcome
 * a worker and the loader would report) and removes it, as the cluster's
 * workers drain the queue, and the plan job is taken again.
 */
import { parseArgs } from 'node:util';
import { createLogger } from '@pv-pipeline/core';
import {
  cancelRun,
  createPlanProcessor,
  createRedisConnection,
  DEFAULT_TUNING,
  enqueueFinalize,
  LedgerCache,
  openQueues,
  type PlanJobData,
  RunStore,
} from '@pv-pipeline/queue';
import { DelayedError, type Job } from 'bullmq';
import { SyntheticStore } from '../support/synthetic-store.js';

/** What one planning reports. */
export interface PlanningFigures {
  objects: number;
  highWater: number;
  /** The run's record at the end. */
  state: string;
  planned: number;
  loaded: number;
  pages: number;
  pagesDone: number;
  /** Times the planner stepped aside at the high-water mark. */
  pauses: number;
  /** Most transform jobs queued at once. */
  peakQueued: number;
  /** Wall and CPU seconds of the planner's own work (draining excluded). */
  planSeconds: number;
  planCpuSeconds: number;
  /** Planned objects per second of planner wall time. */
  objectsPerSecond: number;
  /** Peak RSS of this process (planner + harness), MB. */
  peakRssMb: number;
  /** Redis `used_memory_peak` at the end, MB (its baseline included). */
  redisPeakMb: number;
  /** Redis `used_memory` before the run, MB. */
  redisBaseMb: number;
  /** Redis command round trips per planned object (INFO commandstats total / objects). */
  redisCallsPerObject: number;
  /** Queued transform jobs the cancel removed. */
  removedByCancel: number;
  /** After the run: transform jobs still queued, object hashes left, and whether finalization was enqueued. */
  leftQueued: number;
  leftObjectHashes: number;
  finalizeEnqueued: boolean;
}

const mb = (bytes: number) => Math.round((bytes / 1024 / 1024) * 10) / 10;

async function redisInfo(redis: ReturnType<typeof createRedisConnection>) {
  const mem = await redis.info('memory');
  const stats = await redis.info('stats');
  const field = (text: string, name: string) => Number(new RegExp(`^${name}:(\\d+)`, 'm').exec(text)?.[1] ?? 0);
  return {
    used: field(mem, 'used_memory'),
    peak: field(mem, 'used_memory_peak'),
    commands: field(stats, 'total_commands_processed'),
  };
}

/** Plans `systems × days` synthetic objects (see the file's comment) and reports the figures. */
export async function planSynthetic(opts: {
  redisUrl: string;
  systems: number;
  days: number;
  highWater: number;
  cancelAt?: number;
}): Promise<PlanningFigures> {
  const prefix = '{pvplan}';
  const redis = createRedisConnection(opts.redisUrl, { blocking: false });
  const queues = openQueues(redis, prefix, DEFAULT_TUNING);
  const runs = new RunStore(redis, prefix);
  const store = new SyntheticStore({ systems: opts.systems, daysPerSystem: opts.days });
  const base = await redisInfo(redis);
  const runId = 'plan-synthetic';
  const request = { systems: 'all' as const, from: '2015-01-01', to: store.lastDay, format: 'parquet' as const };
  await runs.create(runId, request);
  const plan = createPlanProcessor({
    store,
    runs,
    ledger: new LedgerCache(redis, prefix),
    queues,
    logger: createLogger({ service: 'plan-synthetic' }, { level: 'silent' }),
    metrics: { redis, prefix },
    highWater: opts.highWater,
  });
  const job = {
    id: runId,
    data: { runId, request },
    attemptsMade: 0,
    opts: { attempts: 3 },
    stalledCounter: 0,
    moveToDelayed: async () => {},
  } as unknown as Job<PlanJobData>;
  let pauses = 0;
  let peakQueued = 0;
  let wall = 0;
  let cpu = 0;
  let cancelled = false;
  let removedByCancel = 0;
  /** What the workers and the loader would do: every queued object loaded, its job gone, finished runs finalized. */
  const settleQueued = async () => {
    const ids = await queues.transform.getRanges(['wait'], 0, -1);
    peakQueued = Math.max(peakQueued, ids.length);
    for (let i = 0; i < ids.length; i += 1000) {
      const done = await Promise.all(
        ids.slice(i, i + 1000).map((id) => runs.recordOutcome(id, '', 'loaded', { rows: 1 })),
      );
      for (const r of done.flat()) await enqueueFinalize(queues, r);
    }
    await queues.transform.drain();
  };
  for (;;) {
    const t0 = performance.now();
    const c0 = process.cpuUsage();
    let stepped = false;
    try {
      await plan(job);
    } catch (err) {
      if (!(err instanceof DelayedError)) throw err;
      stepped = true;
    }
    wall += performance.now() - t0;
    const c = process.cpuUsage(c0);
    cpu += (c.user + c.system) / 1000;
    if (!stepped) break;
    pauses++;
    // cancelled with a queue full of its jobs: they must go, the loaded ones stay counted
    if (opts.cancelAt !== undefined && !cancelled && (await runs.get(runId))!.counts.planned >= opts.cancelAt) {
      removedByCancel = (await cancelRun(runs, queues, runId))?.removed ?? 0;
      cancelled = true;
    }
    await settleQueued();
  }
  await settleQueued();
  const run = (await runs.get(runId))!;
  const end = await redisInfo(redis);
  const objectHashes = await redis.keys(`${prefix}:obj:*`);
  const figures: PlanningFigures = {
    objects: store.size,
    highWater: opts.highWater,
    state: run.state,
    planned: run.counts.planned,
    loaded: run.counts.loaded,
    pages: run.planning.pages,
    pagesDone: run.planning.pagesDone,
    pauses,
    peakQueued,
    planSeconds: Math.round(wall) / 1000,
    planCpuSeconds: Math.round(cpu) / 1000,
    objectsPerSecond: Math.round(run.counts.planned / (wall / 1000)),
    peakRssMb: mb(process.resourceUsage().maxRSS * 1024),
    redisPeakMb: mb(end.peak),
    redisBaseMb: mb(base.used),
    redisCallsPerObject: Math.round(((end.commands - base.commands) / Math.max(1, run.counts.planned)) * 100) / 100,
    removedByCancel,
    leftQueued: (await queues.transform.getRanges(['wait', 'delayed', 'prioritized'], 0, -1)).length,
    leftObjectHashes: objectHashes.length,
    finalizeEnqueued: (await queues.load.getJob(`f-${runId}`)) !== undefined,
  };
  await queues.close();
  redis.disconnect();
  return figures;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const { values } = parseArgs({
    options: {
      redis: { type: 'string' },
      systems: { type: 'string' },
      days: { type: 'string' },
      'high-water': { type: 'string', default: '10000' },
      'cancel-at': { type: 'string' },
    },
  });
  if (!values.redis || !values.systems || !values.days) {
    process.stderr.write('usage: plan-synthetic --redis URL --systems N --days D [--high-water H] [--cancel-at N]\n');
    process.exit(2);
  }
  const figures = await planSynthetic({
    redisUrl: values.redis,
    systems: Number(values.systems),
    days: Number(values.days),
    highWater: Number(values['high-water']),
    ...(values['cancel-at'] ? { cancelAt: Number(values['cancel-at']) } : {}),
  });
  process.stdout.write(`${JSON.stringify(figures)}\n`);
}
