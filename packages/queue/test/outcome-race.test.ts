import type { PlannedObject } from '@pv-pipeline/stages';
import { UnrecoverableError } from 'bullmq';
import { describe, expect, it } from 'vitest';
import { JOB_NAMES, type TransformJobData } from '../src/job-payloads.js';
import { enqueueTransforms } from '../src/plan-processor.js';
import { QUEUE_NAMES } from '../src/queue-names.js';
import { transformJobId } from '../src/transform-job-id.js';
import { ownPrefix } from './own-prefix.js';

const object = (day: number): PlannedObject => ({
  key: `csv/pvdata/system_id=4/year=2020/month=1/day=${day}/system_4__date_2020_01_0${day}.csv`,
  etag: `e${day}`,
  size: 1,
  format: 'csv',
  ssId: 4,
  day: `2020-01-0${day}`,
});

/**
 * A run attaching to an object whose job is still active: it waits for that
 * job's outcome, unless the job already gave it (a failure reported, BullMQ
 * not yet told): then the object is enqueued again once the job is finished,
 * so that the new run is not left waiting for nothing.
 */
describe('attaching a run while the object’s job is finishing (real Redis, real BullMQ)', () => {
  const { redis, queues, runs, worker } = ownPrefix();

  it('waits for an active job’s outcome, and enqueues again after a job that already gave it', async () => {
    const releases: Array<() => void> = [];
    const taken: string[] = [];
    worker<TransformJobData>(QUEUE_NAMES.transform, (job) => {
      taken.push(job.id!);
      return new Promise((_, reject) => releases.push(() => reject(new UnrecoverableError('corrupt'))));
    });
    const [a, b] = [object(1), object(2)];
    const bId = transformJobId(b.key, b.etag);
    await queues.transform.add(JOB_NAMES.transform, { runId: 'first', object: b }, { jobId: bId });
    const deadline = Date.now() + 20_000;
    while (taken.length < 1 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    expect(taken).toEqual([bId]);
    // a waits behind it (one job at a time)
    await queues.transform.add(
      JOB_NAMES.transform,
      { runId: 'first', object: a },
      { jobId: transformJobId(a.key, a.etag) },
    );

    // b's failure is already reported to its runs; BullMQ has not marked it failed yet
    await runs.recordOutcome(bId, b.key, 'failed', { reason: 'corrupt', jobKey: queues.transform.toKey(bId) });
    await runs.create('second', { systems: [4], from: '2020-01-01', to: '2020-01-02', format: 'csv' });
    await runs.start('second');
    expect(await runs.attach('second', 0, 0, [transformJobId(a.key, a.etag), bId])).toHaveLength(2);

    // the planner finds b active and looks whether it gave its outcome: b fails right then
    const racing = new Proxy(redis, {
      get(target, prop) {
        if (prop === 'hexists')
          return async (...args: Parameters<typeof target.hexists>) => {
            const given = await target.hexists(...args);
            releases[0]!();
            return given;
          };
        const value = Reflect.get(target, prop, target);
        return typeof value === 'function' ? value.bind(target) : value;
      },
    });
    // a: still queued, its outcome will reach 'second'; b: enqueued again once it is marked failed
    await enqueueTransforms(queues, racing, 'second', [a, b]);
    expect(await queues.transform.getJobState(bId)).not.toBe('failed');
    const again = await queues.transform.getJob(bId);
    expect(again?.data.runId).toBe('second');
    expect(await runs.waitingRuns(transformJobId(a.key, a.etag))).toEqual(['second']);
  });
});
