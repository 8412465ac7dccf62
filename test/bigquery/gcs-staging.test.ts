import { mkdtempSync, rmSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ListObjectsV2Command } from '@aws-sdk/client-s3';
import { BadInputError, loadServiceConfig, type StagedManifest } from '@pv-pipeline/core';
import { openServiceStaging } from '@pv-pipeline/runtime';
import { BigQuerySink, DuckDbSink, ReadingsFileWriter, stagesReadingsFiles } from '@pv-pipeline/sinks';
import { commitStaged, openGcsStagingArea, openStagingArea } from '@pv-pipeline/stages';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BigQueryFake, startBigQueryFake } from '../support/bigquery-fake/index.js';
import { duckRowsOf, manifestOf, stageFile } from '../support/bigquery-fake/test-helpers.js';
import { S3RVER_CREDENTIALS, type S3Server, startS3Server } from '../support/s3-server.js';

const FACTS = `SELECT ss_id, epoch_us(timestamp) AS ts, epoch_us(measured_on) AS mo, sensor, metric_id, units, value, source_key
  FROM pv_readings ORDER BY ALL`;
const LEDGER = 'SELECT source_key, etag, rows FROM pv_ingest_ledger ORDER BY 1';
const BUCKET = 'gcs-staging';

/**
 * BigQuery with `gs://` staging, the loader's side: a worker's readings file
 * in Cloud Storage (here its XML API's stand-in, s3rver) is loaded by a load
 * job that lists its URI, never downloaded by the loader; any other staged
 * file is downloaded and rewritten into the batch's upload as before. The
 * rows are those a DuckDB sink commits from the same objects.
 */
