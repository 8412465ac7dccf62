import { join } from 'node:path';
import { ListObjectsV2Command } from '@aws-sdk/client-s3';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BigQueryFake, startBigQueryFake } from '../support/bigquery-fake/index.js';
import { numbersOf } from '../support/bigquery-fake/test-helpers.js';
import { runSamplesInline, SAMPLE_MIRROR } from '../support/cli.js';
import { Deployment } from '../support/deployment.js';
import { query } from '../support/duckdb.js';
import { S3RVER_CREDENTIALS } from '../support/s3-server.js';
import { waitFor } from '../support/wait-for.js';

/** Every fact row, whole (timestamps as epoch µs, the same text in DuckDB and in the fake). */
const FACTS = (table: string) =>
  `SELECT ss_id, epoch_us(timestamp) AS ts, epoch_us(measured_on) AS mo, sensor, metric_id, units, value, source_key
   FROM ${table} ORDER BY ALL`;

/**
 * A BigQuery sink in cluster mode with `gs://` staging (Cloud Storage's XML
 * API played by the deployment's s3rver): the workers stage each daily object
 * as a load-ready readings file, the loader's load jobs list their URIs (it
 * moves no rows), the staged files are removed once committed (by the
 * workers: one cleanup job per batch), and the
 * dataset holds exactly the rows an inline run loads into DuckDB.
 */
describe('cluster mode with a BigQuery sink and gs:// staging (load jobs read the workers’ files)', () => {
  const d = new Deployment();
  const inline = join(d.work, 'inline.duckdb');
  let fake: BigQueryFake;

  beforeAll(async () => {
    await d.start(SAMPLE_MIRROR);
    await d.s3.bucket('gcs-staging');
    fake = await startBigQueryFake({ gcsEndpoint: d.s3.endpoint });
    await runSamplesInline(`duckdb://${inline}`);
  });
  afterAll(async () => {
    await d.destroy();
    await fake?.stop();
  });

  it('workers stage readings files in gs://, the loader loads them by URI, and the rows are the inline run’s', async () => {
    const env = {
      PV_SINK: 'bigquery://e2e/cluster',
      BIGQUERY_API_ENDPOINT: fake.url,
      PV_STAGING: 'gs://gcs-staging/pv',
      GCS_ENDPOINT: d.s3.endpoint,
      GCS_HMAC_ACCESS_ID: S3RVER_CREDENTIALS.accessKeyId,
      GCS_HMAC_SECRET: S3RVER_CREDENTIALS.secretAccessKey,
    };
    const staged = async () =>
      ((await d.s3.client.send(new ListObjectsV2Command({ Bucket: 'gcs-staging' }))).Contents ?? []).map(
        (o) => `gs://gcs-staging/${o.Key}`,
      );
    // no loader yet: the staged files wait in the bucket
    const id = await d.transformWithoutLoader(env, 34);
    const files = await staged();
    expect(files).toHaveLength(33); // one sample object has no readings

    d.spawn('loader', 'loader', env);
    const run = await d.finished(id);
    expect(run.counts).toMatchObject({ planned: 34, loaded: 34, failed: 0 });
    await d.stop('loader');
    // every staged file was loaded by URI, none uploaded by the loader; then removed from staging
    const loads = fake.loadJobs();
    expect(BigQueryFake.sourceUris(loads).sort()).toEqual(files.sort());
    expect(loads.every((j) => BigQueryFake.sourceUris([j]).length > 0)).toBe(true);
    // Cloud Storage deletes one file per request: the loader hands each batch's files to the workers as one cleanup job
    const redis = new Redis(d.redis.url);
    try {
      const completedCleanups = async () => {
        const ids = await redis.zrange('{pv}:cleanup:completed', '0', '-1');
        const data = await Promise.all(ids.map((id) => redis.hget(`{pv}:cleanup:${id}`, 'data')));
        return { ids, staged: data.flatMap((d) => (JSON.parse(d!) as { staged: string[] }).staged).sort() };
      };
      // a cleanup job is recorded as completed after it has removed its files: wait for both
      await waitFor(
        async () => (await staged()).length === 0 && (await completedCleanups()).staged.length >= files.length,
        { timeoutMs: 60_000, what: 'the staged files removed by completed cleanup jobs' },
      );
      const cleanups = await completedCleanups();
      expect(cleanups.staged).toEqual(files);
      expect(cleanups.ids.length).toBeLessThan(files.length);
    } finally {
      redis.disconnect();
    }
    const got = numbersOf(await fake.sql(FACTS('cluster.pv_readings')));
    expect(got.length).toBe(run.counts.readings);
    expect(got).toEqual(numbersOf(await query(inline, FACTS('pv_readings'))));
  });
});
