import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { testRedisUrl } from '../../../test/support/test-redis.js';
import { createRedisConnection } from '../src/redis-connection.js';
import { RunStore } from '../src/run-store.js';

const request = { systems: [4], from: '2020-01-01', to: '2020-01-31', format: 'parquet' as const };

describe('RunStore (real Redis, own prefix)', () => {
  const prefix = `{pvtest-${randomBytes(4).toString('hex')}}`;
  const redis = createRedisConnection(testRedisUrl(), { blocking: false });
  const runs = new RunStore(redis, prefix);

  beforeAll(async () => {
    await redis.ping();
  });
  afterAll(async () => {
    const keys = await redis.keys(`${prefix}*`);
    if (keys.length > 0) await redis.del(...keys);
    redis.disconnect();
  });

  it('counts each object once however often its outcome is reported, and completes the run', async () => {
    await runs.create('r1', request);
    await runs.start('r1');
    expect(await runs.attach('r1', 0, 0, ['j1', 'j2', 'j3'])).toEqual(['j1', 'j2', 'j3']);
    // the page's 4 objects, 1 of them in the ledger; committing it again counts nothing
    expect(await runs.commitPage('r1', 0, 4, 1)).toBe(true);
    expect(await runs.commitPage('r1', 0, 4, 1)).toBe(false);
    expect(await runs.recordOutcome('j1', 'k1', 'transformed')).toEqual([]);
    expect(await runs.recordOutcome('j1', 'k1', 'transformed')).toEqual([]);
    const dropped = { missing: 3, sentinel: 2, non_finite: 1, duplicate: 4 };
    expect(await runs.recordOutcome('j1', 'k1', 'loaded', { rows: 10, dropped })).toEqual([]);
    // a redo after a crash reports again: no double count (the object's run set is gone)
    expect(await runs.recordOutcome('j1', 'k1', 'loaded', { rows: 10, dropped })).toEqual([]);
    await runs.addReplaced('r1', 6);
    await runs.addWarnings('r1', ['systems index: no zone for 9', 'systems index: no zone for 9']);
    expect(await runs.recordOutcome('j2', 'k2', 'failed', { reason: 'k2: corrupt Parquet' })).toEqual([]);
    expect(await runs.finishPlanning('r1')).toBe(false);
    expect(await runs.recordOutcome('j3', 'k3', 'loaded', { rows: 5 })).toEqual(['r1']);
    const r = await runs.get('r1');
    // some objects failed, the others loaded: partial, as `pv-pipeline run` says
    expect(r).toMatchObject({
      runId: 'r1',
      state: 'partial',
      counts: { planned: 4, transformed: 1, loaded: 2, skipped: 1, failed: 1, readings: 15 },
      replaced: 6,
      dropped: { missing: 3, sentinel: 2, non_finite: 1, duplicate: 4 },
      failures: [{ key: 'k2', reason: 'k2: corrupt Parquet' }],
      warnings: ['systems index: no zone for 9'],
    });
    expect(r!.finishedAt).not.toBeNull();
  });

  it('an object shared by overlapping runs reports to both', async () => {
    await runs.create('a', request);
    await runs.create('b', request);
    await runs.start('a');
    await runs.start('b');
    await runs.attach('a', 0, 0, ['shared']);
    await runs.attach('b', 0, 0, ['shared']);
    for (const id of ['a', 'b']) {
      await runs.commitPage(id, 0, 1, 0);
      await runs.finishPlanning(id);
    }
    expect((await runs.recordOutcome('shared', 'ks', 'loaded', { rows: 7 })).sort()).toEqual(['a', 'b']);
    expect((await runs.get('a'))!.counts).toMatchObject({ loaded: 1, readings: 7 });
    expect((await runs.get('b'))!.counts).toMatchObject({ loaded: 1, readings: 7 });
  });

  it('a run with nothing to load completes when planning ends; unknown runs are null; lists newest first', async () => {
    await runs.create('empty', request);
    await runs.start('empty');
    await runs.commitPage('empty', 0, 2, 2);
    expect(await runs.finishPlanning('empty')).toBe(true);
    expect((await runs.get('empty'))!.state).toBe('completed');
    expect(await runs.get('nope')).toBeNull();
    const ids = (await runs.list(10)).map((r) => r.runId);
    expect(ids[0]).toBe('empty');
    expect(ids).toContain('r1');
  });

  it('reports what was retried, each retry once however often it is reported, to every run of the object', async () => {
    await runs.create('rt', request);
    await runs.start('rt');
    await runs.attach('rt', 0, 0, ['jr']);
    await runs.recordRetry('jr', 'kr', 'attempt:0', 'transform: HTTP 503 SlowDown');
    await runs.recordRetry('jr', 'kr', 'attempt:0', 'transform: HTTP 503 SlowDown'); // the same retry again
    await runs.recordRetry('jr', 'kr', 'stall:1', 'transform: worker lost mid-job (stalled), taken over');
    await runs.recordPlanRetry('rt', 'attempt:0', 'plan: ListObjectsV2 failed');
    await runs.recordOutcome('jr', 'kr', 'loaded', { rows: 3 });
    // after the outcome the object has no runs attached: a load redo names its run itself
    await runs.recordRetry('jr', 'kr', 'load-stall:1', 'load: loader lost', 'rt');
    const r = await runs.get('rt');
    expect(r!.counts.retried).toBe(4);
    expect(r!.retries).toEqual([
      { key: '', reason: 'plan: ListObjectsV2 failed', count: 1 },
      { key: 'kr', reason: 'load: loader lost', count: 3 },
    ]);
  });

  it('remembers a bounded number of retry events per run: past the bound a new retry counts, a known one does not', async () => {
    const small = new RunStore(redis, prefix, 7 * 86_400, 3);
    await small.create('rb', request);
    await small.start('rb');
    await small.attach('rb', 0, 0, ['jb']);
    for (const event of ['attempt:0', 'attempt:1', 'attempt:2', 'attempt:1']) {
      await small.recordRetry('jb', 'kb', event, 'transform: HTTP 503 SlowDown');
    }
    // the set is full: a new event counts without being remembered (so twice, when reported twice),
    // a remembered one still counts once
    for (const event of ['attempt:3', 'attempt:4', 'attempt:4', 'attempt:0']) {
      await small.recordRetry('jb', 'kb', event, 'transform: HTTP 503 SlowDown');
    }
    expect((await small.get('rb'))!.counts.retried).toBe(3 + 3);
    expect(await redis.scard(`${prefix}:run:rb:retry-events`)).toBe(3);
  });

  it('attaches a chunk of a page once: a planner redoing it gets back only the objects still outstanding', async () => {
    await runs.create('p', request);
    await runs.start('p');
    expect(await runs.attach('p', 0, 0, ['x', 'y'])).toEqual(['x', 'y']);
    await runs.recordOutcome('x', 'kx', 'loaded', { rows: 1 });
    expect(await runs.attach('p', 0, 0, ['x', 'y'])).toEqual(['y']);
    expect(await runs.progress('p')).toEqual({ state: 'running', page: 0, outstanding: 1 });
    expect(await runs.attach('p', 0, 1, ['z'])).toEqual(['z']);
    await runs.commitPage('p', 0, 3, 0);
    expect(await runs.progress('p')).toEqual({ state: 'running', page: 1, outstanding: 2 });
    expect((await runs.get('p'))!.planning).toEqual({ pagesDone: 1, pages: 0, outstanding: 2, done: false });
  });

  it('cancels a queued or running run once; a cancelled run attaches nothing more; detach names orphaned objects', async () => {
    await runs.create('c', request);
    await runs.create('c2', request);
    await runs.start('c');
    await runs.start('c2');
    await runs.attach('c', 0, 0, ['o1', 'o2']);
    await runs.attach('c2', 0, 0, ['o2']);
    expect(await runs.cancel('c')).toBe('running');
    expect(await runs.cancel('c')).toBe('cancelled');
    expect(await runs.cancel('nope')).toBeNull();
    expect(await runs.attach('c', 0, 1, ['o3'])).toEqual([]);
    expect(await runs.detach('c', ['o1', 'o2', 'o3'])).toEqual(['o1']);
    expect([await runs.waitingRuns('o1'), await runs.waitingRuns('o2'), await runs.waitingRuns('o3')]).toEqual([
      [],
      ['c2'],
      [],
    ]);
    // a cancelled run is neither started nor failed again
    await runs.start('c');
    await runs.fail('c', 'planning failed: late');
    expect((await runs.get('c'))!.state).toBe('cancelled');
    // an outcome after the cancel no longer completes the cancelled run
    await runs.commitPage('c2', 0, 1, 0);
    await runs.finishPlanning('c2');
    expect(await runs.recordOutcome('o2', 'k2', 'loaded', { rows: 1 })).toEqual(['c2']);
    expect((await runs.get('c'))!.state).toBe('cancelled');
  });

  it('a final outcome counts once for the reporting job’s own run when that run was detached while the job could run', async () => {
    await runs.create('d', request);
    await runs.start('d');
    await runs.attach('d', 0, 0, ['od', 'oe']);
    expect(await runs.cancel('d')).toBe('running');
    // od's job could still run (a worker may take it); oe's could not (it was never enqueued)
    expect(await runs.detach('d', ['od'], true)).toEqual(['od']);
    expect(await runs.detach('d', ['oe'])).toEqual(['oe']);
    const jobKey = `${prefix}:load:od`;
    await redis.hset(jobKey, 'name', 'readings');
    // the cancelled run is recorded again with the object counted
    expect(await runs.recordOutcome('od', 'kd', 'loaded', { rows: 4, jobKey, jobRun: 'd' })).toEqual(['d']);
    // the job redone after a crash (or a fresh load job after a transform redo) reports again: counted once
    expect(await runs.recordOutcome('od', 'kd', 'loaded', { rows: 4, jobKey, jobRun: 'd' })).toEqual([]);
    await redis.del(jobKey);
    expect(await runs.recordOutcome('od', 'kd', 'loaded', { rows: 4, jobRun: 'd' })).toEqual([]);
    // a detach not remembered is not credited
    expect(await runs.recordOutcome('oe', 'ke', 'loaded', { rows: 4, jobRun: 'd' })).toEqual([]);
    expect((await runs.get('d'))!.counts).toMatchObject({ loaded: 1, readings: 4, failed: 0 });
    expect(await redis.keys(`${prefix}:obj:o[de]:*`)).toEqual([]);
  });

  it('an object already settled counts no more for its job’s run, however often a fresh job reports it', async () => {
    await runs.create('t', request);
    await runs.start('t');
    await runs.attach('t', 0, 0, ['ot']);
    expect(
      await runs.recordOutcome('ot', 'kt', 'loaded', { rows: 2, jobKey: `${prefix}:load:ot-1`, jobRun: 't' }),
    ).toEqual([]);
    // the transform redone after its worker was lost enqueues a fresh load job, which finds the object in the ledger
    await redis.hset(`${prefix}:load:ot-2`, 'name', 'readings');
    expect(
      await runs.recordOutcome('ot', 'kt', 'loaded', { rows: 2, jobKey: `${prefix}:load:ot-2`, jobRun: 't' }),
    ).toEqual([]);
    expect(await runs.recordOutcome('ot', 'kt', 'failed', { reason: 'late', jobRun: 't' })).toEqual([]);
    expect((await runs.get('t'))!.counts).toMatchObject({ loaded: 1, readings: 2, failed: 0 });
    await redis.del(`${prefix}:load:ot-2`);
  });

  it('a failed planning is a failed run with the reason', async () => {
    await runs.create('bad', request);
    await runs.fail('bad', 'planning failed: s3://x: AccessDenied');
    const r = await runs.get('bad');
    expect(r!.state).toBe('failed');
    expect(r!.failures[0]!.reason).toMatch(/AccessDenied/);
  });

  it('keeps the index of runs bounded: ids older than the TTL leave it when a run is created', async () => {
    const shortLived = new RunStore(redis, `${prefix}:ttl`, 60);
    const t0 = Date.now();
    vi.useFakeTimers({ toFake: ['Date'], now: t0 });
    try {
      await shortLived.create('old-1', request);
      await shortLived.create('old-2', request);
      vi.setSystemTime(t0 + 61_000);
      await shortLived.create('new-1', request);
      expect(await redis.zrange(`${prefix}:ttl:runs`, '0', '-1')).toEqual(['new-1']);
    } finally {
      vi.useRealTimers();
    }
  });
});
