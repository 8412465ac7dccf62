import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { BadInputError, noneDropped } from '@pv-pipeline/core';
import type { SensorEntry } from '@pv-pipeline/schema';
import { describe, expect, it } from 'vitest';
import type { MetricsDictionary } from '../../src/catalog/metrics-dictionary.js';
import { uniqueSensorNames } from '../../src/catalog/sensor-names.js';
import { parseTimeZone } from '../../src/catalog/time-zone.js';
import { readCsvPvdata } from '../../src/readers/csv-pvdata-reader.js';
import { type RawReadings, RawReadingsBuilder } from '../../src/readers/raw-readings.js';
import { LocalTimeResolver } from '../../src/rules/local-time.js';
import { NormalizedBuffers, normalizeReadings } from '../../src/rules/normalize.js';
import { plainRaw } from '../support/plain-raw.js';

const excerpt = (name: string) =>
  readFileSync(fileURLToPath(new URL(`../../../../samples/excerpts/${name}`, import.meta.url)));
const enc = (s: string) => new TextEncoder().encode(s);
const us = (iso: string) => Date.parse(`${iso}Z`) * 1000;

function dictionary(ssId: number, entries: Array<[number, string, string | null]>): MetricsDictionary {
  const list: SensorEntry[] = entries.map(([metric_id, sensor, units]) => ({
    ss_id: ssId,
    metric_id,
    sensor,
    units,
    common_name: null,
    standard_name: null,
    raw_units: units,
    calc_scale: null,
    calc_offset: null,
    aggregation_type: null,
    source_type: null,
    source_column: `${sensor}__${metric_id}`,
    interval_s: null,
  }));
  return {
    ssId,
    key: `parquet/metrics/metrics__system_${ssId}__part000.parquet`,
    entries: list,
    byMetricId: new Map(list.map((e) => [e.metric_id, e])),
  };
}

const KEY = 'csv/pvdata/system_id=4/year=2020/month=1/day=23/system_4__date_2020_01_23.csv';
const ctx = { ssId: 4, knownMetricIds: new Set([315, 319, 1137]) };
const dict4 = dictionary(4, [
  [315, 'ac_power', 'W'],
  [319, 'ac_current', 'A'],
  [1137, 'ac_power_kw', 'kW'],
]);
const zone = (label: string) => new LocalTimeResolver(parseTimeZone(label));

