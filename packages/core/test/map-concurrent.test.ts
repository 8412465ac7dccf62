import { describe, expect, it } from 'vitest';
import { mapConcurrent } from '../src/map-concurrent.js';

describe('mapConcurrent', () => {
  it('keeps the input order with at most `concurrency` calls in flight', async () => {
    let inFlight = 0;
    let most = 0;
    const out = await mapConcurrent([5, 1, 4, 2, 3], 2, async (n) => {
      most = Math.max(most, ++inFlight);
      await new Promise((r) => setImmediate(r));
      inFlight--;
      return n * 10;
    });
    expect(out).toEqual([50, 10, 40, 20, 30]);
    expect(most).toBe(2);
  });

  it('on the first rejection starts nothing new, and rejects only once the calls in flight have ended', async () => {
    const started: number[] = [];
    const ended: number[] = [];
    let releaseSlow!: () => void;
    const slow = new Promise<void>((r) => {
      releaseSlow = r;
    });
    const run = mapConcurrent([0, 1, 2, 3, 4], 2, async (n) => {
      started.push(n);
      if (n === 0) await slow; // in flight while 1 fails
      if (n === 1) throw new Error('item 1 failed');
      ended.push(n);
      return n;
    });
    let settled = false;
    run.catch(() => undefined).finally(() => (settled = true));
    // item 1 has failed; item 0 is still running, so the whole has not rejected yet
    await new Promise((r) => setImmediate(r));
    expect(settled).toBe(false);
    releaseSlow();
    await expect(run).rejects.toThrow('item 1 failed');
    expect(started).toEqual([0, 1]);
    expect(ended).toEqual([0]);
  });
});
