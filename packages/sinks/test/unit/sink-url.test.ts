import { BadInputError } from '@pv-pipeline/core';
import { describe, expect, it } from 'vitest';
import { isObjectDatasetUrl, isParquetDatasetUrl, openSink } from '../../src/open-sink.js';
import { ObjectParquetSink } from '../../src/parquet-s3/object-parquet-sink.js';

describe('sink URLs: one parser, one strictness, errors naming where the URL came from', () => {
  it('opens each sink, trimmed and with its parameters', () => {
    expect(openSink('  duckdb:///tmp/x.duckdb?memory_limit=64MB&threads=2 ').url).toBe('duckdb:///tmp/x.duckdb');
    expect(openSink('parquet:///tmp/ds?threads=1').url).toBe('parquet:///tmp/ds?threads=1');
    expect(openSink('bigquery://my-proj/my_ds?mode=stream&location=EU').url).toBe(
      'bigquery://my-proj/my_ds?mode=stream',
    );
    const s3 = openSink(' PARQUET+S3://pv-lake/datasets/pvdaq/?threads=2', { s3Endpoint: 'http://127.0.0.1:9' });
    expect(s3.url).toBe('parquet+s3://pv-lake/datasets/pvdaq');
    expect(s3).toBeInstanceOf(ObjectParquetSink);
    expect((s3 as ObjectParquetSink).bucket.uri('pv_readings/x.parquet')).toBe(
      's3://pv-lake/datasets/pvdaq/pv_readings/x.parquet',
    );
    expect(openSink('parquet+s3://pv-lake').url).toBe('parquet+s3://pv-lake');
    expect(isParquetDatasetUrl('parquet+s3://b/p') && isObjectDatasetUrl('parquet+s3://b/p')).toBe(true);
    expect(isObjectDatasetUrl('parquet:///tmp/ds')).toBe(false);
  });

  it('refuses unknown or repeated parameters and bad values in every sink alike', () => {
    const cases: Array<[string, RegExp]> = [
      ['duckdb:///tmp/x.duckdb?memorylimit=1GB', /unknown parameter memorylimit \(known: memory_limit, threads\)/],
      ['parquet:///tmp/ds?mode=stream', /unknown parameter mode/],
      ['bigquery://p/d?threads=2', /unknown parameter threads \(known: mode, location\)/],
      ['duckdb:///tmp/x.duckdb?threads=2&threads=3', /gives threads twice/],
      ['duckdb:///tmp/x.duckdb?threads=0', /threads=0 is not a whole number ≥ 1/],
      ['parquet:///tmp/ds?memory_limit=lots', /memory_limit=lots is not a size/],
      ['duckdb://', /names no path/],
      ['parquet://%zz', /malformed percent-escape/],
      ['postgres://db', /has no known scheme/],
      ['parquet+s3://Bad_Bucket/p', /"Bad_Bucket" is not a valid bucket name/],
      ['parquet+s3://key:secret@bucket/p', /credentials must not be put in the sink URL/],
      ['parquet+s3://bucket/a//b', /empty path segment/],
      ['parquet+s3://bucket/p?mode=stream', /unknown parameter mode \(known: memory_limit, threads\)/],
      ['parquet+s3://', /names no path/],
    ];
    for (const [url, reason] of cases) {
      expect(() => openSink(url), url).toThrow(BadInputError);
      expect(() => openSink(url), url).toThrow(reason);
    }
  });

  it('never echoes a parameter value (a secret in a query stays out of messages)', () => {
    expect(() => openSink('bigquery://p/d?key=s3cr3t')).toThrow(
      /^--sink: "bigquery:\/\/p\/d" has an unknown parameter key/,
    );
    try {
      openSink('duckdb:///x?token=s3cr3t');
    } catch (err) {
      expect((err as Error).message).not.toContain('s3cr3t');
    }
  });

  it('names the flag or the variable the URL came from', () => {
    expect(() => openSink('duckdb:///x?bogus=1')).toThrow(/^--sink: /);
    expect(() => openSink('duckdb:///x?bogus=1', { from: 'PV_SINK' })).toThrow(/^PV_SINK: /);
    expect(() => openSink('nope', { from: 'PV_SINK' })).toThrow(/^PV_SINK: "nope" has no known scheme/);
  });
});
