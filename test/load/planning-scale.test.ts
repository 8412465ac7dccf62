import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { ROOT } from '../support/cli.js';
import { startRedis } from '../support/redis-server.js';
import type { PlanningFigures } from './plan-synthetic.js';

const run = promisify(execFile);

/** Plans `systems × days` synthetic objects in a process of its own, against a redis-server of its own. */
async function planIn(args: string[]): Promise<PlanningFigures> {
  const redis = await startRedis();
  try {
    const { stdout } = await run(
      `${ROOT}node_modules/.bin/tsx`,
      ['test/load/plan-synthetic.ts', '--redis', redis.url, ...args],
      { cwd: ROOT, timeout: 600_000, maxBuffer: 1 << 20 },
    );
    return JSON.parse(stdout.trim().split('\n').pop()!) as PlanningFigures;
  } finally {
    await redis.destroy();
  }
}

/**
 * The planner at archive scale: the real planner and a real Redis over a
 * synthetic listing (a test double of the store interface only). Nothing is
 * transformed; the harness settles queued jobs as loaded whenever the planner
 * steps aside at its high-water mark (see plan-synthetic.ts).
 */
describe('planning the whole archive in pages (real planner, real Redis, own redis-server per run)', () => {
  it('plans 1,000,000 objects with planner RSS and Redis memory within 1.5x of a 10,000-object run', async () => {
    const small = await planIn(['--systems', '10', '--days', '1000']);
    const large = await planIn(['--systems', '1000', '--days', '1000']);
    console.log(`planning figures\n  10,000: ${JSON.stringify(small)}\n  1,000,000: ${JSON.stringify(large)}`);
    const finished = { state: 'completed', leftQueued: 0, leftObjectHashes: 0, finalizeEnqueued: true };
    // 1,000 days from 2015-01-01: 2015 and 2016 as year pages, 9 month pages of 2017
    expect(small).toMatchObject({ ...finished, planned: 10_000, loaded: 10_000, pages: 110, pagesDone: 110 });
    expect(large).toMatchObject({
      ...finished,
      planned: 1_000_000,
      loaded: 1_000_000,
      pages: 11_000,
      pagesDone: 11_000,
    });
    // never more than the high-water mark and one page (a year: 366 objects) queued
    expect(large.peakQueued).toBeLessThanOrEqual(10_000 + 366);
    expect(large.pauses).toBeGreaterThanOrEqual(99);
    expect(large.peakRssMb).toBeLessThanOrEqual(1.5 * small.peakRssMb);
    expect(large.redisPeakMb).toBeLessThanOrEqual(1.5 * small.redisPeakMb);
  }, 900_000);

  it('cancels a run halfway: its queued jobs go, what loaded stays counted, nothing is left attached', async () => {
    const f = await planIn(['--systems', '40', '--days', '1000', '--high-water', '5000', '--cancel-at', '20000']);
    // cancelled at its 5th pause: 20,000 planned (220 of 440 pages), 15,000 settled, 5,000 queued removed
    expect(f).toMatchObject({
      state: 'cancelled',
      pages: 440,
      pagesDone: 220,
      planned: 20_000,
      loaded: 15_000,
      removedByCancel: 5_000,
      leftQueued: 0,
      leftObjectHashes: 0,
      finalizeEnqueued: true,
    });
  }, 300_000);
});