describe('BigQuery load jobs from gs:// staging', () => {
  let s3: S3Server;
  let fake: BigQueryFake;
  let dir: string;
  let duck: DuckDbSink;
  let bq: BigQuerySink;
  const writer = new ReadingsFileWriter();
  const staging = () => openGcsStagingArea(BUCKET, 'pv', { endpoint: s3.endpoint, credentials: S3RVER_CREDENTIALS });
  const keysInStaging = async () =>
    ((await s3.client.send(new ListObjectsV2Command({ Bucket: BUCKET }))).Contents ?? []).map((o) => o.Key).sort();
  const duckRows = (sql: string) => duckRowsOf(duck, sql);
  const bqRows = (sql: string) =>
    fake.sql(
      sql.replaceAll('FROM pv_readings', 'FROM gcs.pv_readings').replaceAll('FROM pv_ingest', 'FROM gcs.pv_ingest'),
    );

  /** An object staged locally (for DuckDB) and in gs:// staging as the worker stages it (readings file, or staged columns). */
  const stage = async (
    name: string,
    o: { ssId: number; from: number; n: number; v: number; nullValueAt?: number },
    readingsFile: boolean,
  ) => {
    const local = manifestOf(`${name}-key`, await stageFile(dir, name, o), o);
    let bytes = await readFile(local.staged!);
    const inGcs: StagedManifest = { ...local };
    if (readingsFile) {
      inGcs.layout = 'pv_readings';
      const out = join(dir, `${name}.readings.parquet`);
      await writer.write(inGcs, local.staged!, out);
      bytes = await readFile(out);
    }
    inGcs.staged = await staging().write(name, bytes);
    return { local, inGcs };
  };

  beforeAll(async () => {
    s3 = await startS3Server();
    await s3.bucket(BUCKET);
    fake = await startBigQueryFake({ gcsEndpoint: s3.endpoint });
    dir = mkdtempSync(join(tmpdir(), 'pv-bq-gcs-'));
    duck = new DuckDbSink({ path: join(dir, 'pv.duckdb') });
    await duck.init();
    bq = new BigQuerySink({ projectId: 'proj', datasetId: 'gcs', apiEndpoint: fake.url, pollIntervalMs: 10 });
    await bq.init();
  });
  afterAll(async () => {
    await writer.close();
    await duck?.close();
    await bq?.close();
    await fake?.stop();
    await s3?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('readings files load by URI, staged columns by upload, in one batch; the rows are DuckDB’s', async () => {
    const a = await stage('a', { ssId: 4, from: 0, n: 10, v: 0 }, true);
    const b = await stage('b', { ssId: 4, from: 5, n: 10, v: 100 }, true); // meets a: precedence decides
    const c = await stage('c', { ssId: 7, from: 0, n: 6, v: 50 }, false); // a prize part's staged columns
    const before = fake.loadJobs().length;
    const got = await commitStaged(bq, staging(), [a.inGcs, b.inGcs, c.inGcs], 'r1');
    const want = await duck.commit([a.local, b.local, c.local], 'r1');
    expect(got).toEqual(want);
    expect(await bqRows(FACTS)).toEqual(await duckRows(FACTS));
    expect(await bqRows(LEDGER)).toEqual(await duckRows(LEDGER));
    const loads = fake.loadJobs().slice(before);
    expect(BigQueryFake.sourceUris(loads).sort()).toEqual([a.inGcs.staged, b.inGcs.staged]);
    expect(loads).toHaveLength(2); // the upload of c, then the URIs
    // what the loader does with a committed batch's staged files: one DELETE each (test/e2e/cluster-bigquery.test.ts)
    await staging().remove([a.inGcs.staged, b.inGcs.staged, c.inGcs.staged]);
    expect(await keysInStaging()).toEqual([]);
  });

  it('a batch with more URIs than one load job takes is loaded by several: the first truncates, the rest append', async () => {
    const chunked = new BigQuerySink({
      projectId: 'proj',
      datasetId: 'gcs',
      apiEndpoint: fake.url,
      pollIntervalMs: 10,
      urisPerLoadJob: 3,
    });
    await chunked.init();
    try {
      const objects = await Promise.all(
        [0, 1, 2, 3, 4, 5, 6].map((i) => stage(`u${i}`, { ssId: 11, from: i * 10, n: 10, v: i }, true)),
      );
      const before = fake.loadJobs().length;
      // handed over out of key order: the chunks follow the keys
      const got = await commitStaged(chunked, staging(), objects.map((o) => o.inGcs).reverse(), 'r-chunks');
      const want = await duck.commit(
        objects.map((o) => o.local),
        'r-chunks',
      );
      expect(got).toEqual(want);
      expect(await bqRows(FACTS)).toEqual(await duckRows(FACTS));
      expect(await bqRows(LEDGER)).toEqual(await duckRows(LEDGER));
      const loads = fake.loadJobs().slice(before);
      const config = (j: (typeof loads)[number]) =>
        (j.resource.configuration as { load: { sourceUris: string[]; writeDisposition: string } }).load;
      expect(loads.map((j) => [config(j).writeDisposition, config(j).sourceUris])).toEqual([
        ['WRITE_TRUNCATE', objects.slice(0, 3).map((o) => o.inGcs.staged)],
        ['WRITE_APPEND', objects.slice(3, 6).map((o) => o.inGcs.staged)],
        ['WRITE_APPEND', objects.slice(6).map((o) => o.inGcs.staged)],
      ]);
      await staging().remove(objects.map((o) => o.inGcs.staged!));
    } finally {
      await chunked.close();
    }
  });

  it('a readings file missing from gs:// fails the batch with its URI; nothing of the batch is committed', async () => {
    const d = await stage('d', { ssId: 9, from: 0, n: 4, v: 1 }, true);
    const gone = { ...d.inGcs, key: 'gone-key', staged: `gs://${BUCKET}/pv/gone.parquet` };
    await expect(commitStaged(bq, staging(), [d.inGcs, gone], 'r2')).rejects.toThrow(
      `notFound: Not found: URI gs://${BUCKET}/pv/gone.parquet`,
    );
    expect(await bqRows(LEDGER)).toEqual(await duckRows(LEDGER));
    expect(await bqRows(FACTS)).toEqual(await duckRows(FACTS));
  });

  it('staged columns with a NULL in a REQUIRED column (the upload) fail the load job with BigQuery’s reason; nothing is committed', async () => {
    // a worker's readings file never holds one (its writer refuses NULLs), so the staged columns carry it
    const e = await stage('e', { ssId: 9, from: 100, n: 5, v: 1, nullValueAt: 3 }, false);
    await expect(commitStaged(bq, staging(), [e.inGcs], 'r3')).rejects.toThrow(
      /invalid: Error while reading data, error message: Required field value cannot be null/,
    );
    expect(await bqRows(LEDGER)).toEqual(await duckRows(LEDGER));
    expect(await bqRows(FACTS)).toEqual(await duckRows(FACTS));
  });

  it('the fake refuses what BigQuery refuses: more than 10,000 URIs, or a URI outside Cloud Storage', async () => {
    const insert = (sourceUris: string[]) =>
      fetch(`${fake.url}/bigquery/v2/projects/proj/jobs`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({
          jobReference: { jobId: `refused_${sourceUris.length}` },
          configuration: {
            load: { sourceUris, sourceFormat: 'PARQUET', destinationTable: { datasetId: 'gcs', tableId: 'x' } },
          },
        }),
      });
    const many = await insert(Array.from({ length: 10_001 }, (_, i) => `gs://${BUCKET}/f${i}.parquet`));
    expect(many.status).toBe(400);
    expect(await many.text()).toMatch(/Too many source URIs: 10001/);
    const s3Uri = await insert(['s3://elsewhere/f.parquet']);
    expect(s3Uri.status).toBe(400);
    expect(await s3Uri.text()).toMatch(/must be a Google Cloud Storage location: s3:\/\/elsewhere\/f\.parquet/);
  });

  it('workers stage readings files only for a load-mode BigQuery sink with gs:// staging (or a Parquet dataset)', () => {
    expect(stagesReadingsFiles('bigquery://p/d', 'gs://b/pv')).toBe(true);
    expect(stagesReadingsFiles('bigquery://p/d?mode=stream', 'gs://b/pv')).toBe(false);
    expect(stagesReadingsFiles('bigquery://p/d', 's3://b/pv')).toBe(false);
    expect(stagesReadingsFiles('bigquery://p/d', 'file:///staging')).toBe(false);
    expect(stagesReadingsFiles('duckdb://./x.duckdb', 'gs://b/pv')).toBe(false);
    expect(stagesReadingsFiles('parquet:///data/ds', 'file:///staging')).toBe(true);
    // the sink's own URL rules: a mode it does not know is an error naming the variable
    expect(() => stagesReadingsFiles('bigquery://p/d?mode=streaming', 'gs://b/pv')).toThrow(
      'PV_SINK: mode=streaming is neither load nor stream',
    );
  });

  it('gs:// staging: URIs under gs://, and Cloud Storage without both halves of an HMAC key is refused naming the missing one', () => {
    expect(openStagingArea('gs://bkt/some/prefix/').url).toBe('gs://bkt/some/prefix');
    const env = { PV_STAGING: 'gs://bkt/pv', GCS_HMAC_ACCESS_ID: 'GOOG1EXAMPLE' };
    expect(() => openServiceStaging(loadServiceConfig(env))).toThrow(BadInputError);
    expect(() => openServiceStaging(loadServiceConfig(env))).toThrow(/^GCS_HMAC_SECRET: is needed for gs:\/\/bkt\/pv/);
    // Cloud Storage itself never gets the source's AWS credentials: no key at all is refused too
    expect(() => openServiceStaging(loadServiceConfig({ PV_STAGING: 'gs://bkt/pv' }))).toThrow(/^GCS_HMAC_ACCESS_ID: /);
    // an emulator (GCS_ENDPOINT) may go without; other staging ignores the GCS key
    const emulator = { PV_STAGING: 'gs://bkt/pv', GCS_ENDPOINT: 'http://127.0.0.1:9' };
    expect(openServiceStaging(loadServiceConfig(emulator)).url).toBe('gs://bkt/pv');
    expect(openServiceStaging(loadServiceConfig({ PV_STAGING: 's3://b/p', GCS_HMAC_ACCESS_ID: 'x' })).url).toBe(
      's3://b/p',
    );
  });
});
