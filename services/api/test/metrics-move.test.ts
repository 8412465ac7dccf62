import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { BadInputError, createLogger, loadServiceConfig, RetryableError } from '@pv-pipeline/core';
import {
  countStalledJobs,
  createRedisConnection,
  createStalledOutListener,
  DEFAULT_TUNING,
  openQueues,
  type PipelineQueues,
  RunStore,
  type TransformJobData,
  transformJobObject,
} from '@pv-pipeline/queue';
import { Worker } from 'bullmq';
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { failureReason } from '../../../packages/queue/src/pipeline-metrics.js';
import { startRedis, type TestRedis } from '../../../test/support/redis-server.js';
import { waitFor } from '../../../test/support/wait-for.js';
import { createMetricsApp } from '../src/metrics-app.js';

const PREFIX = '{pvmetrics}';
const logger = createLogger({ service: 'test' }, { level: 'silent' });

/**
 * Metrics this file moves, and where the others move: a metric declared
 * without a test that moves it fails the last test here.
 */
const MOVED_HERE = [
  'pv_jobs_stalled_total',
  'pv_object_failures_total',
  'pv_objects_failed_total',
  'pv_queue_oldest_waiting_seconds',
  'pv_loader_batch_age_seconds',
  'pv_redis_memory_used_bytes',
  'pv_redis_memory_max_bytes',
  'pv_queue_paused',
  'pv_redis_up',
];
const MOVED_ELSEWHERE: Record<string, string> = {
  pv_queue_jobs: 'services/api/test/api.test.ts (queue depths)',
  pv_job_duration_seconds: 'services/api/test/api.test.ts (job durations)',
  pv_readings_loaded_total: 'test/e2e/cluster.test.ts (the totals moved)',
  pv_objects_loaded_total: 'test/e2e/cluster.test.ts',
  pv_objects_skipped_total: 'test/e2e/cluster.test.ts',
};

