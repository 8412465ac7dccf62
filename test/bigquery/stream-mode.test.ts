import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BadInputError, RetryableError } from '@pv-pipeline/core';
import { BigQuerySink } from '@pv-pipeline/sinks';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type BigQueryFake, startBigQueryFake } from '../support/bigquery-fake/index.js';
import { duplicateKeysSql, manifestOf, perSensorSql, stageFile } from '../support/bigquery-fake/test-helpers.js';
import { runCli, SAMPLE_MIRROR } from '../support/cli.js';
import { query } from '../support/duckdb.js';

describe('BigQuery stream mode (insertAll)', () => {
  let fake: BigQueryFake;
  let work: string;
  let sink: BigQuerySink;

  beforeAll(async () => {
    fake = await startBigQueryFake();
    work = mkdtempSync(join(tmpdir(), 'pv-bq-stream-'));
    sink = new BigQuerySink({
      projectId: 'proj',
      datasetId: 'direct',
      mode: 'stream',
      apiEndpoint: fake.url,
      retry: { baseMs: 20 },
    });
    await sink.init();
  });
  afterAll(async () => {
    await sink.close();
    await fake.stop();
    rmSync(work, { recursive: true, force: true });
  });

  it('a small incremental run gives the rows the DuckDB sink gives; a rerun adds nothing', async () => {
    const pick = ['--systems', '4', '--from', '2015-06-01', '--to', '2015-06-03'];
    const db = join(work, 'reference.duckdb');
    const ref = await runCli(['run', '--source', `file://${SAMPLE_MIRROR}`, ...pick, '--sink', `duckdb://${db}`]);
    expect(ref.code, ref.stderr).toBe(0);
    const args = [
      'run',
      '--source',
      `file://${SAMPLE_MIRROR}`,
      ...pick,
      '--sink',
      'bigquery://proj/streamed?mode=stream',
      '--bigquery-endpoint',
      fake.url,
      '--json',
    ];
    const r = await runCli(args);
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout).counts).toMatchObject({ planned: 3, loaded: 3, failed: 0 });
    expect(await fake.sql(perSensorSql('streamed.pv_readings'))).toEqual(await query(db, perSensorSql('pv_readings')));
    expect(fake.loadJobs().filter((j) => j.info.destination?.startsWith('streamed.'))).toEqual([]);
    const requests = fake.insertAllRequests.filter((x) => x.table === 'streamed.pv_readings');
    expect(requests.length).toBeGreaterThanOrEqual(3);
    for (const x of requests) expect(x.rows).toBeLessThanOrEqual(500);
    const ledger = await fake.sql('SELECT source_key, etag FROM streamed.pv_ingest_ledger ORDER BY 1');
    expect(ledger).toEqual(await query(db, 'SELECT source_key, etag FROM pv_ingest_ledger ORDER BY 1'));

    const again = await runCli(args);
    expect(again.code, again.stderr).toBe(0);
    expect(JSON.parse(again.stdout).counts).toMatchObject({ loaded: 0, skipped: 3 });
    expect(await fake.sql('SELECT count(*) AS n FROM streamed.pv_readings')).toEqual(
      await query(db, 'SELECT count(*) AS n FROM pv_readings'),
    );
  });

  it('a request whose reply was lost is retried by the client with the same insert ids: BigQuery dedups it', async () => {
    const o = { ssId: 4, from: 0, n: 300 };
    const m = manifestOf('a', await stageFile(work, 'a', { ...o, v: 0 }), o);
    let lost = false;
    fake.faults.failRequest = (req) => {
      if (lost || !req.path.endsWith('/insertAll')) return null;
      lost = true;
      return { status: 503, after: true };
    };
    const from = fake.insertAllRequests.length;
    try {
      expect(await sink.commit([m], 'run-a')).toEqual({ rows: 300, replaced: 0 });
    } finally {
      fake.faults.failRequest = undefined;
    }
    const [first, retry] = fake.insertAllRequests.slice(from);
    expect(first).toMatchObject({ rows: 300, inserted: 300, deduped: 0 });
    expect(retry).toMatchObject({ rows: 300, inserted: 0, deduped: 300 });
    expect(retry!.insertIds).toEqual(first!.insertIds);
    expect(new Set(first!.insertIds).size).toBe(300);
    expect(await fake.sql(`SELECT count(*) AS n FROM direct.pv_readings WHERE source_key = 'a'`)).toEqual([{ n: 300 }]);
    expect(await fake.sql(`SELECT etag FROM direct.pv_ingest_ledger WHERE source_key = 'a'`)).toEqual([{ etag: 'e1' }]);
  });

  it('rows that fail transiently are sent again alone, with the same insert ids', async () => {
    const o = { ssId: 4, from: 1000, n: 50 };
    const m = manifestOf('b', await stageFile(work, 'b', { ...o, v: 0 }), o);
    const failedOnce = new Set<string>();
    fake.faults.rowError = (row, index) => {
      const ts = String((row as { timestamp?: string }).timestamp);
      if (index % 10 !== 3 || failedOnce.has(ts)) return false;
      failedOnce.add(ts);
      return true;
    };
    const from = fake.insertAllRequests.length;
    try {
      expect(await sink.commit([m], 'run-b')).toEqual({ rows: 50, replaced: 0 });
    } finally {
      fake.faults.rowError = undefined;
    }
    const [first, retry] = fake.insertAllRequests.slice(from);
    expect(first).toMatchObject({ rows: 50, inserted: 45, errors: 5 });
    expect(retry).toMatchObject({ rows: 5, inserted: 5, errors: 0 });
    expect(retry!.insertIds).toEqual(first!.insertIds.filter((_id, i) => i % 10 === 3));
    expect(await fake.sql(`SELECT count(*) AS n FROM direct.pv_readings WHERE source_key = 'b'`)).toEqual([{ n: 50 }]);
  });

  it('rows BigQuery rejects are reported with their reasons, naming the object; its ledger row is not written', async () => {
    const o = { ssId: 4, from: 2000, n: 20 };
    const m = manifestOf('c', await stageFile(work, 'c', { ...o, v: 0, nullValueAt: 2 }), o);
    const err = await sink.commit([m], 'run-c').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(BadInputError);
    expect((err as BadInputError).input).toBe('c');
    expect((err as Error).message).toMatch(/^c: BigQuery rejected 1 of 20 rows/);
    expect((err as Error).message).toContain(
      'row 3 (ss_id 4, 2020-01-02 09:22:00.000000+00:00, sensor ac_power): invalid: Missing required field: value.',
    );
    expect(await fake.sql(`SELECT count(*) AS n FROM direct.pv_readings WHERE source_key = 'c'`)).toEqual([{ n: 0 }]);
    // a pending marker, never the object's ETag: the next run plans it again
    expect(await fake.sql(`SELECT etag FROM direct.pv_ingest_ledger WHERE source_key = 'c'`)).toEqual([
      { etag: 'pending:e1' },
    ]);
  });

  it('requests stay within 500 rows and the byte limit', async () => {
    const o = { ssId: 5, from: 0, n: 1200 };
    const m = manifestOf('d', await stageFile(work, 'd', { ...o, v: 0 }), o);
    const from = fake.insertAllRequests.length;
    expect(await sink.commit([m], 'run-d')).toEqual({ rows: 1200, replaced: 0 });
    expect(fake.insertAllRequests.slice(from).map((x) => x.rows)).toEqual([500, 500, 200]);

    const small = new BigQuerySink({
      projectId: 'proj',
      datasetId: 'direct',
      mode: 'stream',
      apiEndpoint: fake.url,
      streamMaxBytes: 20_000,
    });
    await small.init();
    try {
      const o2 = { ssId: 6, from: 0, n: 400 };
      const m2 = manifestOf('e', await stageFile(work, 'e', { ...o2, v: 0 }), o2);
      const from2 = fake.insertAllRequests.length;
      await small.commit([m2], 'run-e');
      const sizes = fake.insertAllRequests.slice(from2);
      expect(sizes.length).toBeGreaterThanOrEqual(5);
      for (const x of sizes) expect(x.bytes).toBeLessThanOrEqual(20_000 + 200);
      expect(sizes.reduce((a, x) => a + x.rows, 0)).toBe(400);
    } finally {
      await small.close();
    }
  });

  it('a changed object replaces its rows by source_key (DML), refused while the old rows are in the streaming buffer', async () => {
    const o = { ssId: 7, from: 0, n: 30 };
    fake.engine.streamingBufferMs = 60 * 60_000;
    try {
      const v1 = manifestOf('f', await stageFile(work, 'f1', { ...o, v: 0 }), o, 'e1');
      await sink.commit([v1], 'run-f1');
      const v2 = manifestOf('f', await stageFile(work, 'f2', { ...o, n: 25, v: 1000 }), { ...o, n: 25 }, 'e2');
      const refused = await sink.commit([v2], 'run-f2').catch((e: unknown) => e);
      expect(refused).toBeInstanceOf(RetryableError);
      expect((refused as Error).message).toContain('streaming buffer');
      // nothing lost: the old rows are still there
      expect(await fake.sql(`SELECT count(*) AS n FROM direct.pv_readings WHERE source_key = 'f'`)).toEqual([
        { n: 30 },
      ]);

      fake.engine.streamingBufferMs = 0; // ~30 minutes later
      expect(await sink.commit([v2], 'run-f3')).toEqual({ rows: 25, replaced: 30 });
      expect(
        await fake.sql(`SELECT count(*) AS n, min(value) AS lo FROM direct.pv_readings WHERE source_key = 'f'`),
      ).toEqual([{ n: 25, lo: 1000 }]);
      expect(await fake.sql(`SELECT etag FROM direct.pv_ingest_ledger WHERE source_key = 'f'`)).toEqual([
        { etag: 'e2' },
      ]);
    } finally {
      fake.engine.streamingBufferMs = 0;
    }
    expect((await fake.sql(duplicateKeysSql('direct.pv_readings')))[0]!.n).toBe(0);
  });
});
