import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BigQuery } from '@google-cloud/bigquery';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type BigQueryFake, startBigQueryFake } from '../support/bigquery-fake/index.js';
import { exec } from '../support/duckdb.js';

type ClientOptions = NonNullable<ConstructorParameters<typeof BigQuery>[0]>;

/** The fake against the real client (@google-cloud/bigquery 9.3.0): what BigQuery documents, enforced. */
describe('the BigQuery fake', () => {
  let fake: BigQueryFake;
  let bq: BigQuery;
  let dir: string;
  const code = (p: Promise<unknown>) =>
    p.then(
      () => 200,
      (e: { code?: number }) => e.code,
    );

  beforeAll(async () => {
    fake = await startBigQueryFake();
    dir = mkdtempSync(join(tmpdir(), 'pv-bq-fake-'));
    // the minimal auth stub: no Authorization header, nothing contacts Google
    const authClient = { getRequestHeaders: async () => ({}) } as unknown as ClientOptions['authClient'];
    bq = new BigQuery({ projectId: 'p', apiEndpoint: fake.url, authClient, location: 'US' });
    await bq.createDataset('d', { location: 'US' });
    await bq.dataset('d').createTable('t', { schema: 'id:INTEGER,name:STRING,ts:TIMESTAMP' });
  });
  afterAll(async () => {
    await fake.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('answers 404 for missing datasets and tables, 409 for existing ones', async () => {
    expect(await code(bq.dataset('nope').get())).toBe(404);
    expect(await code(bq.dataset('d').table('nope').getMetadata())).toBe(404);
    expect(await code(bq.createDataset('d'))).toBe(409);
    expect(await code(bq.dataset('d').createTable('t', { schema: 'id:INTEGER' }))).toBe(409);
    expect(
      await code(
        bq.dataset('d').createTable('bad', { schema: 'id:INTEGER', timePartitioning: { type: 'MONTH', field: 'id' } }),
      ),
    ).toBe(400);
  });

  it('refuses a reused job id with 409 and keeps the existing job retrievable', async () => {
    const body = { configuration: { query: { query: 'SELECT 1 AS x', useLegacySql: false } }, jobId: 'same-id' };
    await bq.createJob(body);
    const err = await bq.createJob(body).catch((e: { code?: number; message: string }) => e);
    expect(err).toMatchObject({ code: 409 });
    const [metadata] = await bq.job('same-id').getMetadata();
    expect(metadata.status).toEqual({ state: 'DONE' });
    const [rows] = await bq.job('same-id').getQueryResults();
    expect(rows).toEqual([{ x: 1 }]);
  });

  it('a load job whose file does not match the table ends with an errorResult and writes nothing', async () => {
    const file = join(dir, 'bad.parquet');
    await exec(null, `COPY (SELECT 'x' AS id, 'n' AS name, 7 AS extra) TO '${file}' (FORMAT parquet)`);
    const [job] = await bq.dataset('d').table('t').createLoadJob(file, { sourceFormat: 'PARQUET', jobId: 'bad-load' });
    const [metadata] = await job.getMetadata();
    expect(metadata.status.state).toBe('DONE');
    expect(metadata.status.errorResult.reason).toBe('invalid');
    expect(metadata.status.errorResult.message).toMatch(/Cannot add fields \(field: extra\)/);
    expect(metadata.status.errorResult.message).toMatch(/Field id has type STRING in the file, INTEGER in the table/);
    expect(await fake.sql('SELECT count(*) AS n FROM d.t')).toEqual([{ n: 0 }]);
  });

  it('loads NEWLINE_DELIMITED_JSON and PARQUET uploads', async () => {
    const json = join(dir, 'rows.json');
    writeFileSync(json, '{"id": 1, "name": "a", "ts": "2020-01-01 00:00:00 UTC"}\n{"id": "2", "ts": 1577836800.5}\n');
    await bq.dataset('d').table('t').load(json, { sourceFormat: 'NEWLINE_DELIMITED_JSON' });
    const parquet = join(dir, 'rows.parquet');
    await exec(null, `COPY (SELECT 3::BIGINT AS id, 'c' AS name) TO '${parquet}' (FORMAT parquet)`);
    await bq.dataset('d').table('t').load(parquet, { sourceFormat: 'PARQUET' });
    expect(await fake.sql('SELECT id, name, epoch_ms(ts) AS ms FROM d.t ORDER BY id')).toEqual([
      { id: 1, name: 'a', ms: Date.UTC(2020, 0, 1) },
      { id: 2, name: null, ms: Date.UTC(2020, 0, 1) + 500 },
      { id: 3, name: 'c', ms: null },
    ]);
  });

  it('insertAll: per-row errors stop the request; insert ids deduplicate', async () => {
    const table = bq.dataset('d').table('t');
    const err = await table
      .insert(
        [
          { insertId: 'r1', json: { id: 10, name: 'ok' } },
          { insertId: 'r2', json: { id: 'eleven', name: 'bad' } },
          { insertId: 'r3', json: { id: 12, nope: 1 } },
        ],
        { raw: true, partialRetries: 0 },
      )
      .catch((e: { name: string; errors: Array<{ errors: Array<{ reason: string; message: string }> }> }) => e);
    expect(err).toMatchObject({ name: 'PartialFailureError' });
    const reasons = (err as { errors: Array<{ errors: Array<{ reason: string; message: string }> }> }).errors.map((e) =>
      e.errors.map((x) => `${x.reason}: ${x.message}`),
    );
    expect(reasons).toEqual([
      ['stopped: '],
      ['invalid: Cannot convert value to integer (bad value): "eleven" in field id.'],
      ['invalid: no such field: nope.'],
    ]);
    expect(await fake.sql('SELECT count(*) AS n FROM d.t WHERE id >= 10')).toEqual([{ n: 0 }]);

    const rows = [
      { insertId: 'a', json: { id: 20 } },
      { insertId: 'b', json: { id: 21 } },
    ];
    await table.insert(rows, { raw: true });
    await table.insert(rows, { raw: true });
    expect(await fake.sql('SELECT count(*) AS n FROM d.t WHERE id >= 20')).toEqual([{ n: 2 }]);
    expect(fake.engine.dedupedRows).toBe(2);
  });

  it('refuses an insertAll request over 10 MB', async () => {
    const big = Array.from({ length: 40 }, (_v, i) => ({
      insertId: `big${i}`,
      json: { id: i, name: 'x'.repeat(300_000) },
    }));
    const err = await bq
      .dataset('d')
      .table('t')
      .insert(big, { raw: true })
      .catch((e: { code?: number }) => e);
    expect(err).toMatchObject({ code: 413 });
  });

  it('runs scripts in a transaction: an error rolls everything back; DDL inside a transaction is refused', async () => {
    const before = await fake.sql('SELECT count(*) AS n FROM d.t');
    const failing = `BEGIN TRANSACTION;
      DELETE FROM \`p.d.t\` WHERE TRUE;
      INSERT INTO \`p.d.t\` (id) VALUES ('eleven');
      COMMIT TRANSACTION`;
    await bq
      .createJob({ configuration: { query: { query: failing, useLegacySql: false } }, jobId: 'tx-fail' })
      .catch(() => null);
    const [metadata] = await bq.job('tx-fail').getMetadata();
    expect(metadata.status.errorResult.reason).toBe('invalidQuery');
    expect(await fake.sql('SELECT count(*) AS n FROM d.t')).toEqual(before);

    const ddl = `BEGIN TRANSACTION; DROP TABLE \`p.d.t\`; COMMIT TRANSACTION`;
    await bq
      .createJob({ configuration: { query: { query: ddl, useLegacySql: false } }, jobId: 'tx-ddl' })
      .catch(() => null);
    const [ddlJob] = await bq.job('tx-ddl').getMetadata();
    expect(ddlJob.status.errorResult.message).toMatch(/DDL statements on permanent tables are not supported/);
    expect(fake.tableResource('p', 'd', 't')).toBeDefined();
  });

  it('answers queries with typed parameters (jobs.query), TIMESTAMPs as int64 µs', async () => {
    const [rows] = await bq.query({
      query: 'SELECT id, ts FROM `p.d.t` WHERE id IN UNNEST(@ids) AND ts >= @from ORDER BY id',
      params: { ids: [1, 2, 3], from: bq.timestamp('2020-01-01T00:00:00Z') },
    });
    expect(rows.map((r: { id: number; ts: { value: string } }) => [r.id, r.ts.value])).toEqual([
      [1, '2020-01-01T00:00:00.000Z'],
      [2, '2020-01-01T00:00:00.500Z'],
    ]);
    expect(await code(bq.query('SELECT * FROM `p.d.missing`'))).toBe(404);
  });

  it('injects faults through its control API: failed and held jobs, state', async () => {
    const post = (path: string, body: unknown) =>
      fetch(`${fake.url}/_fake/${path}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
    await post('faults', { failNextJobs: { count: 1, kind: 'query', reason: 'backendError', message: 'boom' } });
    // the client rejects a job that comes back DONE with errors; the job stays retrievable
    await bq
      .createJob({ configuration: { query: { query: 'SELECT 1 AS x', useLegacySql: false } }, jobId: 'ctl-fail' })
      .catch(() => null);
    const [failed] = await bq.job('ctl-fail').getMetadata();
    expect(failed.status.errorResult).toEqual({ reason: 'backendError', message: 'boom' });

    const file = join(dir, 'held.parquet');
    await exec(null, `COPY (SELECT 9::BIGINT AS id) TO '${file}' (FORMAT parquet)`);
    await post('faults', { holdNextLoadJobs: { count: 1, polls: null } });
    await bq.dataset('d').table('t').createLoadJob(file, { sourceFormat: 'PARQUET', jobId: 'ctl-held' });
    for (let i = 0; i < 3; i++) expect((await bq.job('ctl-held').getMetadata())[0].status.state).not.toBe('DONE');
    expect(await fake.sql('SELECT count(*) AS n FROM d.t WHERE id = 9')).toEqual([{ n: 0 }]);
    await post('release', { jobId: 'ctl-held' });
    expect((await bq.job('ctl-held').getMetadata())[0].status).toEqual({ state: 'DONE' });
    expect(await fake.sql('SELECT count(*) AS n FROM d.t WHERE id = 9')).toEqual([{ n: 1 }]);

    const state = (await (await fetch(`${fake.url}/_fake/state`)).json()) as {
      jobs: Array<{ jobId: string; polls: number }>;
    };
    expect(state.jobs.find((j) => j.jobId === 'ctl-held')?.polls).toBe(4);
  });

  it('also serves the BIGQUERY_EMULATOR_HOST layout (no /bigquery/v2 prefix)', async () => {
    const saved = process.env.BIGQUERY_EMULATOR_HOST;
    process.env.BIGQUERY_EMULATOR_HOST = fake.url;
    try {
      const authClient = { getRequestHeaders: async () => ({}) } as unknown as ClientOptions['authClient'];
      const viaHost = new BigQuery({ projectId: 'p', authClient });
      const [metadata] = await viaHost.dataset('d').table('t').getMetadata();
      expect(metadata.schema.fields.map((f: { name: string }) => f.name)).toEqual(['id', 'name', 'ts']);
    } finally {
      if (saved === undefined) delete process.env.BIGQUERY_EMULATOR_HOST;
      else process.env.BIGQUERY_EMULATOR_HOST = saved;
    }
  });
});
