import type { Logger } from '@pv-pipeline/core';
import {
  allQueues,
  FAILURE_REASONS,
  type FailureReason,
  type MetricField,
  type PipelineQueues,
  type QueueName,
} from '@pv-pipeline/queue';
import type { JobType, Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import { Counter, collectDefaultMetrics, Gauge, Registry, Summary } from 'prom-client';

/** Options of {@link createMetricsRegistry}. */
export interface ApiMetricsOptions {
  queues: PipelineQueues;
  redis: Redis;
  /** Key prefix of the deployment (`PV_QUEUE_PREFIX`); totals are read from the hash `<prefix>:metrics`. */
  prefix: string;
  /** How long the job durations read for `pv_job_duration_seconds` are reused, ms. @defaultValue 15,000 */
  durationCacheMs?: number;
  /** Longest a scrape waits for Redis, ms. @defaultValue 2,000 */
  redisTimeoutMs?: number;
  logger: Logger;
}

/** Job states reported by `pv_queue_jobs`. */
export const JOB_STATES = [
  'waiting',
  'active',
  'delayed',
  'prioritized',
  'waiting-children',
  'completed',
  'failed',
] as const satisfies readonly JobType[];

/** Fields of the `<prefix>:metrics` hash that the worker and loader increment, and the counters exposing them. */
export const REDIS_TOTALS = {
  readings_loaded: { name: 'pv_readings_loaded_total', help: 'Readings committed to the sink.' },
  objects_loaded: { name: 'pv_objects_loaded_total', help: 'Source objects committed to the sink.' },
  objects_failed: { name: 'pv_objects_failed_total', help: 'Source objects that failed permanently.' },
  objects_skipped: { name: 'pv_objects_skipped_total', help: 'Source objects found already loaded (ledger).' },
  jobs_stalled: {
    name: 'pv_jobs_stalled_total',
    help: 'Jobs whose worker was lost mid-job (lock expired), found by a stall check and taken again.',
  },
} as const satisfies Record<Exclude<MetricField, `failed_${FailureReason}`>, { name: string; help: string }>;

/** How many completed jobs per queue `pv_job_duration_seconds` is computed from. */
const DURATION_SAMPLE = 1000;

/**
 * Processing seconds (finishedOn − processedOn) of a queue's last `n`
 * completed jobs: two fields of each job's hash, not the job (a cleanup job
 * lists a whole batch's files).
 */
async function completedSeconds(redis: Redis, queue: Queue, n: number): Promise<number[]> {
  const ids = await redis.zrevrange(queue.toKey('completed'), 0, n - 1);
  if (ids.length === 0) return [];
  const pipeline = redis.pipeline();
  for (const id of ids) pipeline.hmget(queue.toKey(id), 'processedOn', 'finishedOn');
  const out: number[] = [];
  for (const [err, fields] of (await pipeline.exec()) ?? []) {
    const [processedOn, finishedOn] = (err ? [null, null] : fields) as [string | null, string | null];
    if (processedOn === null || finishedOn === null) continue; // removed meanwhile
    const s = (Number(finishedOn) - Number(processedOn)) / 1000;
    if (s >= 0) out.push(s);
  }
  return out;
}

/**
 * A Prometheus registry of its own (not prom-client's global one, so several
 * apps can live in one process): queue depths and job durations read from
 * BullMQ on scrape, pipeline totals read from Redis, default process metrics.
 * When Redis does not answer, the Redis-backed series are left out of that
 * scrape (the scrape itself still succeeds) and `pv_redis_up` is 0.
 */
export function createMetricsRegistry(options: ApiMetricsOptions): Registry {
  const registry = new Registry();
  const { queues, redis } = options;
  const cacheMs = options.durationCacheMs ?? 15_000;
  const timeoutMs = options.redisTimeoutMs ?? 2000;
  const named = allQueues(queues).map((q) => [q.name as QueueName, q] as [QueueName, Queue]);
  const log = options.logger;

  /** Runs a Redis read with a deadline; a failure is logged and yields undefined. */
  const read = async <T>(what: string, fn: () => Promise<T>): Promise<T | undefined> => {
    let timer: NodeJS.Timeout | undefined;
    try {
      return await Promise.race([
        fn(),
        new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(new Error(`no answer in ${timeoutMs} ms`)), timeoutMs);
        }),
      ]);
    } catch (err) {
      log.warn({ err, metric: what }, 'metrics: redis read failed');
      return undefined;
    } finally {
      clearTimeout(timer);
    }
  };

  /** A gauge with one series per queue, read on each scrape (a queue whose read fails is left out). */
  const perQueueGauge = (name: string, help: string, value: (queue: Queue) => Promise<number>) =>
    new Gauge({
      name,
      help,
      labelNames: ['queue'] as const,
      registers: [registry],
      async collect() {
        this.reset();
        await Promise.all(
          named.map(async ([queue, q]) => {
            const v = await read(name, () => value(q));
            if (v !== undefined) this.set({ queue }, v);
          }),
        );
      },
    });

  new Gauge({
    name: 'pv_queue_jobs',
    help: 'Jobs per queue and state.',
    labelNames: ['queue', 'state'] as const,
    registers: [registry],
    async collect() {
      this.reset();
      await Promise.all(
        named.map(async ([name, queue]) => {
          const counts = await read('pv_queue_jobs', () => queue.getJobCounts(...JOB_STATES));
          if (!counts) return;
          for (const state of JOB_STATES) this.set({ queue: name, state }, counts[state] ?? 0);
        }),
      );
    },
  });

  for (const [field, { name, help }] of Object.entries(REDIS_TOTALS)) {
    new Counter({
      name,
      help,
      registers: [registry],
      async collect() {
        const raw = await read(name, () => redis.hget(`${options.prefix}:metrics`, field));
        if (raw === undefined) return;
        const n = Number(raw ?? 0);
        this.reset();
        this.inc(Number.isFinite(n) && n > 0 ? n : 0);
      },
    });
  }

  /** INFO memory, read once per scrape for both gauges. */
  let memory: { at: number; value: Promise<{ used: number; max: number } | undefined> } | null = null;
  const readRedisMemory = () => {
    if (!memory || Date.now() - memory.at > 1000) {
      const value = read('pv_redis_memory', async () => {
        const text = await redis.info('memory');
        const field = (name: string) => Number(new RegExp(`^${name}:(\\d+)`, 'm').exec(text)?.[1] ?? 0);
        return { used: field('used_memory'), max: field('maxmemory') };
      });
      memory = { at: Date.now(), value };
    }
    return memory.value;
  };

  let durations: { at: number; byQueue: Map<QueueName, number[]> } | null = null;
  const readDurations = async (): Promise<Map<QueueName, number[]> | undefined> => {
    if (durations && Date.now() - durations.at < cacheMs) return durations.byQueue;
    const byQueue = new Map<QueueName, number[]>();
    for (const [name, queue] of named) {
      const seconds = await read('pv_job_duration_seconds', () => completedSeconds(redis, queue, DURATION_SAMPLE));
      if (!seconds) return undefined;
      byQueue.set(name, seconds);
    }
    durations = { at: Date.now(), byQueue };
    return byQueue;
  };

  new Summary({
    name: 'pv_job_duration_seconds',
    help: `Processing time (finishedOn - processedOn) of the last ${DURATION_SAMPLE} completed jobs of each queue.`,
    labelNames: ['queue'] as const,
    percentiles: [0.5, 0.9, 0.99],
    registers: [registry],
    async collect() {
      const byQueue = await readDurations();
      if (!byQueue) return;
      this.reset();
      for (const [queue, secs] of byQueue) {
        for (const s of secs) this.observe({ queue }, s);
      }
    },
  });

  perQueueGauge('pv_queue_paused', 'Whether a queue is paused (1) or not (0).', async (queue) =>
    (await queue.isPaused()) ? 1 : 0,
  );

  new Gauge({
    name: 'pv_redis_up',
    help: 'Whether Redis answered a PING during this scrape (1) or not (0).',
    registers: [registry],
    async collect() {
      this.set((await read('pv_redis_up', () => redis.ping())) === undefined ? 0 : 1);
    },
  });

  new Counter({
    name: 'pv_object_failures_total',
    help: 'Source objects that failed for good, by reason: bad_input (refused at once), retries_exhausted (a transient fault, tried until the attempts ran out), stalled_out (its worker kept dying), permanent (any other error).',
    labelNames: ['reason'] as const,
    registers: [registry],
    async collect() {
      const fields = FAILURE_REASONS.map((r) => `failed_${r}`);
      const raw = await read('pv_object_failures_total', () => redis.hmget(`${options.prefix}:metrics`, ...fields));
      if (!raw) return;
      this.reset();
      for (const [i, reason] of FAILURE_REASONS.entries()) this.inc({ reason }, Math.max(0, Number(raw[i] ?? 0) || 0));
    },
  });

  perQueueGauge(
    'pv_queue_oldest_waiting_seconds',
    'Age of the oldest job waiting in each queue (0 when none waits).',
    async (queue) => {
      const [id] = await queue.getRanges(['wait'], 0, 0, true);
      const job = id ? await queue.getJob(id) : undefined;
      if (!job) return 0;
      // since it last became ready: a job back from a delay or a retry has waited that long, not its age
      return Math.max(0, Date.now() - Math.max(job.timestamp, job.processedOn ?? 0, job.finishedOn ?? 0)) / 1000;
    },
  );

  new Gauge({
    name: 'pv_loader_batch_age_seconds',
    help: "Age of the loader's open batch: since the oldest load job it holds was taken (0 when it holds none). A load job stays active until its batch is committed.",
    registers: [registry],
    async collect() {
      const jobs = await read('pv_loader_batch_age_seconds', () => queues.load.getJobs(['active'], 0, 999));
      this.reset();
      if (!jobs) return;
      const taken = jobs.map((j) => j?.processedOn).filter((t): t is number => t !== undefined);
      this.set(taken.length === 0 ? 0 : Math.max(0, Date.now() - Math.min(...taken)) / 1000);
    },
  });

  const memoryGauges = [
    ['pv_redis_memory_used_bytes', 'Memory Redis uses (INFO memory used_memory).', 'used'],
    ['pv_redis_memory_max_bytes', "Redis' maxmemory (0: no limit set).", 'max'],
  ] as const;
  for (const [name, help, field] of memoryGauges) {
    new Gauge({
      name,
      help,
      registers: [registry],
      async collect() {
        const info = await readRedisMemory();
        this.reset();
        if (info) this.set(info[field]);
      },
    });
  }

  collectDefaultMetrics({ register: registry });
  return registry;
}
