import { createLogger, type Logger } from '@pv-pipeline/core';
import { FileObjectStore } from '@pv-pipeline/pvdaq';
import { type Job, UnrecoverableError } from 'bullmq';
import { describe, expect, it, vi } from 'vitest';
import { JOB_NAMES, type LoadJobData, type PlanJobData } from '../src/job-payloads.js';
import { LedgerCache } from '../src/ledger-cache.js';
import { createPlanProcessor } from '../src/plan-processor.js';
import { QUEUE_NAMES } from '../src/queue-names.js';
import {
  createFinalizeRevival,
  enqueueFinalize,
  FINALIZE_REVIVALS,
  finalizeUnrecorded,
} from '../src/run-finalization.js';
import { ownPrefix } from './own-prefix.js';

const request = { systems: [4], from: '2020-01-01', to: '2020-01-01', format: 'parquet' as const };

/** Polls until `check` holds, for at most 20 s. */
async function until(check: () => Promise<boolean> | boolean, what: string): Promise<void> {
  const deadline = Date.now() + 20_000;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('finished runs are recorded in the sink even when their finalize job is lost (real Redis, real BullMQ)', () => {
  const { prefix, redis, queues, runs, worker } = ownPrefix();
  /** A loader's worker on the load queue, with the loader's revival listener. */
  const loader = (process: (job: { data: LoadJobData }) => Promise<unknown>, logger: Logger) => {
    const w = worker<LoadJobData>(QUEUE_NAMES.load, process);
    w.on('failed', createFinalizeRevival({ queues, logger }));
    return w;
  };
  const quiet = () => ({ warn: vi.fn(), error: vi.fn(), info: vi.fn() }) as unknown as Logger;

  it('a run that fails at planning is finalized too, so that the sink records it with its reason', async () => {
    const plan = createPlanProcessor({
      store: new FileObjectStore('/nonexistent/pv-mirror'),
      runs,
      ledger: new LedgerCache(redis, prefix),
      queues,
      logger: createLogger({ service: 'test' }, { level: 'silent' }),
      metrics: { redis, prefix },
    });
    await runs.create('r-unplannable', request);
    const job = {
      id: 'p-1',
      data: { runId: 'r-unplannable', request },
      attemptsMade: 0,
      opts: { attempts: 3 },
      stalledCounter: 0,
    } as unknown as Job<PlanJobData>;
    await expect(plan(job)).rejects.toBeInstanceOf(UnrecoverableError);
    const run = await runs.get('r-unplannable');
    expect(run?.state).toBe('failed');
    expect(run?.failures[0]?.reason).toMatch(/^planning failed: .*the source root does not exist/);
    expect((await queues.load.getJob('f-r-unplannable'))?.data).toEqual({ kind: 'finalize', runId: 'r-unplannable' });
    await runs.expire('r-unplannable'); // what its finalization does after recording it
    await queues.load.obliterate({ force: true });
  });

  it('a loader starting up enqueues finalization of finished runs never recorded, and only of those', async () => {
    const finished = async (id: string, recorded: boolean) => {
      await runs.create(id, request);
      await runs.start(id);
      expect(await runs.finishPlanning(id)).toBe(true);
      if (recorded) await runs.expire(id);
    };
    await finished('done-unrecorded', false);
    await finished('done-recorded', true);
    await runs.create('failed-unrecorded', request);
    await runs.fail('failed-unrecorded', 'planning failed: s3://x: AccessDenied');
    await runs.create('still-running', request);
    await runs.start('still-running');
    expect((await finalizeUnrecorded(runs, queues)).sort()).toEqual(['done-unrecorded', 'failed-unrecorded']);
    for (const id of ['done-unrecorded', 'failed-unrecorded']) {
      expect((await queues.load.getJob(`f-${id}`))?.data).toEqual({ kind: 'finalize', runId: id });
    }
    for (const id of ['done-recorded', 'still-running']) expect(await queues.load.getJob(`f-${id}`)).toBeUndefined();
    // twice: the waiting jobs are not doubled
    await finalizeUnrecorded(runs, queues);
    expect(await queues.load.getWaitingCount()).toBe(2);
    await queues.load.obliterate({ force: true });
  });

  it('a finalize attempt that fails and is retried by BullMQ is not enqueued again besides', async () => {
    const seen: LoadJobData[] = [];
    const logger = quiet();
    const w = loader(async (job) => {
      seen.push(job.data);
      if (seen.length === 1) throw new Error('the sink is busy');
      return { recorded: true };
    }, logger);
    await queues.load.add(
      JOB_NAMES.finalize,
      { kind: 'finalize', runId: 'r-retried' },
      { jobId: 'f-r-retried', attempts: 2, backoff: { type: 'fixed', delay: 10 } },
    );
    await until(async () => (await queues.load.getJobState('f-r-retried')) === 'completed', 'the retried job');
    await w.close();
    expect(seen).toEqual([
      { kind: 'finalize', runId: 'r-retried' },
      { kind: 'finalize', runId: 'r-retried' },
    ]);
    expect(vi.mocked(logger.warn)).not.toHaveBeenCalled();
    expect(vi.mocked(logger.error)).not.toHaveBeenCalled();
  });

  it('a finalize job whose loader was lost is enqueued again, and no more after FINALIZE_REVIVALS failures', async () => {
    // the first loader takes the job and is lost without releasing it
    let taken!: () => void;
    const tookIt = new Promise<void>((resolve) => (taken = resolve));
    const lost = loader(() => {
      taken();
      return new Promise(() => undefined);
    }, quiet());
    await enqueueFinalize(queues, 'r-lost');
    await tookIt;
    await lost.close(true);
    // a second loader finds it stalled out (its processor never runs) and enqueues it again
    const seen: LoadJobData[] = [];
    const logger = quiet();
    const second = loader(async (job) => {
      seen.push(job.data);
      const revived = job.data.kind === 'finalize' ? (job.data.revived ?? 0) : 0;
      if (revived < FINALIZE_REVIVALS) throw new UnrecoverableError('the sink refused the run row');
      return { recorded: false };
    }, logger);
    // revived once for the stall, then once per refusal until the limit, then it completes
    await until(
      async () => (await queues.load.getJobState('f-r-lost')) === 'completed' || seen.length > FINALIZE_REVIVALS,
      'the revived finalize job to complete',
    );
    expect(seen.map((d) => (d.kind === 'finalize' ? d.revived : -1))).toEqual(
      Array.from({ length: FINALIZE_REVIVALS }, (_, i) => i + 1),
    );
    expect(await queues.load.getJobState('f-r-lost')).toBe('completed');
    await second.close();
  }, 30_000);

  it('after FINALIZE_REVIVALS failures the job stays failed and the loader says the run is not recorded', async () => {
    const logger = quiet();
    loader(async () => {
      throw new UnrecoverableError('the sink refused the run row');
    }, logger);
    await enqueueFinalize(queues, 'r-refused', FINALIZE_REVIVALS);
    await until(() => vi.mocked(logger.error).mock.calls.length > 0, 'the error log');
    expect(vi.mocked(logger.error).mock.calls[0]![1]).toBe(
      'run not recorded in the sink: its finalization kept failing',
    );
    expect(await queues.load.getJobState('f-r-refused')).toBe('failed');
    expect((await queues.load.getJob('f-r-refused'))?.data).toMatchObject({ revived: FINALIZE_REVIVALS });
  }, 30_000);
});

describe('a finalize asked for while its job is active (real Redis, real BullMQ)', () => {
  const { queues, worker } = ownPrefix();

  it('queues another one, which records the run again after it', async () => {
    const seen: string[] = [];
    let release!: () => void;
    const released = new Promise<void>((resolve) => (release = resolve));
    let taken!: () => void;
    const tookIt = new Promise<void>((resolve) => (taken = resolve));
    worker<LoadJobData>(QUEUE_NAMES.load, async (job) => {
      seen.push(job.id!);
      if (seen.length === 1) {
        taken();
        await released;
      }
      return { recorded: true };
    });
    await enqueueFinalize(queues, 'r-busy');
    await tookIt;
    // the active job may have read the run already: a count that changes now needs a job of its own
    await enqueueFinalize(queues, 'r-busy');
    release();
    await until(() => seen.length === 2, 'the second finalize job');
    expect(seen[0]).toBe('f-r-busy');
    expect(seen[1]).toMatch(/^f-r-busy-again-\d+$/);
    expect((await queues.load.getJob(seen[1]!))?.data).toEqual({ kind: 'finalize', runId: 'r-busy' });
  }, 30_000);
});