describe('readCsvPvdata', () => {
  it('reads the real SERF West excerpt (unnamed timestamp column, 15 channels)', () => {
    const ids = [779, 773, 778, 780, 785, 777, 776, 775, 774, 772, 784, 781, 782, 783, 771];
    const raw = readCsvPvdata(
      'csv/pvdata/system_id=51/year=2022/month=1/day=2/system_51__date_2022_01_02.csv',
      excerpt('pvanalytics__serf_west_15min.csv'),
      { ssId: 51, knownMetricIds: new Set(ids) },
    );
    expect(new Set(raw.metricId)).toEqual(new Set(ids));
    expect(raw.measuredOn[0]).toBe(us('2022-01-02T00:01:00'));
    expect(raw.metricId[0]).toBe(779);
    expect(raw.value[1]).toBe(-9.05); // ac_power__773 in the first row
    expect(raw.utc).not.toBeNull();
  });

  it('reads a single-underscore id and spreadsheet timestamps (RSF II excerpt)', () => {
    const raw = readCsvPvdata(
      'csv/pvdata/system_id=1283/year=2022/month=1/day=2/system_1283__date_2022_01_02.csv',
      excerpt('pvanalytics__nrel_RSF_II.csv'),
      { ssId: 1283, knownMetricIds: new Set([1137, 1053, 1047, 1049, 1135, 1048, 1050, 1056, 1055, 1054, 1052, 1051]) },
    );
    expect(raw.columnNames?.get(1137)).toBe('ac_power_kw_1137');
    expect(raw.measuredOn[0]).toBe(us('2022-01-02T00:00:00'));
  });

  it('gives no entry for an empty cell or NaN text (counted as missing), and keeps CRLF/BOM/quotes working', () => {
    const csv =
      '\uFEFFmeasured_on,ac_power__315,"ac_current__319",system_id\r\n2020-01-23 09:50:00,,1.5,4\r\n2020-01-23 09:51:00,NaN,"2.5",4\r\n';
    const raw = readCsvPvdata(KEY, enc(csv), ctx);
    expect(raw.length).toBe(2);
    expect(raw.dropped).toEqual({ missing: 2, sentinel: 0, non_finite: 0, duplicate: 0 });
    expect(Array.from(raw.value)).toEqual([1.5, 2.5]);
  });

  it('never takes a non-finite cell for a value: Infinity, overflow and hex are dropped as non_finite (issue #14, defect 5)', () => {
    const cells = ['Infinity', '-Infinity', 'inf', '-INF', '1e999', '-1e999', '0x1A', '0X1a', '0b101', '0o17'];
    const csv = `measured_on,ac_power__315\n${cells.map((c, i) => `2020-01-23 09:${String(10 + i)}:00,${c}`).join('\n')}\n2020-01-23 09:59:00,12.5\n`;
    const raw = readCsvPvdata(KEY, enc(csv), ctx);
    expect(Array.from(raw.value)).toEqual([12.5]);
    expect(raw.dropped).toEqual({ missing: 0, sentinel: 0, non_finite: cells.length, duplicate: 0 });
    const missing = ['nan', 'NaN', 'NAN', '-nan', 'null', 'NA', 'N/A', 'None', '#N/A', ' '];
    const csv2 = `measured_on,ac_power__315\n${missing.map((c, i) => `2020-01-23 09:${String(10 + i)}:00,${c}`).join('\n')}\n`;
    expect(readCsvPvdata(KEY, enc(csv2), ctx).dropped).toEqual({
      missing: missing.length,
      sentinel: 0,
      non_finite: 0,
      duplicate: 0,
    });
  });

  const bad: Array<[string, string, RegExp]> = [
    [
      'non-numeric cell',
      'measured_on,ac_power__315\n2020-01-23 09:50:00,abc\n',
      /line 2, column "ac_power__315": "abc" is not a number/,
    ],
    ['header with no metric ids', 'measured_on,ac_power,temp\n2020-01-23 09:50:00,1,2\n', /no metric ids/],
    [
      'truncated row',
      'measured_on,ac_power__315,ac_current__319\n2020-01-23 09:50:00,1,2\n2020-01-23 09:51:00,1',
      /malformed CSV/,
    ],
    ['unparseable timestamp', 'measured_on,ac_power__315\nsoon,1\n', /line 2: measured_on "soon" is not a timestamp/],
    [
      'duplicate metric column',
      'measured_on,ac_power__315,ac_power_2__315\n2020-01-23 09:50:00,1,2\n',
      /duplicate column for metric_id 315/,
    ],
    [
      'system id disagreeing with the key',
      'measured_on,ac_power__315,system_id\n2020-01-23 09:50:00,1,5\n',
      /system_id 5 disagrees/,
    ],
    ['empty object', '', /empty object/],
  ];
  for (const [name, csv, reason] of bad) {
    it(`fails a ${name} with the key and the reason`, () => {
      let err: unknown;
      try {
        readCsvPvdata(KEY, enc(csv), ctx);
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(BadInputError);
      expect((err as Error).message.startsWith(`${KEY}: `)).toBe(true);
      expect((err as Error).message).toMatch(reason);
    });
  }
});

describe('normalizeReadings', () => {
  const norm = (csv: string, z: LocalTimeResolver | null = zone('7')) =>
    normalizeReadings(readCsvPvdata(KEY, enc(csv), ctx), { key: KEY, ssId: 4, dictionary: dict4, zone: z });
  const rows = (r: ReturnType<typeof norm>) =>
    Array.from(r.timestamp, (t, i) => [
      new Date(t / 1000).toISOString(),
      r.sensors[r.sensorIdx[i]!]!.sensor,
      r.value[i],
    ]);

  it('drops empty, NaN and sentinel readings and localizes measured_on', () => {
    const r = norm(
      'measured_on,ac_power__315,ac_current__319\n2020-01-23 09:50:00,-999,1\n2020-01-23 09:51:00,-7999,\n2020-01-23 09:52:00,-9999,NaN\n2020-01-23 09:53:00,-99999,-5.5\n2020-01-23 09:54:00,-998,0\n',
    );
    expect(r.length).toBe(4);
    expect(r.dropped).toEqual({ missing: 2, sentinel: 4, non_finite: 0, duplicate: 0 });
    expect(Array.from(r.value)).toEqual([1, -5.5, -998, 0]);
    expect(r.timestamp[0]).toBe(us('2020-01-23T16:50:00'));
    expect(r.measuredOn[0]).toBe(us('2020-01-23T09:50:00'));
    expect(r.sensors.map((s) => [s.sensor, s.units])).toEqual([
      ['ac_power', 'W'],
      ['ac_current', 'A'],
    ]);
  });

  it('keeps the last of a repeated (measured_on, metric) in file order', () => {
    const r = norm('measured_on,ac_power__315\n2020-01-23 09:50:00,1\n2020-01-23 09:51:00,2\n2020-01-23 09:50:00,3\n');
    expect(r.length).toBe(2);
    expect(r.dropped.duplicate).toBe(1);
    const byTs = new Map(Array.from(r.timestamp).map((t, i) => [t, r.value[i]]));
    expect(byTs.get(us('2020-01-23T16:50:00'))).toBe(3);
  });

  it('keeps the last of a repeated key when time never goes back, per channel (the run-of-one-instant path)', () => {
    const r = norm(
      'measured_on,ac_power__315,ac_current__319\n2020-01-23 09:50:00,1,7\n2020-01-23 09:50:00,3,\n2020-01-23 09:51:00,2,8\n2020-01-23 09:51:00,,9\n2020-01-23 09:51:00,4,10\n',
    );
    expect(rows(r)).toEqual([
      ['2020-01-23T16:50:00.000Z', 'ac_current', 7],
      ['2020-01-23T16:50:00.000Z', 'ac_power', 3],
      ['2020-01-23T16:51:00.000Z', 'ac_power', 4],
      ['2020-01-23T16:51:00.000Z', 'ac_current', 10],
    ]);
    expect(r.dropped).toEqual({ missing: 2, sentinel: 0, non_finite: 0, duplicate: 4 });
    expect(r.droppedBySensor).toEqual({
      ac_power: { missing: 1, sentinel: 0, non_finite: 0, duplicate: 2 },
      ac_current: { missing: 1, sentinel: 0, non_finite: 0, duplicate: 2 },
    });
  });

  it('keeps, in file order, the last row of every (instant, channel) whatever the order of repeats (against a plain reference)', () => {
    // seeded pseudo-random rows: instants rising (one of three paths) or not, channels and repeats at random
    let seed = 7;
    const random = () => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed / 2 ** 31;
    };
    const ids = [315, 319];
    for (let trial = 0; trial < 60; trial++) {
      const rising = trial % 3 !== 0;
      const n = 1 + Math.floor(random() * 80);
      let minute = 0;
      const entries = Array.from({ length: n }, (_, i): [number, number, number] => {
        if (rising) minute += random() < 0.4 ? 1 : 0;
        else minute = Math.floor(random() * 6);
        return [minute, ids[Math.floor(random() * ids.length)]!, i];
      });
      const t0 = us('2020-01-23T16:00:00');
      const raw: RawReadings = {
        length: n,
        measuredOn: Float64Array.from(entries, ([m]) => t0 + m * 60_000_000),
        utc: Float64Array.from(entries, ([m]) => t0 + m * 60_000_000),
        metricId: Int32Array.from(entries, ([, id]) => id),
        value: Float64Array.from(entries, ([, , v]) => v),
        dropped: noneDropped(),
        droppedByMetric: new Map(),
      };
      const r = normalizeReadings(raw, { key: KEY, ssId: 4, dictionary: dict4, zone: null });
      // the reference: a row is kept when no later row has its key; kept rows in file order
      const expected = entries.filter(
        ([m, id], i) => !entries.slice(i + 1).some(([m2, id2]) => m2 === m && id2 === id),
      );
      const got = Array.from(r.value, (v, i) => [(r.timestamp[i]! - t0) / 60_000_000, r.metricId[i], v]);
      expect({ trial, rows: got }).toEqual({ trial, rows: expected });
      expect(r.dropped.duplicate).toBe(n - expected.length);
    }
  });

  describe('a long object sorted by channel, then time (the instants of each channel rising)', () => {
    const t = (m: number) => us(`2020-01-23T16:${String(50 + m).padStart(2, '0')}:00`);
    /** Raw long readings in the given (minute, metric id, value) order, all with their UTC instant. */
    const raw = (entries: Array<[number, number, number]>): RawReadings => ({
      length: entries.length,
      measuredOn: Float64Array.from(entries, ([m]) => t(m) - 7 * 3_600_000_000),
      utc: Float64Array.from(entries, ([m]) => t(m)),
      metricId: Int32Array.from(entries, ([, id]) => id),
      value: Float64Array.from(entries, ([, , v]) => v),
      dropped: noneDropped(),
      droppedByMetric: new Map(),
    });
    const normLong = (entries: Array<[number, number, number]>) =>
      normalizeReadings(raw(entries), { key: KEY, ssId: 4, dictionary: dict4, zone: null });

    it('keeps every row, in file order, when no key repeats', () => {
      const r = normLong([
        [0, 315, 1],
        [1, 315, 2],
        [2, 315, 3],
        [0, 319, 4],
        [1, 319, 5],
        [2, 319, 6],
      ]);
      expect(rows(r)).toEqual([
        ['2020-01-23T16:50:00.000Z', 'ac_power', 1],
        ['2020-01-23T16:51:00.000Z', 'ac_power', 2],
        ['2020-01-23T16:52:00.000Z', 'ac_power', 3],
        ['2020-01-23T16:50:00.000Z', 'ac_current', 4],
        ['2020-01-23T16:51:00.000Z', 'ac_current', 5],
        ['2020-01-23T16:52:00.000Z', 'ac_current', 6],
      ]);
      expect(r.dropped.duplicate).toBe(0);
    });

    it('keeps the last of a key repeated within a channel', () => {
      const r = normLong([
        [0, 315, 1],
        [1, 315, 2],
        [0, 319, 4],
        [1, 319, 5],
        [1, 319, 7],
        [2, 319, 6],
      ]);
      expect(rows(r)).toEqual([
        ['2020-01-23T16:50:00.000Z', 'ac_power', 1],
        ['2020-01-23T16:51:00.000Z', 'ac_power', 2],
        ['2020-01-23T16:50:00.000Z', 'ac_current', 4],
        ['2020-01-23T16:51:00.000Z', 'ac_current', 7],
        ['2020-01-23T16:52:00.000Z', 'ac_current', 6],
      ]);
      expect(r.dropped).toEqual({ missing: 0, sentinel: 0, non_finite: 0, duplicate: 1 });
      expect(r.droppedBySensor).toEqual({ ac_current: { missing: 0, sentinel: 0, non_finite: 0, duplicate: 1 } });
    });
  });

  it('normalizes batch after batch into one set of buffers, each batch with its own rows, sentinels and duplicates', () => {
    /** Long raw readings (minute, metric id, value), all with their UTC instant. */
    const raw = (entries: Array<[number, number, number]>): RawReadings => ({
      length: entries.length,
      measuredOn: Float64Array.from(entries, ([m]) => us('2020-01-23T09:00:00') + m * 60e6),
      utc: Float64Array.from(entries, ([m]) => us('2020-01-23T16:00:00') + m * 60e6),
      metricId: Int32Array.from(entries, ([, id]) => id),
      value: Float64Array.from(entries, ([, , v]) => v),
      dropped: noneDropped(),
      droppedByMetric: new Map(),
    });
    const into = new NormalizedBuffers();
    const normalize = (entries: Array<[number, number, number]>, buffers?: NormalizedBuffers) => {
      const r = normalizeReadings(raw(entries), {
        key: KEY,
        ssId: 4,
        dictionary: dict4,
        zone: null,
        ...(buffers ? { into: buffers } : {}),
      });
      // every column, row by row, and what the rules dropped
      const columns = Array.from(r.timestamp, (t, i) => [
        t,
        r.measuredOn[i],
        r.sensors[r.sensorIdx[i]!]!.sensor,
        r.metricId[i],
        r.value[i],
      ]);
      return { r, columns, dropped: r.dropped, droppedBySensor: r.droppedBySensor };
    };
    const batches: Array<Array<[number, number, number]>> = [
      // a repeated key and a sentinel
      [
        [0, 315, 1],
        [1, 315, -9999],
        [0, 319, 4],
        [0, 319, 5],
      ],
      // smaller: the buffers hold more than this batch's rows
      [[3, 1137, 2.5]],
      // larger: the buffers grow
      Array.from({ length: 500 }, (_, i): [number, number, number] => [i, i % 2 ? 315 : 319, i / 4]),
      [
        [7, 319, 1],
        [6, 315, Number.NaN],
      ],
    ];
    for (const entries of batches) {
      const reused = normalize(entries, into);
      const { r, ...expected } = normalize(entries);
      expect({ columns: reused.columns, dropped: reused.dropped, droppedBySensor: reused.droppedBySensor }).toEqual(
        expected,
      );
      expect(reused.r.length).toBe(r.length);
    }
    // a batch holds until the next one only: the next writes over it
    const last = normalize([[0, 315, 1]], into).r;
    const next = normalize([[1, 319, 2]], into).r;
    expect(next.value.buffer).toBe(last.value.buffer);
    expect(last.value[0]).toBe(2);
  });

  it('the fall-back hour of a daily CSV: both occurrences kept, each at its true instant (issue #14, defect 1)', () => {
    const r = norm(
      'measured_on,ac_power__315\n2011-11-06 01:00:00,11\n2011-11-06 01:30:00,12\n2011-11-06 01:00:00,21\n2011-11-06 01:30:00,22\n',
      zone('America/Denver'),
    );
    expect(rows(r)).toEqual([
      ['2011-11-06T07:00:00.000Z', 'ac_power', 11],
      ['2011-11-06T07:30:00.000Z', 'ac_power', 12],
      ['2011-11-06T08:00:00.000Z', 'ac_power', 21],
      ['2011-11-06T08:30:00.000Z', 'ac_power', 22],
    ]);
    expect(r.dropped.duplicate).toBe(0);
  });

  it('two channels that share a sensor name stay two channels (issue #14, defect 3)', () => {
    const shared = dictionary(4, [
      [315, 'ac_power', 'W'],
      [319, 'ac_power', 'W'],
    ]);
    const named = uniqueSensorNames(shared.entries);
    const d: MetricsDictionary = { ...shared, entries: named, byMetricId: new Map(named.map((e) => [e.metric_id, e])) };
    const r = normalizeReadings(
      readCsvPvdata(
        KEY,
        enc('measured_on,ac_power__315,ac_power__319\n2020-01-23 09:50:00,1,2\n2020-01-23 09:51:00,3,4\n'),
        ctx,
      ),
      { key: KEY, ssId: 4, dictionary: d, zone: zone('7') },
    );
    expect(rows(r)).toEqual([
      ['2020-01-23T16:50:00.000Z', 'ac_power__315', 1],
      ['2020-01-23T16:50:00.000Z', 'ac_power__319', 2],
      ['2020-01-23T16:51:00.000Z', 'ac_power__315', 3],
      ['2020-01-23T16:51:00.000Z', 'ac_power__319', 4],
    ]);
    expect(named.map((e) => [e.sensor, e.source_column])).toEqual([
      ['ac_power__315', 'ac_power__315'],
      ['ac_power__319', 'ac_power__319'],
    ]);
  });

  it('uses the offset written in the timestamp over the zone', () => {
    const r = norm('measured_on,ac_power__315\n2022-03-18 04:33:00-06:00,1\n');
    expect(r.timestamp[0]).toBe(us('2022-03-18T10:33:00'));
  });

  it('fails an unknown metric id, naming it and its column', () => {
    expect(() => norm('measured_on,ac_power__315,mystery__4242\n2020-01-23 09:50:00,1,2\n')).toThrow(
      /4242 \(mystery__4242\) not in the metrics dictionary/,
    );
  });

  it('an object without rows needs no zone, with a UTC column or without', () => {
    for (const utc of [null, new Float64Array(0)]) {
      const raw: RawReadings = {
        length: 0,
        measuredOn: new Float64Array(0),
        utc,
        metricId: new Int32Array(0),
        value: new Float64Array(0),
        dropped: noneDropped(),
        droppedByMetric: new Map(),
      };
      expect(normalizeReadings(raw, { key: KEY, ssId: 4, dictionary: dict4, zone: null }).length).toBe(0);
    }
  });

  it('fails when neither a UTC column nor a zone can place the readings', () => {
    expect(() => norm('measured_on,ac_power__315\n2020-01-23 09:50:00,1\n', null)).toThrow(/no time zone/);
  });

  it('fails timestamps outside 1970..2100', () => {
    expect(() => norm('measured_on,ac_power__315\n2150-01-23 09:50:00,1\n')).toThrow(/outside 1970..2100/);
  });
});

