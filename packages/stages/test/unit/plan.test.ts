import { fileURLToPath } from 'node:url';
import { FileObjectStore } from '@pv-pipeline/pvdaq';
import { describe, expect, it } from 'vitest';
import { ledgerDays, listRunObjects, listSystems, splitByLedger } from '../../src/plan/plan-objects.js';
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