describe('every metric /metrics declares moves (own redis-server, real BullMQ workers)', () => {
  let server: TestRedis;
  let redis: Redis;
  let queues: PipelineQueues;
  let base: string;
  let http: Server;
  const closers: Array<() => Promise<unknown>> = [];

  /** One scrape: `name{labels}` → value. */
  const scrape = async (): Promise<Map<string, number>> => {
    const text = await (await fetch(`${base}/metrics`)).text();
    const out = new Map<string, number>();
    for (const line of text.split('\n')) {
      const m = /^(pv_[a-z_]+(?:\{[^}]*\})?) (\S+)$/.exec(line);
      if (m) out.set(m[1]!, Number(m[2]));
    }
    return out;
  };

  beforeAll(async () => {
    server = await startRedis();
    redis = createRedisConnection(server.url, { blocking: false });
    await redis.config('SET', 'maxmemory', String(256 * 1024 * 1024));
    queues = openQueues(redis, PREFIX, DEFAULT_TUNING);
    const config = loadServiceConfig({ REDIS_URL: server.url, PV_API_TOKEN: 'x'.repeat(32), PV_QUEUE_PREFIX: PREFIX });
    http = createMetricsApp({ config, queues, redis, logger, metricsCacheMs: 0 }).listen(0, '127.0.0.1');
    await new Promise<void>((resolve) => http.once('listening', resolve));
    base = `http://127.0.0.1:${(http.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    for (const close of closers) await close().catch(() => undefined);
    await new Promise<void>((resolve) => http.close(() => resolve()));
    await queues.close();
    redis.disconnect();
    await server.destroy();
  });

  /** A real worker on `queue` that finds a lost job stalled fast (1 s lock), counting stalls as the services do. */
  const worker = <T>(queue: string, process: () => Promise<unknown>, maxStalledCount = 0): Worker<T> => {
    const connection = createRedisConnection(server.url, { blocking: true });
    const w = new Worker<T>(queue, process, {
      connection,
      prefix: PREFIX,
      lockDuration: 1000,
      stalledInterval: 300,
      maxStalledCount,
    });
    countStalledJobs(w as Worker, redis, PREFIX);
    closers.push(async () => {
      await w.close(true);
      connection.disconnect();
    });
    return w;
  };

  it('a lost worker: its job is counted stalled, then failed as stalled_out', async () => {
    const before = await scrape();
    expect(before.get('pv_jobs_stalled_total')).toBe(0);
    expect(before.get('pv_object_failures_total{reason="stalled_out"}')).toBe(0);
    const runs = new RunStore(redis, PREFIX);
    let taken!: () => void;
    const tookIt = new Promise<void>((resolve) => (taken = resolve));
    const lost = worker<TransformJobData>('transform', () => {
      taken();
      return new Promise(() => undefined);
    });
    const data = {
      runId: 'r',
      object: { key: 'k', etag: 'e', size: 1, format: 'csv', ssId: 4, day: '2020-01-01' },
    } as TransformJobData;
    await queues.transform.add('transform-object', data, { jobId: 'lost-1' });
    await tookIt;
    await lost.close(true);
    const second = worker<TransformJobData>('transform', async () => undefined);
    second.on(
      'failed',
      createStalledOutListener({ runs, redis, prefix: PREFIX, queues, logger }, 'transform', transformJobObject),
    );
    await waitFor(async () => (await scrape()).get('pv_object_failures_total{reason="stalled_out"}') === 1, {
      timeoutMs: 30_000,
      what: 'the stalled-out failure to be counted',
    });
    const after = await scrape();
    expect(after.get('pv_jobs_stalled_total')).toBe(1);
    expect(after.get('pv_objects_failed_total')).toBe(1);
    expect(after.get('pv_object_failures_total{reason="bad_input"}')).toBe(0);
    await second.close();
  });

  it('classifies failures: bad input, transient faults out of attempts, anything else', () => {
    expect(failureReason(new BadInputError('k', 'corrupt Parquet'))).toBe('bad_input');
    expect(failureReason(new RetryableError('HTTP 503 SlowDown'))).toBe('retries_exhausted');
    expect(failureReason(new Error('disk full'))).toBe('permanent');
  });

  it('the oldest waiting job, the open loader batch, a paused queue and Redis memory', async () => {
    const before = await scrape();
    expect(before.get('pv_queue_oldest_waiting_seconds{queue="plan"}')).toBe(0);
    expect(before.get('pv_loader_batch_age_seconds')).toBe(0);
    // biome-ignore lint/suspicious/noExplicitAny: minimal payloads; nothing processes the plan job
    const any = {} as any;
    await queues.plan.add('plan-run', any, { jobId: 'old', timestamp: Date.now() - 120_000 });
    await queues.plan.add('plan-run', any, { jobId: 'new' });
    // a load job held open, as the loader holds the jobs of its batch until the commit
    let held!: () => void;
    const holding = new Promise<void>((resolve) => (held = resolve));
    worker(
      'load',
      () => {
        held();
        return new Promise(() => undefined);
      },
      1,
    );
    await queues.load.add('load-readings', any, { jobId: 'batch-1' });
    await holding;
    await queues.transform.pause();
    await waitFor(async () => ((await scrape()).get('pv_loader_batch_age_seconds') ?? 0) > 0, {
      timeoutMs: 30_000,
      what: 'the batch to age',
    });
    const after = await scrape();
    expect(after.get('pv_queue_oldest_waiting_seconds{queue="plan"}')).toBeGreaterThanOrEqual(120);
    expect(after.get('pv_queue_paused{queue="transform"}')).toBe(1);
    expect(after.get('pv_redis_memory_max_bytes')).toBe(256 * 1024 * 1024);
    expect(after.get('pv_redis_memory_used_bytes')).toBeGreaterThan(0);
    expect(after.get('pv_redis_up')).toBe(1);
    await queues.transform.resume();
  });

  it('Redis gone: pv_redis_up drops to 0; and no metric is declared without a test that moves it', async () => {
    const text = await (await fetch(`${base}/metrics`)).text();
    const declared = [...text.matchAll(/^# HELP (pv_\S+) /gm)].map((m) => m[1]).sort();
    const covered = [...MOVED_HERE, ...Object.keys(MOVED_ELSEWHERE)].sort();
    expect(declared).toEqual(covered);
    await server.stop();
    await waitFor(async () => (await scrape()).get('pv_redis_up') === 0, { timeoutMs: 30_000, what: 'pv_redis_up 0' });
    await server.start();
  });
});
