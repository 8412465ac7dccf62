import { mkdirSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { DatasetBucket } from '@pv-pipeline/sinks';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runSamplesInline, SAMPLE_MIRROR } from '../support/cli.js';
import { Deployment } from '../support/deployment.js';
import { query } from '../support/duckdb.js';
import { mirrorDataset, queryThroughRecipe } from '../support/parquet-s3-recipe.js';
import { S3RVER_CREDENTIALS } from '../support/s3-server.js';

const readings = (dataset: string) =>
  `SELECT * FROM read_parquet('${join(dataset, 'pv_readings')}/**/*.parquet', hive_partitioning = false) ORDER BY ALL`;

/**
 * A Parquet dataset sink in cluster mode: the workers write the readings files
 * themselves (the loader only moves them into place and commits the ledger),
 * and the dataset holds exactly the rows an inline run writes.
 */
describe('cluster mode with a Parquet dataset sink (workers write the readings files)', () => {
  const d = new Deployment();
  const dataset = join(d.work, 'dataset');
  const inline = join(d.work, 'inline-dataset');

  beforeAll(async () => {
    await d.start(SAMPLE_MIRROR);
    await runSamplesInline(`parquet://${inline}`);
  });
  afterAll(() => d.destroy());

  it('stages final readings files, and the loaded dataset equals the inline one row for row', async () => {
    const env = { PV_SINK: `parquet://${dataset}` };
    // no loader yet: the staged files the workers leave are the dataset's readings files
    const id = await d.transformWithoutLoader(env, 34);
    // one staged file per object with readings (one sample object has none)
    const staged = readdirSync(join(d.work, 'staging')).filter((f) => f.endsWith('.parquet'));
    expect(staged.length).toBe(33);
    const withKey = await query(
      null,
      `SELECT count(DISTINCT file_name) AS n FROM parquet_schema('${join(d.work, 'staging')}/*.parquet') WHERE name = 'source_key'`,
    );
    expect(withKey[0]!.n).toBe(33);
    const columns = await query(
      null,
      `SELECT DISTINCT name FROM parquet_schema('${join(d.work, 'staging')}/*.parquet') WHERE name <> 'duckdb_schema' ORDER BY name`,
    );
    expect(columns.map((c) => c.name)).toEqual([
      'measured_on',
      'metric_id',
      'sensor',
      'source_key',
      'ss_id',
      'timestamp',
      'units',
      'value',
    ]);

    d.spawn('loader', 'loader', env);
    const run = await d.finished(id);
    expect(run.counts).toMatchObject({ planned: 34, loaded: 34, failed: 0 });
    await d.stop('loader');
    const got = await query(null, readings(dataset));
    expect(got.length).toBe(run.counts.readings);
    expect(got).toEqual(await query(null, readings(inline)));
  });
});

/**
 * A Parquet dataset on object storage in cluster mode: the workers put the
 * readings files in the bucket under names of their own, the loader only
 * checks them and writes the ledger, and the dataset read through its ledger
 * (the README's recipe) holds exactly the rows an inline run writes.
 */
describe('cluster mode with a parquet+s3:// sink (workers place the readings files)', () => {
  const d = new Deployment();
  const inline = join(d.work, 'inline-dataset');

  beforeAll(async () => {
    await d.start(SAMPLE_MIRROR);
    await d.s3.bucket('lake');
    mkdirSync(join(d.work, 'staging'), { recursive: true });
    await runSamplesInline(`parquet://${inline}`);
  });
  afterAll(() => d.destroy());

  it('parquet+s3://: the workers place the readings files in the bucket, and the dataset read through its ledger equals the inline one', async () => {
    const env = { PV_SINK: 'parquet+s3://lake/pvdaq' };
    const bucket = new DatasetBucket({
      bucket: 'lake',
      prefix: 'pvdaq',
      endpoint: d.s3.endpoint,
      credentials: S3RVER_CREDENTIALS,
    });
    // no loader yet: the files are in the bucket, and a reader through the ledger sees none of them
    const id = await d.transformWithoutLoader(env, 34);
    const placed = await bucket.list('pv_readings/');
    expect(placed).toHaveLength(33);
    expect(readdirSync(join(d.work, 'staging')), 'placed files are never staged').toEqual([]);
    expect(await bucket.list('pv_ingest_ledger/')).toEqual([]);

    d.spawn('loader', 'loader', env);
    const run = await d.finished(id);
    expect(run.counts).toMatchObject({ planned: 34, loaded: 34, failed: 0 });
    await d.stop('loader');
    // the loader uploaded no readings file of its own: the dataset's files are the workers'
    expect((await bucket.list('pv_readings/')).map((o) => o.key).sort()).toEqual(placed.map((o) => o.key).sort());
    const root = await mirrorDataset(bucket, join(d.work, 'lake-copy'));
    const columns = 'ss_id, "timestamp", measured_on, sensor, metric_id, units, "value", source_key';
    const got = await queryThroughRecipe(root, `SELECT ${columns} FROM pv_readings ORDER BY ALL`);
    expect(got.length).toBe(run.counts.readings);
    expect(got).toEqual(
      await query(
        null,
        `SELECT ${columns} FROM read_parquet('${join(inline, 'pv_readings')}/**/*.parquet', hive_partitioning = false) ORDER BY ALL`,
      ),
    );
    const ledger = await queryThroughRecipe(root, 'SELECT count(*) AS n, sum("rows") AS r FROM pv_ingest_ledger');
    expect(ledger).toEqual([{ n: 34, r: run.counts.readings }]);
  });
});
