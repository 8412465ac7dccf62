import { fileURLToPath } from 'node:url';
import { FileObjectStore, monthsInRange, parsePvdataKey, pvdataMonthPrefix } from '@pv-pipeline/pvdaq';
import { describe, expect, it } from 'vitest';
import { ledgerDays, listRunObjects, listSystems, splitByLedger } from '../../src/plan/plan-objects.js';
import { runPages } from '../../src/plan/plan-pages.js';
import { partBytesFromMb, retiredPrizeParts } from '../../src/plan/plan-prize.js';
import type { PlannedObject } from '../../src/plan/planned-object.js';

const SAMPLES = fileURLToPath(new URL('../../../../samples/pvdaq', import.meta.url));
const store = new FileObjectStore(SAMPLES);

describe('planning', () => {
  it('lists a run by system and month prefixes, in key order, only the days in range', async () => {
    const { objects, systems } = await listRunObjects(store, {
      systems: [4, 50],
      from: '2015-06-02',
      to: '2015-06-03',
      format: 'parquet',
    });
    expect(systems).toEqual([4]);
    expect(objects.map((o) => [o.ssId, o.day, o.format])).toEqual([
      [4, '2015-06-02', 'parquet'],
      [4, '2015-06-03', 'parquet'],
    ]);
    expect(objects.every((o) => /^[0-9a-f]{32}$/.test(o.etag) && o.size > 0)).toBe(true);
  });

  it('makes pages only of the years a system has data of: whole years, or months of a part year', async () => {
    const run = { systems: [50, 4], from: '2011-03-05', to: '2022-12-31', format: 'parquet' as const };
    const pages = await runPages(store, run);
    // 50 has 2011, 2012 and 2022 (2013–2021 are empty: no page, no listing); 4 has 2015
    const root = 'parquet/pvdata';
    expect(pages).toEqual([
      ...[3, 4, 5, 6, 7, 8, 9, 10, 11, 12].map((m) => ({
        ssId: 50,
        prefix: `${root}/system_id=50/year=2011/month=${m}/`,
      })),
      { ssId: 50, prefix: `${root}/system_id=50/year=2012/` },
      { ssId: 50, prefix: `${root}/system_id=50/year=2022/` },
      { ssId: 4, prefix: `${root}/system_id=4/year=2015/` },
    ]);
    // the pages hold exactly the objects a listing of every month in range finds
    const months = monthsInRange(run.from, run.to);
    const everyMonth: string[] = [];
    for (const ssId of run.systems) {
      for (const { year, month } of months) {
        for await (const o of store.listObjects(pvdataMonthPrefix('parquet', ssId, year, month)))
          everyMonth.push(o.key);
      }
    }
    const { objects } = await listRunObjects(store, run);
    expect(everyMonth.length).toBeGreaterThan(0);
    const inRange = (k: string) => {
      const { day } = parsePvdataKey(k);
      return day >= run.from && day <= run.to;
    };
    expect(objects.map((o) => o.key)).toEqual(everyMonth.filter(inRange).sort());
  });

  it('a system whose listing names no year folder gets a page for every year in range, as before', async () => {
    const pages = await runPages(store, { systems: [4242], from: '2019-12-01', to: '2021-12-31', format: 'csv' });
    expect(pages.map((p) => p.prefix)).toEqual([
      'csv/pvdata/system_id=4242/year=2019/month=12/',
      'csv/pvdata/system_id=4242/year=2020/',
      'csv/pvdata/system_id=4242/year=2021/',
    ]);
  });

  it('finds every system for `all`: data folders and metrics dictionaries', async () => {
    expect(await listSystems(store, 'parquet')).toEqual([4, 15, 50, 51, 1283]);
    expect(await listSystems(store, 'csv')).toEqual([4, 15, 50, 51, 1283]);
  });

  it('skips what the ledger holds with the same ETag, loads new and changed objects', () => {
    const o = (key: string, etag: string): PlannedObject => ({ key, etag, size: 1, format: 'csv', ssId: 4, day: null });
    const { toLoad, skipped } = splitByLedger(
      [o('a', 'e1'), o('b', 'e2'), o('c', 'e3')],
      new Map([
        ['a', 'e1'],
        ['b', 'old'],
      ]),
    );
    expect(toLoad.map((x) => x.key)).toEqual(['b', 'c']);
    expect(skipped.map((x) => x.key)).toEqual(['a']);
  });

  it('retires prize parts the file no longer has, once', () => {
    const file = '2023-solar-data-prize/2107_OEDI/data/2107_x.csv';
    const part = (start: number, end: number, etag = 'f2'): PlannedObject => ({
      key: `${file}#bytes=${start}-${end}`,
      etag,
      size: end - start + 1,
      format: 'prize',
      ssId: 2107,
      day: null,
    });
    const listed = [part(0, 99)];
    const ledger = new Map([
      [`${file}#bytes=0-99`, 'f1'],
      [`${file}#bytes=100-199`, 'f1'], // the file shrank: this part is gone
      [`${file}#bytes=200-299`, 'retired:f1'], // retired before: not again
      ['2023-solar-data-prize/2105_OEDI/data/y.csv#bytes=0-9', 'g1'], // another file, not listed: kept
    ]);
    expect(retiredPrizeParts(listed, ledger)).toEqual([
      {
        key: `${file}#bytes=100-199`,
        etag: 'retired:f2',
        size: 0,
        format: 'prize',
        ssId: 2107,
        day: null,
        retired: true,
      },
    ]);
  });

  it('reads the ledger of every day for prize runs, and part sizes of at least 1 KiB', () => {
    expect(ledgerDays({ from: '2020-01-01', to: '2020-01-31', format: 'prize' })).toEqual({
      from: '1970-01-01',
      to: '9999-12-31',
    });
    expect(ledgerDays({ from: '2020-01-01', to: '2020-01-31', format: 'csv' })).toEqual({
      from: '2020-01-01',
      to: '2020-01-31',
    });
    expect(partBytesFromMb(16)).toBe(16 * 1024 * 1024);
    expect(partBytesFromMb(0.0000001)).toBe(1024);
  });
});