describe('RawReadingsBuilder', () => {
  it('reads daily CSVs one after another into one builder, each with its own readings and drop counts', () => {
    const csvs = [
      'measured_on,ac_power__315,dc_power__316\n2023-01-01 00:00:00,1,\n2023-01-01 00:01:00,NaN,2.5\n',
      `measured_on,ac_power__315\n${Array.from({ length: 60 }, (_, i) => `2023-01-02 00:${String(i).padStart(2, '0')}:00,${i % 4 ? i : 'Infinity'}`).join('\n')}\n`,
      'measured_on,dc_power__316,ac_power__315\n2023-01-03 00:00:00-07:00,,7\n',
    ];
    const ctx = { ssId: 2, knownMetricIds: new Set([315, 316]) };
    const into = new RawReadingsBuilder(0, true);
    for (const csv of [...csvs, ...csvs.slice().reverse()]) {
      const fresh = plainRaw(readCsvPvdata('k.csv', enc(csv), ctx));
      expect(plainRaw(readCsvPvdata('k.csv', enc(csv), { ...ctx, into }))).toEqual(fresh);
    }
  });

  it('reset empties it for the next batch, its drop counts too, keeping its buffers', () => {
    const fill = (b: RawReadingsBuilder, base: number) => {
      for (let i = 0; i < 40; i++) b.pushCell(base + i, base + i + 0.5, 315 + (i % 3), i % 5 ? i * 1.5 : 'missing');
      b.drop(999, 'non_finite');
    };
    const reused = new RawReadingsBuilder(16, true);
    fill(reused, 0);
    const first = reused.build();
    reused.reset();
    expect(reused.build().length).toBe(0);
    expect(reused.build().dropped).toEqual(noneDropped());
    fill(reused, 1000);
    const fresh = new RawReadingsBuilder(16, true);
    fill(fresh, 1000);
    expect(plainRaw(reused.build())).toEqual(plainRaw(fresh.build()));
    expect(reused.build().dropped).toEqual({ missing: 8, sentinel: 0, non_finite: 1, duplicate: 0 });
    // the first batch's rows were in the same buffers: a build holds until the next reset only
    expect(first.measuredOn.buffer).toBe(reused.build().measuredOn.buffer);
    expect(first.measuredOn[0]).toBe(1001);
  });
});
