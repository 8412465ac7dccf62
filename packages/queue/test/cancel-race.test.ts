import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLogger } from '@pv-pipeline/core';
import { FileObjectStore, SystemCatalog } from '@pv-pipeline/pvdaq';
import { openStagingArea, type PlannedObject } from '@pv-pipeline/stages';
import { afterAll, describe, expect, it } from 'vitest';
import { waitFor } from '../../../test/support/wait-for.js';
import { JOB_NAMES, type TransformJobData } from '../src/job-payloads.js';
import { QUEUE_NAMES } from '../src/queue-names.js';
import { cancelRun } from '../src/run-cancellation.js';
import type { RunStore } from '../src/run-store.js';
import { transformJobId } from '../src/transform-job-id.js';
import { createTransformProcessor } from '../src/transform-processor.js';
import { ownPrefix } from './own-prefix.js';

/** Not in the (empty) mirror: the real transform processor fails it for good. */
const object: PlannedObject = {
  key: 'csv/pvdata/system_id=4/year=2020/month=1/day=1/system_4__date_2020_01_01.csv',
  etag: 'e1',
  size: 10,
  format: 'csv',
  ssId: 4,
  day: '2020-01-01',
};

/**
 * Cancellation detaches the run from its queued jobs, then removes them. A
 * worker can take a job in between: the job then runs for the cancelled run
 * (whose id the ledger records with the object), so the run must still count
 * its outcome, and be recorded again with it.
 */
describe('a worker taking a job while its run is cancelled (real Redis, real BullMQ, real transform processor)', () => {
  const { prefix, redis, queues, runs, worker } = ownPrefix();
  const dirs: string[] = [];
  afterAll(async () => {
    for (const dir of dirs) await rm(dir, { recursive: true, force: true });
  });

  it('counts the job’s outcome for the cancelled run, leaves nothing attached, and finalizes the run again', async () => {
    const mirror = await mkdtemp(join(tmpdir(), 'pv-cancel-race-mirror-'));
    const staging = await mkdtemp(join(tmpdir(), 'pv-cancel-race-staging-'));
    dirs.push(mirror, staging);
    const store = new FileObjectStore(mirror);
    const catalog = await SystemCatalog.load(store);
    const logger = createLogger({ service: 'test' }, { level: 'silent' });
    const process = createTransformProcessor({
      store,
      catalog: async () => catalog,
      staging: openStagingArea(`file://${staging}`),
      queues,
      runs,
      maxObjectBytes: 1 << 20,
      redis,
      prefix,
      logger,
    });

    const runId = 'r-cancel-race';
    const jobId = transformJobId(object.key, object.etag);
    await runs.create(runId, { systems: [4], from: '2020-01-01', to: '2020-01-01', format: 'csv' });
    await runs.start(runId);
    expect(await runs.attach(runId, 0, 0, [jobId])).toEqual([jobId]);
    await queues.transform.add(JOB_NAMES.transform, { runId, object }, { jobId });

    // the worker takes the job right after cancellation detached the run from it, before the job's removal
    let release!: () => void;
    const released = new Promise<void>((resolve) => (release = resolve));
    let taken!: () => void;
    const tookIt = new Promise<void>((resolve) => (taken = resolve));
    const racing = new Proxy(runs, {
      get(target, prop) {
        if (prop === 'detach')
          return async (...args: Parameters<RunStore['detach']>) => {
            const orphaned = await target.detach(...args);
            if (args[1].includes(jobId)) {
              worker<TransformJobData>(QUEUE_NAMES.transform, async (job) => {
                taken();
                await released;
                return process(job);
              });
              await tookIt;
            }
            return orphaned;
          };
        const value = Reflect.get(target, prop, target);
        return typeof value === 'function' ? value.bind(target) : value;
      },
    });
    // the job was taken, so nothing is removed
    expect(await cancelRun(racing, queues, runId)).toEqual({ was: 'running', removed: 0 });
    expect(await queues.transform.getJobState(jobId)).toBe('active');
    const recordedAtCancel = await queues.load.getJob(`f-${runId}`);
    expect(recordedAtCancel?.data).toEqual({ kind: 'finalize', runId });
    // a loader records the run now: its finalize job is gone
    expect(await queues.load.remove(`f-${runId}`)).toBe(1);

    release();
    await waitFor(async () => (await queues.transform.getJobState(jobId)) === 'failed', {
      timeoutMs: 30_000,
      what: 'the taken job to fail',
    });
    const run = await runs.get(runId);
    expect(run).toMatchObject({
      state: 'cancelled',
      counts: { planned: 0, loaded: 0, skipped: 0, failed: 1 },
    });
    expect(run!.failures.map((f) => f.key)).toEqual([object.key]);
    // neither the object's runs nor the remembered detach are left
    expect(await redis.keys(`${prefix}:obj:*`)).toEqual([]);
    // the run's recorded counts changed: it is to be recorded again
    expect(await queues.load.getJobState(`f-${runId}`)).toBe('waiting');
  }, 60_000);
});
