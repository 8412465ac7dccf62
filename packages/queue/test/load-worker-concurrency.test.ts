import { randomBytes } from 'node:crypto';
import type { StagedManifest } from '@pv-pipeline/core';
import type { Sink } from '@pv-pipeline/sinks';
import type { StagingArea } from '@pv-pipeline/stages';
import { Queue, Worker } from 'bullmq';
import { afterEach, describe, expect, it } from 'vitest';
import { testRedisUrl } from '../../../test/support/test-redis.js';
import { waitFor } from '../../../test/support/wait-for.js';
import type { LoadJobData } from '../src/job-payloads.js';
import type { LedgerCache } from '../src/ledger-cache.js';
import { LoadProcessor, type LoadProcessorDeps } from '../src/load-processor.js';
import type { PipelineQueues } from '../src/queues.js';
import { createRedisConnection } from '../src/redis-connection.js';
import type { RunStore } from '../src/run-store.js';
import { loadWorkerConcurrency } from '../src/worker-options.js';
import { stagedManifest } from './staged-manifest-fixture.js';

const BATCH = 20;

const closers: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const close of closers.splice(0).reverse()) await close();
});

describe('the load worker', () => {
  it('takes the next batch from Redis while one commits', async () => {
    const connection = createRedisConnection(testRedisUrl(), { blocking: true });
    const prefix = `{lc-${randomBytes(3).toString('hex')}}`;
    const queue = new Queue<LoadJobData>('load', { connection, prefix });
    closers.push(async () => {
      await queue.obliterate({ force: true });
      await queue.close();
      connection.disconnect();
    });
    // the first commit waits until the test lets it go
    let release!: () => void;
    const released = new Promise<void>((r) => {
      release = r;
    });
    const commits: string[][] = [];
    const sink = {
      ledgerEtags: async () => new Map(),
      commit: async (batch: readonly StagedManifest[]) => {
        commits.push(batch.map((m) => m.key));
        if (commits.length === 1) await released;
        return { rows: batch.reduce((n, m) => n + m.rows, 0), replaced: 0 };
      },
    } as unknown as Sink;
    const processor = new LoadProcessor({
      sink,
      staging: {
        localize: async () => ({ path: (ref: string) => ref, synced: false, release: async () => undefined }),
        remove: async () => undefined,
      } as unknown as StagingArea,
      runs: { recordOutcome: async () => [] } as unknown as RunStore,
      ledger: { set: async () => undefined } as unknown as LedgerCache,
      queues: { load: queue } as unknown as PipelineQueues,
      catalog: async () => {
        throw new Error('not used');
      },
      redis: connection,
      prefix,
      logger: { warn: () => undefined, error: () => undefined } as unknown as LoadProcessorDeps['logger'],
      batchRows: 1_000_000,
      batchObjects: BATCH,
      maxWaitMs: 3_600_000, // only full batches commit
    });
    let taken = 0;
    await queue.addBulk(
      Array.from({ length: 2 * BATCH }, (_, i) => ({
        name: 'readings',
        data: { kind: 'readings', runId: 'r', manifest: stagedManifest(i) } as LoadJobData,
        opts: { jobId: `load-${i}` },
      })),
    );
    const worker = new Worker<LoadJobData>(
      'load',
      async (job) => {
        taken++;
        return processor.process(job);
      },
      { connection, prefix, concurrency: loadWorkerConcurrency(BATCH) },
    );
    closers.push(() => worker.close(true));

    // the first batch is committing (held) while every job of the second is active, its batch cut
    await waitFor(() => commits.length === 1 && taken === 2 * BATCH, {
      timeoutMs: 30_000,
      intervalMs: 10,
      what: 'both batches taken',
    });
    expect(await queue.getActiveCount()).toBe(2 * BATCH);
    release();
    await waitFor(async () => (await queue.getCompletedCount()) === 2 * BATCH, {
      timeoutMs: 30_000,
      intervalMs: 10,
      what: 'every job completed',
    });
    expect(commits.map((keys) => keys.length)).toEqual([BATCH, BATCH]);
    expect(commits.flat().sort()).toEqual(Array.from({ length: 2 * BATCH }, (_, i) => `k${i}`).sort());
  });
});
