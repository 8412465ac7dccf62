import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatasetBucket } from '@pv-pipeline/sinks';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli, SAMPLE_MIRROR, sampleParquetObjects } from '../support/cli.js';
import { query } from '../support/duckdb.js';
import { mirrorDataset, queryThroughRecipe } from '../support/parquet-s3-recipe.js';
import { S3RVER_CREDENTIALS, type S3Server, startS3Server } from '../support/s3-server.js';

const PER_SENSOR = `SELECT ss_id, sensor, units, count(*) AS n, round(sum(value), 6) AS s, min(timestamp) AS t0, max(timestamp) AS t1
  FROM pv_readings GROUP BY ALL ORDER BY ALL`;

/** s3rver's test account, as a user's AWS environment. */
const env = {
  AWS_ACCESS_KEY_ID: S3RVER_CREDENTIALS.accessKeyId,
  AWS_SECRET_ACCESS_KEY: S3RVER_CREDENTIALS.secretAccessKey,
  AWS_REGION: 'us-east-1',
};

describe('pv-pipeline run against an S3-protocol server holding the mirror', () => {
  let s3: S3Server;
  let work: string;

  beforeAll(async () => {
    work = mkdtempSync(join(tmpdir(), 'pv-s3-'));
    s3 = await startS3Server();
    await s3.uploadDir(SAMPLE_MIRROR, 'oedi-mirror', 'pvdaq');
  });
  afterAll(async () => {
    await s3?.stop();
    rmSync(work, { recursive: true, force: true });
  });

  it('gives exactly the rows of the file:// mirror, and re-runs as a no-op', async () => {
    const range = ['--from', '2010-01-01', '--to', '2025-12-31'];
    const s3Db = join(work, 's3.duckdb');
    const fileDb = join(work, 'file.duckdb');
    const args = [
      'run',
      '--source',
      's3://oedi-mirror/pvdaq',
      '--s3-endpoint',
      s3.endpoint,
      ...range,
      '--sink',
      `duckdb://${s3Db}`,
      '--json',
    ];
    const r = await runCli(args, { env });
    expect(r.code, r.stderr).toBe(0);
    const summary = JSON.parse(r.stdout);
    expect(summary.counts.failed).toBe(0);
    expect(summary.counts.loaded).toBeGreaterThan(30);

    const f = await runCli([
      'run',
      '--source',
      `file://${SAMPLE_MIRROR}`,
      ...range,
      '--sink',
      `duckdb://${fileDb}`,
      '--json',
    ]);
    expect(f.code, f.stderr).toBe(0);
    expect(await query(s3Db, PER_SENSOR)).toEqual(await query(fileDb, PER_SENSOR));
    // S3 ETags and file ETags are both content MD5s: the ledgers agree
    expect(await query(s3Db, 'SELECT source_key, etag, rows FROM pv_ingest_ledger ORDER BY 1')).toEqual(
      await query(fileDb, 'SELECT source_key, etag, rows FROM pv_ingest_ledger ORDER BY 1'),
    );

    const again = await runCli(args, { env });
    expect(again.code, again.stderr).toBe(0);
    expect(JSON.parse(again.stdout).counts).toMatchObject({ loaded: 0, skipped: summary.counts.loaded });
  });

  it('writes a parquet+s3:// dataset with the rows of a local one; a re-run is a no-op, and the report reads it', async () => {
    await s3.bucket('lake');
    const range = ['--from', '2010-01-01', '--to', '2025-12-31'];
    const local = join(work, 'local-dataset');
    const args = ['run', '--source', `file://${SAMPLE_MIRROR}`, ...range, '--s3-endpoint', s3.endpoint, '--json'];
    const r = await runCli([...args, '--sink', 'parquet+s3://lake/inline'], { env });
    expect(r.code, r.stderr).toBe(0);
    const summary = JSON.parse(r.stdout);
    expect(summary.counts).toMatchObject({ failed: 0, loaded: sampleParquetObjects() });
    const l = await runCli([...args, '--sink', `parquet://${local}`], { env });
    expect(l.code, l.stderr).toBe(0);

    const bucket = new DatasetBucket({
      bucket: 'lake',
      prefix: 'inline',
      endpoint: s3.endpoint,
      credentials: S3RVER_CREDENTIALS,
    });
    const root = await mirrorDataset(bucket, join(work, 'inline-copy'));
    const columns = 'ss_id, "timestamp", measured_on, sensor, metric_id, units, "value", source_key';
    const got = await queryThroughRecipe(root, `SELECT ${columns} FROM pv_readings ORDER BY ALL`);
    expect(got.length).toBe(summary.counts.readings);
    expect(got).toEqual(
      await query(
        null,
        `SELECT ${columns} FROM read_parquet('${join(local, 'pv_readings')}/**/*.parquet', hive_partitioning = false) ORDER BY ALL`,
      ),
    );
    expect(await queryThroughRecipe(root, 'SELECT * FROM pv_systems ORDER BY ss_id')).toEqual(
      await query(null, `SELECT * FROM '${join(local, 'pv_systems', 'pv_systems.parquet')}' ORDER BY ss_id`),
    );

    const again = await runCli([...args, '--sink', 'parquet+s3://lake/inline'], { env });
    expect(again.code, again.stderr).toBe(0);
    expect(JSON.parse(again.stdout).counts).toMatchObject({ loaded: 0, skipped: summary.counts.loaded });

    const report = await runCli(
      [
        'report',
        '--sink',
        'parquet+s3://lake/inline',
        '--s3-endpoint',
        s3.endpoint,
        '--out',
        join(work, 'q'),
        '--json',
      ],
      { env },
    );
    expect(report.code, report.stderr).toBe(0);
    const localReport = await runCli(
      ['report', '--sink', `parquet://${local}`, '--out', join(work, 'q-local'), '--json'],
      {
        env,
      },
    );
    expect(localReport.code, localReport.stderr).toBe(0);
    const flags = (out: string) =>
      (JSON.parse(out) as { systems: Array<{ ss_id: number; flags: unknown[] }> }).systems.map((x) => [
        x.ss_id,
        x.flags,
      ]);
    expect(flags(report.stdout)).toEqual(flags(localReport.stdout));
  });
});
