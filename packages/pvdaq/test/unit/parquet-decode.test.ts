import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { BadInputError } from '@pv-pipeline/core';
import * as arrow from 'apache-arrow';
import * as pw from 'parquet-wasm/node';
import { describe, expect, it } from 'vitest';
import { decodeParquet, withParquetTable } from '../../src/readers/parquet-decode.js';
import { readParquetPvdata } from '../../src/readers/parquet-pvdata-reader.js';
import { RawColumnBuffers } from '../../src/readers/raw-readings.js';
import { plainRaw } from '../support/plain-raw.js';

const SAMPLES = fileURLToPath(new URL('../../../../samples/pvdaq/parquet/pvdata/', import.meta.url));
/** The demo's daily Parquet objects of system 51 (time-major, 1440 rows each). */
const files = readdirSync(SAMPLES, { recursive: true, encoding: 'utf8' })
  .filter((f) => f.startsWith('system_id=51') && f.endsWith('.parquet'))
  .sort()
  .map((f) => ({ key: `parquet/pvdata/${f}`, bytes: readFileSync(join(SAMPLES, f)) }));

describe('decoding Parquet without copying out of WebAssembly memory', () => {
  it('the samples are there to read', () => {
    expect(files.length).toBeGreaterThanOrEqual(4);
  });

  it('gives the same columns as the copying decode', () => {
    for (const { key, bytes } of files) {
      const copied = decodeParquet(key, bytes);
      const names = copied.schema.fields.map((f) => f.name);
      const viewed = withParquetTable(key, bytes, (t) => ({
        names: t.schema.fields.map((f) => f.name),
        columns: names.map((n) => Array.from(t.getChild(n)!.toArray() as ArrayLike<unknown>)),
      }));
      expect(viewed.names).toEqual(names);
      expect(viewed.columns).toEqual(names.map((n) => Array.from(copied.getChild(n)!.toArray() as ArrayLike<unknown>)));
    }
  });

  it('readings read earlier keep their values while later objects are decoded into the same memory', () => {
    const first = readParquetPvdata(files[0]!.key, files[0]!.bytes);
    const before = plainRaw(first);
    expect(before.length).toBe(1440);
    // the next objects reuse the WebAssembly memory the first one was decoded in
    for (const { key, bytes } of files.slice(1)) readParquetPvdata(key, bytes);
    expect(plainRaw(first)).toEqual(before);
    expect(plainRaw(readParquetPvdata(files[0]!.key, files[0]!.bytes))).toEqual(before);
  });

  it('passes an error of the caller through as it is, and still fails a corrupt file as corrupt', () => {
    const fault = new BadInputError(files[0]!.key, 'a reason of the caller');
    expect(() =>
      withParquetTable(files[0]!.key, files[0]!.bytes, () => {
        throw fault;
      }),
    ).toThrow(fault);
    // a copy (Buffer.slice would be a view, and the fill below would corrupt the sample for later tests)
    const cut = Uint8Array.from(files[0]!.bytes);
    cut.fill(0, 8, cut.length - 8);
    expect(() => withParquetTable('cut.parquet', cut, () => 1)).toThrow(/cut\.parquet.*corrupt Parquet/);
    // the memory is still usable after both
    expect(plainRaw(readParquetPvdata(files[1]!.key, files[1]!.bytes)).length).toBe(1440);
  });
});

/** A vector of Arrow `type` over `data`, nulls where `valid` says (every row valid by default). */
function vectorOf(type: arrow.DataType, data: ArrayLike<number> | BigInt64Array, valid?: boolean[]): arrow.Vector {
  const nullBitmap = valid && new Uint8Array(Math.ceil(valid.length / 8));
  valid?.forEach((v, i) => {
    if (v) nullBitmap![i >> 3]! |= 1 << (i & 7);
  });
  return arrow.makeVector(
    arrow.makeData({
      type,
      length: data.length,
      data,
      ...(valid ? { nullBitmap, nullCount: valid.filter((v) => !v).length } : {}),
    } as never),
  );
}

