import { BadInputError } from '@pv-pipeline/core';
import { describe, expect, it } from 'vitest';
import { parsePrizeFolder, parsePrizeKey } from '../../src/layout/prize-layout.js';
import { monthsInRange, newestSystemsIndexKey, parsePvdataKey } from '../../src/layout/pvdata-layout.js';

describe('the PVDAQ key layout', () => {
  it('parses daily keys with unpadded partitions and padded file dates', () => {
    expect(
      parsePvdataKey(
        'parquet/pvdata/system_id=10/year=2023/month=1/day=1/system_10__date_2023_01_01.snappy.000.parquet',
      ),
    ).toEqual({ format: 'parquet', ssId: 10, day: '2023-01-01' });
    expect(parsePvdataKey('csv/pvdata/system_id=4/year=2020/month=1/day=23/system_4__date_2020_01_23.csv')).toEqual({
      format: 'csv',
      ssId: 4,
      day: '2020-01-23',
    });
    // padded partitions are tolerated
    expect(parsePvdataKey('csv/pvdata/system_id=4/year=2020/month=01/day=03/system_4__date_2020_01_03.csv').day).toBe(
      '2020-01-03',
    );
  });

  it('refuses keys outside the layout, naming the key and the reason', () => {
    const bad: Array<[string, RegExp]> = [
      ['csv/pvdata/system_id=4/2020/system_4__date_2020_01_23.csv', /outside the PVDAQ layout/],
      ['csv/pvdata/system_id=4/year=2020/month=1/day=23/system_5__date_2020_01_23.csv', /names system 5/],
      ['csv/pvdata/system_id=4/year=2020/month=1/day=23/system_4__date_2020_01_24.csv', /disagrees/],
      ['csv/pvdata/system_id=4/year=2021/month=2/day=29/system_4__date_2021_02_29.csv', /no such date/],
      ['csv/pvdata/system_id=4/year=2020/month=1/day=23/system_4__date_2020_01_23.parquet', /must end in .csv/],
    ];
    for (const [key, reason] of bad) {
      expect(() => parsePvdataKey(key), key).toThrow(BadInputError);
      expect(() => parsePvdataKey(key), key).toThrow(reason);
    }
  });

  it('lists the months of a day range and picks the newest systems index', () => {
    expect(monthsInRange('2019-11-30', '2020-02-01')).toEqual([
      { year: 2019, month: 11 },
      { year: 2019, month: 12 },
      { year: 2020, month: 1 },
      { year: 2020, month: 2 },
    ]);
    expect(
      newestSystemsIndexKey(['csv/systems.csv', 'csv/systems_20241231.csv', 'csv/systems_20250729.csv', 'csv/x.csv']),
    ).toBe('csv/systems_20250729.csv');
    expect(newestSystemsIndexKey(['csv/systems.csv'])).toBe('csv/systems.csv');
    expect(newestSystemsIndexKey([])).toBeNull();
  });

  it('reads prize folders and keys, the 5-minute copy of 7333 as system 7334', () => {
    expect(parsePrizeFolder('2023-solar-data-prize/2107_OEDI/')).toEqual({
      ssId: 2107,
      prefix: '2023-solar-data-prize/2107_OEDI/',
    });
    expect(parsePrizeFolder('2023-solar-data-prize/7333_5_min_OEDI/')?.ssId).toBe(7334);
    expect(parsePrizeKey('2023-solar-data-prize/9069_OEDI/data/9069_Combiner DC Input_01.csv')).toMatchObject({
      ssId: 9069,
      file: '9069_Combiner DC Input_01.csv',
    });
    expect(() => parsePrizeKey('2023-solar-data-prize/x_OEDI/data/a.csv')).toThrow(BadInputError);
  });
});
