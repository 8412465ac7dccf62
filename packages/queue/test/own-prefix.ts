import { randomBytes } from 'node:crypto';
import { type Processor, Worker } from 'bullmq';
import { afterAll } from 'vitest';
import { testRedisUrl } from '../../../test/support/test-redis.js';
import { DEFAULT_TUNING } from '../src/job-options.js';
import { openQueues } from '../src/queues.js';
import { createRedisConnection } from '../src/redis-connection.js';
import { RunStore } from '../src/run-store.js';

/** The suite's own test Redis (test/support/test-redis-setup.ts). */
export const REDIS = testRedisUrl();

/**
 * The pipeline's queues and run store under a key prefix of their own on the
 * suite's test Redis, for one test suite: its workers are closed and its keys
 * deleted after the suite.
 */
export function ownPrefix() {
  const prefix = `{pvtest-${randomBytes(4).toString('hex')}}`;
  const redis = createRedisConnection(REDIS, { blocking: false });
  const queues = openQueues(redis, prefix, DEFAULT_TUNING);
  const runs = new RunStore(redis, prefix);
  const closers: Array<() => Promise<unknown>> = [];
  afterAll(async () => {
    for (const close of closers) await close().catch(() => undefined);
    await queues.close();
    const keys = await redis.keys(`${prefix}*`);
    if (keys.length > 0) await redis.del(...keys);
    redis.disconnect();
  });
  /** A real BullMQ worker on `queue` that finds a lost job stalled out fast (1 s lock, no stall allowed). */
  const worker = <T>(queue: string, process: Processor<T>): Worker<T> => {
    const connection = createRedisConnection(REDIS, { blocking: true });
    const w = new Worker<T>(queue, process, {
      connection,
      prefix,
      lockDuration: 1000,
      stalledInterval: 300,
      maxStalledCount: 0,
    });
    closers.push(async () => {
      await w.close(true);
      connection.disconnect();
    });
    return w;
  };
  return { prefix, redis, queues, runs, worker };
}
