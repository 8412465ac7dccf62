import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli, SAMPLE_MIRROR } from '../support/cli.js';
import { Deployment } from '../support/deployment.js';
import { query } from '../support/duckdb.js';
import { waitFor } from '../support/wait-for.js';

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
    const r = await runCli([
      'run',
      '--source',
      `file://${SAMPLE_MIRROR}`,
      '--systems',
      'all',
      '--from',
      '2010-01-01',
      '--to',
      '2025-12-31',
      '--sink',
      `parquet://${inline}`,
    ]);
    expect(r.code, r.stderr).toBe(0);
  });
  afterAll(() => d.destroy());

  it('stages final readings files, and the loaded dataset equals the inline one row for row', async () => {
    const env = { PV_SINK: `parquet://${dataset}` };
    // no loader yet: the staged files the workers leave are the dataset's readings files
    for (const [role, tag] of [
      ['planner', 'planner'],
      ['worker', 'worker-1'],
      ['api', 'api'],
    ] as const)
      d.spawn(role, tag, env);
    await d.ready();
    const id = await d.trigger({ systems: 'all', from: '2010-01-01', to: '2025-12-31', format: 'parquet' });
    await waitFor(
      async () => {
        const run = await d.run(id);
        return run.planning.done && run.counts.transformed === run.counts.planned && run.counts.planned === 34;
      },
      { timeoutMs: 120_000, what: 'every object transformed' },
    );
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
