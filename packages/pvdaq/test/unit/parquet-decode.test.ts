import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { BadInputError } from '@pv-pipeline/core';
import { describe, expect, it } from 'vitest';
import { decodeParquet, withParquetTable } from '../../src/readers/parquet-decode.js';
import { readParquetPvdata } from '../../src/readers/parquet-pvdata-reader.js';
import type { RawReadings } from '../../src/readers/raw-readings.js';

const SAMPLES = fileURLToPath(new URL('../../../../samples/pvdaq/parquet/pvdata/', import.meta.url));
/** The demo's daily Parquet objects of system 51 (time-major, 1440 rows each). */
const files = readdirSync(SAMPLES, { recursive: true, encoding: 'utf8' })
  .filter((f) => f.startsWith('system_id=51') && f.endsWith('.parquet'))
  .sort()
  .map((f) => ({ key: `parquet/pvdata/${f}`, bytes: readFileSync(join(SAMPLES, f)) }));

/** Every column of raw readings as plain arrays (a copy that no later decode can touch). */
const plain = (r: RawReadings) => ({
  length: r.length,
  measuredOn: Array.from(r.measuredOn),
  utc: r.utc && Array.from(r.utc),
  metricId: Array.from(r.metricId),
  value: Array.from(r.value),
});

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
    const before = plain(first);
    expect(before.length).toBe(1440);
    // the next objects reuse the WebAssembly memory the first one was decoded in
    for (const { key, bytes } of files.slice(1)) readParquetPvdata(key, bytes);
    expect(plain(first)).toEqual(before);
    expect(plain(readParquetPvdata(files[0]!.key, files[0]!.bytes))).toEqual(before);
  });

  it('passes an error of the caller through as it is, and still fails a corrupt file as corrupt', () => {
    const fault = new BadInputError(files[0]!.key, 'a reason of the caller');
    expect(() =>
      withParquetTable(files[0]!.key, files[0]!.bytes, () => {
        throw fault;
      }),
    ).toThrow(fault);
    const cut = files[0]!.bytes.slice();
    cut.fill(0, 8, cut.length - 8);
    expect(() => withParquetTable('cut.parquet', cut, () => 1)).toThrow(/cut\.parquet.*corrupt Parquet/);
    // the memory is still usable after both
    expect(plain(readParquetPvdata(files[1]!.key, files[1]!.bytes)).length).toBe(1440);
  });
});