/** A Parquet object of `n` rows from 2023-03-12 06:00 UTC (across Denver's spring-forward), columns as asked. */
function variant(
  n: number,
  opts: { zone?: string; utc?: boolean; text?: boolean; metricIds?: number[]; int64Ids?: boolean },
): Uint8Array {
  const t0 = Date.UTC(2023, 2, 12, 6) * 1000;
  const instants = BigInt64Array.from({ length: n }, (_, i) => BigInt(t0 + Math.floor(i / 3) * 60_000_000));
  const metric = Array.from({ length: n }, (_, i) =>
    opts.metricIds ? opts.metricIds[i % opts.metricIds.length]! : 315 + (i % 3),
  );
  const value = Float64Array.from({ length: n }, (_, i) => (i % 7 === 0 ? -99999 : i * 0.25));
  const valid = Array.from({ length: n }, (_, i) => i % 11 !== 5);
  const columns: Record<string, arrow.Vector> = {};
  if (opts.text) {
    const iso = (us: bigint) => new Date(Number(us / 1000n)).toISOString().slice(0, 19).replace('T', ' ');
    columns.measured_on = arrow.vectorFromArray([...instants].map(iso), new arrow.Utf8());
    columns.metric_id = arrow.vectorFromArray([...metric].map(String), new arrow.Utf8());
    columns.value = arrow.vectorFromArray(
      [...value].map((v, i) => (valid[i] ? String(v) : i % 2 ? 'NaN' : null)),
      new arrow.Utf8(),
    );
  } else {
    columns.measured_on = vectorOf(new arrow.TimestampMicrosecond(opts.zone ?? null), instants);
    if (opts.utc) columns.utc_measured_on = vectorOf(new arrow.TimestampMicrosecond(), instants, valid);
    columns.metric_id = opts.int64Ids
      ? vectorOf(new arrow.Int64(), BigInt64Array.from(metric, BigInt))
      : vectorOf(new arrow.Int32(), Int32Array.from(metric));
    columns.value = vectorOf(new arrow.Float64(), value, valid);
  }
  const ipc = arrow.tableToIPC(new arrow.Table(columns), 'stream');
  return pw.writeParquet(pw.Table.fromIPCStream(ipc));
}

describe('decoding daily Parquet objects one after another into one set of buffers', () => {
  const objects: Array<[string, Uint8Array]> = [
    ['a sample', files[0]!.bytes],
    ['measured_on as Denver instants, no UTC column', variant(3000, { zone: 'America/Denver' })],
    ['text columns (timestamps, ids and values as strings)', variant(500, { text: true })],
    [
      'measured_on as Denver instants beside a UTC column with nulls',
      variant(4500, { zone: 'America/Denver', utc: true }),
    ],
    ['local measured_on, a UTC column with nulls', variant(700, { utc: true })],
    ['64-bit metric ids', variant(800, { utc: true, int64Ids: true })],
    ['another sample', files[1]!.bytes],
  ];

  it('gives every object the same readings as a read of its own, whatever the object before it', () => {
    const into = new RawColumnBuffers();
    for (const [label, bytes] of [...objects, ...objects.slice().reverse()]) {
      const fresh = plainRaw(readParquetPvdata(label, bytes));
      expect({ label, ...plainRaw(readParquetPvdata(label, bytes, into)) }).toEqual({ label, ...fresh });
    }
  });

  it('fails a metric id out of the 32-bit range PVDAQ uses, naming its row, whatever the column type', () => {
    const cases: Array<[number[], boolean, RegExp]> = [
      [[315, -5], false, /bad\.parquet: row 2: metric_id -5 is beyond/],
      [[315, -5], true, /bad\.parquet: row 2: metric_id -5 is beyond/],
      [[315, 316, 2 ** 31], true, /bad\.parquet: row 3: metric_id 2147483648 is beyond/],
    ];
    for (const [metricIds, int64Ids, error] of cases) {
      const bytes = variant(10, { utc: true, metricIds, int64Ids });
      expect(() => readParquetPvdata('bad.parquet', bytes, new RawColumnBuffers())).toThrow(error);
    }
  });

  it('the zoned objects really are read as instants: local wall times an hour apart across spring-forward', () => {
    const r = readParquetPvdata('zoned', variant(3000, { zone: 'America/Denver' }), new RawColumnBuffers());
    // 2023-03-12 09:00 UTC is 03:00 MDT; a minute before it was 01:59 MST
    const at = (us: number) => r.measuredOn[Array.from(r.utc!).indexOf(us)];
    expect(at(Date.UTC(2023, 2, 12, 9) * 1000)).toBe(Date.UTC(2023, 2, 12, 3) * 1000);
    expect(at(Date.UTC(2023, 2, 12, 8, 59) * 1000)).toBe(Date.UTC(2023, 2, 12, 1, 59) * 1000);
  });

  it('a read holds until the next read into the same buffers; an object above the bound gets columns of its own', () => {
    const into = new RawColumnBuffers(1000);
    const small = readParquetPvdata('small', variant(900, { utc: true }), into);
    const kept = plainRaw(small);
    const large = readParquetPvdata('large', variant(1200, { utc: true }), into);
    // above the bound: the small object's readings are untouched, the large one's are not in the buffers
    expect(plainRaw(small)).toEqual(kept);
    expect(large.measuredOn.buffer).not.toBe(small.measuredOn.buffer);
    const next = readParquetPvdata('next', variant(600, { zone: 'America/Denver' }), into);
    // within the bound: the same buffers, so the small object's readings are gone
    expect(next.measuredOn.buffer).toBe(small.measuredOn.buffer);
    expect(plainRaw(small)).not.toEqual(kept);
    expect(plainRaw(large)).toEqual(plainRaw(readParquetPvdata('large', variant(1200, { utc: true }))));
  });
});
