import { describe, expect, it } from 'vitest';
import { type LoadFigures, runLoad } from './load-harness.js';

/** The short form of `npm run load`: outcomes only, never timings. */
describe('load on loopback (short form of npm run load)', () => {
  let f: LoadFigures;

  it('answers every request of the burst and while queued runs are worked through, with no 5xx', async () => {
    f = await runLoad({ requests: 200, concurrency: 32, triggerEvery: 10, queuedRuns: 60, keepCompleted: 20 });
    const answered = Object.values(f.statuses).reduce((a, b) => a + b, 0);
    expect(answered).toBe(f.options.requests + f.readsDuringJobs.count);
    expect(f.statuses['0'] ?? 0).toBe(0);
    expect(Object.keys(f.statuses).filter((s) => Number(s) >= 500)).toEqual([]);
    // triggers are 202 until the per-client rate limit, then 429; reads are 200
    expect(Object.keys(f.statuses).sort()).toEqual(expect.arrayContaining(['200', '202']));
    expect(Object.keys(f.statuses).every((s) => ['200', '202', '429'].includes(s))).toBe(true);
  }, 180_000);

  it('finishes every queued run, keeps only the configured completed jobs, and Redis stays small', () => {
    expect(f.runsFinished).toBe(f.options.queuedRuns);
    // real work: every run over the 34 objects of its format, none failed; the 34 CSV objects are new
    // to the warehouse (the burst's triggers load a few Parquet days only), so at least they were loaded
    expect(f.queuedOutcomes.completed).toBe(f.options.queuedRuns);
    expect(f.queuedOutcomes.failed).toBe(0);
    expect(f.queuedOutcomes.loaded + f.queuedOutcomes.skipped).toBe(34 * f.options.queuedRuns);
    expect(f.queuedOutcomes.loaded).toBeGreaterThanOrEqual(34);
    expect(f.queuedOutcomes.readings).toBeGreaterThan(0);
    expect(f.kept.plan!.completed).toBe(f.options.keepCompleted);
    expect(f.redis.usedMemoryPeakBytes).toBeGreaterThan(0);
    expect(f.redis.usedMemoryPeakBytes).toBeLessThan(64 * 1024 * 1024);
  });
});
