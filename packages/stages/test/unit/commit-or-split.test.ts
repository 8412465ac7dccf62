import { describe, expect, it } from 'vitest';
import { commitOrSplit } from '../../src/load/load-batcher.js';

/** A commit that refuses any group holding a bad item, recording every group it was given. */
function committer(bad: ReadonlySet<number>) {
  const attempts: number[][] = [];
  const committed: number[] = [];
  const failed: Array<[number, string]> = [];
  return {
    attempts,
    committed,
    failed,
    commit: async (group: readonly number[]) => {
      attempts.push([...group]);
      const b = group.find((i) => bad.has(i));
      if (b !== undefined) throw new Error(`object ${b} is bad`);
      committed.push(...group);
    },
    fail: async (item: number, err: unknown) => {
      failed.push([item, (err as Error).message]);
    },
  };
}

describe('commitOrSplit', () => {
  it('bisects around one bad object: it fails alone, every other commits once, in 2·log2(n) + 1 commits', async () => {
    const c = committer(new Set([11]));
    const splits: number[] = [];
    const batch = Array.from({ length: 16 }, (_, i) => i);
    await commitOrSplit(batch, c.commit, c.fail, (_err, size) => splits.push(size));
    expect(c.failed).toEqual([[11, 'object 11 is bad']]);
    expect([...c.committed].sort((a, b) => a - b)).toEqual(batch.filter((i) => i !== 11));
    expect(c.attempts).toEqual([
      batch,
      [0, 1, 2, 3, 4, 5, 6, 7],
      [8, 9, 10, 11, 12, 13, 14, 15],
      [8, 9, 10, 11],
      [8, 9],
      [10, 11],
      [10],
      [11],
      [12, 13, 14, 15],
    ]);
    expect(splits).toEqual([16, 8, 4, 2]);
  });

  it('two bad objects in an odd batch: both fail alone with their own error, the rest commit once', async () => {
    const c = committer(new Set([0, 6]));
    const batch = [0, 1, 2, 3, 4, 5, 6];
    await commitOrSplit(batch, c.commit, c.fail);
    expect(c.failed).toEqual([
      [0, 'object 0 is bad'],
      [6, 'object 6 is bad'],
    ]);
    expect([...c.committed].sort((a, b) => a - b)).toEqual([1, 2, 3, 4, 5]);
  });

  it('a batch that commits is one commit; a single object that fails is reported without a split', async () => {
    const ok = committer(new Set());
    await commitOrSplit([1, 2, 3], ok.commit, ok.fail);
    expect(ok.attempts).toEqual([[1, 2, 3]]);
    const one = committer(new Set([5]));
    const splits: number[] = [];
    await commitOrSplit([5], one.commit, one.fail, (_e, n) => splits.push(n));
    expect(one.failed).toEqual([[5, 'object 5 is bad']]);
    expect(splits).toEqual([]);
  });
});
