import { READING_RULE_IDS } from '@pv-pipeline/core';
import { describe, expect, it } from 'vitest';
import { uniqueSensorNames } from '../../src/catalog/sensor-names.js';
import { parseCell, READING_RULES, ruleForValue, SENTINELS } from '../../src/rules/reading-rules.js';

describe('the reading rules', () => {
  it('are one ordered list, one rule per id, each with what it drops', () => {
    expect(READING_RULES.map((r) => r.id)).toEqual([...READING_RULE_IDS]);
    for (const r of READING_RULES) expect(r.description.length).toBeGreaterThan(20);
    expect(SENTINELS).toEqual([-999, -7999, -9999, -99999]);
  });

  it('sort every cell: a number, a rule that drops it, or not a number at all', () => {
    const cases: Array<[string, number | string | undefined]> = [
      ['12.5', 12.5],
      ['-3', -3],
      ['1e3', 1000],
      [' 7 ', 7],
      ['-999', -999], // a sentinel is a number; ruleForValue drops it
      ['', 'missing'],
      ['  ', 'missing'],
      ['NaN', 'missing'],
      ['nan', 'missing'],
      ['-NaN', 'missing'],
      ['null', 'missing'],
      ['NA', 'missing'],
      ['N/A', 'missing'],
      ['None', 'missing'],
      ['#N/A', 'missing'],
      ['Infinity', 'non_finite'],
      ['-inf', 'non_finite'],
      ['INF', 'non_finite'],
      ['1e999', 'non_finite'],
      ['-1e400', 'non_finite'],
      ['0x1A', 'non_finite'],
      ['0X1a', 'non_finite'],
      ['0b101', 'non_finite'],
      ['0o17', 'non_finite'],
      ['abc', undefined],
      ['1,5', undefined],
      ['0x', undefined],
      ['12abc', undefined],
    ];
    for (const [cell, want] of cases) expect(parseCell(cell), JSON.stringify(cell)).toBe(want);
  });

  it('judge numeric values: NaN missing, ±Infinity non-finite, sentinels exactly', () => {
    expect(ruleForValue(Number.NaN)).toBe('missing');
    expect(ruleForValue(Number.POSITIVE_INFINITY)).toBe('non_finite');
    expect(ruleForValue(Number.NEGATIVE_INFINITY)).toBe('non_finite');
    for (const s of SENTINELS) expect(ruleForValue(s)).toBe('sentinel');
    for (const v of [-998, -999.5, 0, -8, 1e6]) expect(ruleForValue(v)).toBeNull();
  });

  it('never merge channels: names two metric ids share get the metric id, whatever the order', () => {
    const e = (metric_id: number, sensor: string) => ({
      ss_id: 1,
      metric_id,
      sensor,
      common_name: null,
      standard_name: null,
      raw_units: null,
      units: null,
      calc_scale: null,
      calc_offset: null,
      aggregation_type: null,
      source_type: null,
      source_column: sensor,
      interval_s: null,
    });
    const named = uniqueSensorNames([e(2, 'ac_power'), e(1, 'ac_power'), e(3, 'dc_power')]).map((x) => x.sensor);
    expect(named).toEqual(['ac_power__2', 'ac_power__1', 'dc_power']);
    // the same channel twice (one metric id) is one channel
    expect(uniqueSensorNames([e(5, 'temp'), e(5, 'temp')]).map((x) => x.sensor)).toEqual(['temp', 'temp']);
  });
});
