import { createLogger } from '@pv-pipeline/core';
import { describe, expect, it } from 'vitest';
import { JOB_NAMES, type TransformJobData } from '../src/job-payloads.js';
import { QUEUE_NAMES } from '../src/queue-names.js';
import { createStalledOutListener, transformJobObject } from '../src/transform-processor.js';
import { ownPrefix } from './own-prefix.js';

/**
 * A transform job whose worker is lost more often than the stall limit allows
 * is failed by BullMQ without running the processor; the listener must still
 * tell its run, which then finishes instead of staying "running".
 */
describe('a transform job stalled out (real Redis, real BullMQ workers)', () => {
  const { prefix, redis, queues, runs, worker: queueWorker } = ownPrefix();
  const worker = (process: () => Promise<unknown>) => queueWorker<TransformJobData>(QUEUE_NAMES.transform, process);

  it('records the failure with its reason and completes the run', async () => {
    const runId = 'r-stalled';
    const data: TransformJobData = {
      runId,
      object: { key: 'csv/pvdata/system_id=4/x.csv', etag: 'e1', size: 1, format: 'csv', ssId: 4, day: '2020-01-01' },
    };
    await runs.create(runId, { systems: [4], from: '2020-01-01', to: '2020-01-01', format: 'csv' });
    await runs.start(runId);
    await runs.attach(runId, 0, 0, ['t-1']);
    await runs.commitPage(runId, 0, 1, 0);
    await runs.finishPlanning(runId);
    // the first worker takes the job and is lost without releasing it (its lock expires)
    let taken!: () => void;
    const tookIt = new Promise<void>((resolve) => (taken = resolve));
    const lost = worker(() => {
      taken();
      return new Promise(() => undefined);
    });
    await queues.transform.add(JOB_NAMES.transform, data, { jobId: 't-1' });
    await tookIt;
    await lost.close(true);
    // a second worker finds it stalled out; its processor must never run
    let ran = false;
    const second = worker(async () => {
      ran = true;
    });
    const failed = new Promise<void>((resolve) => second.on('failed', () => resolve()));
    second.on(
      'failed',
      createStalledOutListener(
        { runs, redis, prefix, queues, logger: createLogger({ service: 'test' }, { level: 'silent' }) },
        'transform',
        transformJobObject,
      ),
    );
    await failed;
    // the listener reports asynchronously: wait (bounded) for the run's finalize job
    const deadline = Date.now() + 20_000;
    while (!(await queues.load.getJob(`f-${runId}`)) && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 100));
    }
    const run = await runs.get(runId);
    expect(ran).toBe(false);
    expect(run).toMatchObject({ state: 'partial', counts: { failed: 1 } });
    expect(run!.failures[0]!.reason).toMatch(/lost mid-job more often than the stall limit allows/);
    expect(await queues.load.getJob(`f-${runId}`)).toBeDefined();
  }, 30_000);
});
