import { describe, expect, it } from 'vitest';
import { parseAggregations, parseDuration, validateExportRequest } from '../../src/export-options.js';
import { assignSystems, planSplits, systemHash, timeBlocks, timeSplitSql } from '../../src/splits.js';

describe('splits', () => {
  it('time blocks are contiguous on the grid, with the embargo dropped after each boundary', () => {
    // 100 hours from 0, 10 % valid, 20 % test, a 2-hour embargo
    expect(timeBlocks(0, 360_000, 3600, 0.1, 0.2, 7200)).toEqual({
      train: [0, 252_000],
      valid: [259_200, 288_000],
      test: [295_200, 360_000],
    });
    // no valid: train, embargo, test; an embargo not on the grid rounds up to it
    expect(timeBlocks(0, 360_000, 3600, 0, 0.2, 60)).toEqual({
      train: [0, 288_000],
      valid: null,
      test: [291_600, 360_000],
    });
  });

  it('systems go to one split each, by a seeded hash, the same for the same seed', () => {
    const ids = [4, 10, 50, 51, 1283, 1332, 2107, 9069, 7333, 1201];
    const a = assignSystems(ids, 's', 0.2, 0.2);
    expect(assignSystems([...ids].reverse(), 's', 0.2, 0.2)).toEqual(a);
    const count = (split: string) => [...a.values()].filter((s) => s === split).length;
    expect([count('train'), count('valid'), count('test')]).toEqual([6, 2, 2]);
    const ranked = [...ids].sort((x, y) => systemHash('s', x) - systemHash('s', y));
    expect(ranked.slice(0, 2).map((id) => a.get(id))).toEqual(['test', 'test']);
    expect(systemHash('s', 4)).not.toBe(systemHash('t', 4));
    expect(() => assignSystems([4, 10], 's', 0.1, 0.1)).toThrow(/2 system\(s\) cannot fill train, valid and test/);
  });

  it('both: the test systems are held out whole, the others split in time without a test block', () => {
    const request = validateExportRequest({
      interval: '1h',
      split: 'both',
      valid: 0.2,
      test: 0.25,
      seed: 'x',
      embargoS: 3600,
    });
    const plan = planSplits(request, [1, 2, 3, 4], 0, 360_000, 3600);
    expect([...plan.systems.values()]).toEqual(['test']);
    expect(plan.blocks!.test).toBeNull();
    expect(timeSplitSql(plan, 't')).toBe(
      "CASE WHEN t >= 0 AND t < 288000 THEN 'train' WHEN t >= 291600 AND t < 360000 THEN 'valid' END",
    );
  });
});

describe('export options', () => {
  it('parses durations and aggregation overrides, and refuses what they are not', () => {
    expect([
      parseDuration('0', '--embargo'),
      parseDuration('30m', '--embargo'),
      parseDuration('1d', '--embargo'),
    ]).toEqual([0, 1800, 86_400]);
    expect(() => parseDuration('5', '--embargo')).toThrow(/--embargo: "5" is not a duration/);
    expect(parseAggregations('a=last, b=sum')).toEqual({ a: 'last', b: 'sum' });
    expect(() => parseAggregations('a=median')).toThrow(/--agg: "a=median" is not sensor=mean\|last\|sum/);
    expect(() => validateExportRequest({ interval: '2h' as never })).toThrow(/--interval: "2h" is not one of/);
    expect(() => validateExportRequest({ interval: '1h', valid: 0.5, test: 0.5 })).toThrow(/leave nothing to train on/);
    expect(() => validateExportRequest({ interval: '1h', from: '2021-02-30' })).toThrow(
      /--from: "2021-02-30" is not a day/,
    );
  });
});
