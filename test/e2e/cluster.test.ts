import { join } from 'node:path';
import { ListObjectsV2Command } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureMirror, type MirrorParams } from '../../bench/generate-mirror.js';
import { SAMPLE_MIRROR } from '../support/cli.js';
import { Deployment, DUPLICATE_KEYS, PER_SENSOR } from '../support/deployment.js';
import { query } from '../support/duckdb.js';
import { inlineRun } from '../support/ground-truth.js';
import { waitFor } from '../support/wait-for.js';

describe('cluster mode on the sample mirror (api, planner, two workers, loader as processes)', () => {
  const d = new Deployment();
  let inlineDb: string;

  beforeAll(async () => {
    await d.start(SAMPLE_MIRROR);
    await d.spawnCluster();
    inlineDb = join(d.work, 'inline.duckdb');
    await inlineRun(SAMPLE_MIRROR, '2010-01-01', '2025-12-31', inlineDb);
  });
  afterAll(() => d.destroy());

  it('a run triggered over HTTP loads exactly the rows of the inline run', async () => {
    const id = await d.trigger({ systems: 'all', from: '2010-01-01', to: '2025-12-31', format: 'parquet' });
    const run = await d.finished(id);
    expect(run.state).toBe('completed');
    expect(run.counts).toMatchObject({ planned: 34, loaded: 34, skipped: 0, failed: 0, transformed: 34 });
    await d.stop('loader'); // DuckDB has one writer: release the file to read it
    expect(await query(d.db, PER_SENSOR)).toEqual(await query(inlineDb, PER_SENSOR));
    expect((await query(d.db, DUPLICATE_KEYS))[0]!.n).toBe(0);
    expect(run.counts.readings).toBe((await query(d.db, 'SELECT count(*) AS n FROM pv_readings'))[0]!.n);
    const recorded = await query(d.db, `SELECT state, loaded, readings FROM pv_runs WHERE run_id = '${id}'`);
    expect(recorded).toEqual([{ state: 'completed', loaded: 34, readings: run.counts.readings }]);
    d.spawn('loader');
  });

  it('the same range again, twice at once, adds nothing and finishes as nothing to do', async () => {
    const before = await query(null, 'SELECT 1'); // keep the loader running; compare afterwards
    expect(before.length).toBe(1);
    const [a, b] = await Promise.all([
      d.trigger({ systems: 'all', from: '2010-01-01', to: '2025-12-31', format: 'parquet' }),
      d.trigger({ systems: [50, 51], from: '2011-01-01', to: '2022-12-31', format: 'parquet' }),
    ]);
    const [ra, rb] = await Promise.all([d.finished(a), d.finished(b)]);
    expect(ra.counts).toMatchObject({ planned: 34, loaded: 0, skipped: 34, failed: 0 });
    expect(rb.counts).toMatchObject({ loaded: 0, failed: 0 });
    expect(rb.counts.skipped).toBe(rb.counts.planned);
    // the deployment's totals moved: every object loaded once, every one skipped by the re-runs
    const metrics = await d.metrics();
    const total = (name: string) => Number(new RegExp(`^${name} (\\d+)$`, 'm').exec(metrics)?.[1]);
    expect(total('pv_objects_loaded_total')).toBe(34);
    expect(total('pv_objects_skipped_total')).toBe(34 + rb.counts.skipped);
    expect(total('pv_objects_failed_total')).toBe(0);
    await d.stop('loader');
    expect(total('pv_readings_loaded_total')).toBe((await query(d.db, 'SELECT count(*) AS n FROM pv_readings'))[0]!.n);
    expect(await query(d.db, PER_SENSOR)).toEqual(await query(inlineDb, PER_SENSOR));
    d.spawn('loader');
  });

  it('a worker stopped with SIGTERM finishes its active jobs and exits 0; the run completes', async () => {
    const id = await d.trigger({ systems: 'all', from: '2010-01-01', to: '2025-12-31', format: 'csv' });
    await waitFor(async () => (await d.run(id)).state !== 'queued', { timeoutMs: 30_000, what: 'the run to start' });
    const code = await d.procs.get('worker-1')!.kill('SIGTERM');
    d.procs.delete('worker-1');
    expect(code).toBe(0);
    const run = await d.finished(id);
    expect(run.counts).toMatchObject({ planned: 34, loaded: 34, failed: 0 });
  });

  it('rejects a missing or wrong token, a malformed body and unknown runs', async () => {
    const base = `http://127.0.0.1:${d.port}`;
    expect((await fetch(`${base}/api/runs`, { method: 'POST', body: '{}' })).status).toBe(401);
    expect((await fetch(`${base}/admin/queues`, { headers: { authorization: 'Bearer nope' } })).status).toBe(401);
    const bad = await d.api('/api/runs', {
      method: 'POST',
      body: JSON.stringify({ systems: 'all', from: '2020-02-01', to: '2020-01-01', format: 'parquet' }),
    });
    expect(bad.status).toBe(400);
    expect((await d.api('/api/runs/run-19990101T000000-deadbeef')).status).toBe(404);
  });
});

describe('cluster mode with staging on S3 (workers and loader share no volume)', () => {
  const d = new Deployment();

  beforeAll(async () => {
    await d.start(SAMPLE_MIRROR);
    await d.s3.bucket('pv-staging');
    await d.spawnCluster({ PV_STAGING: 's3://pv-staging/staged' });
  });
  afterAll(() => d.destroy());

  it('loads the sample run through the bucket and leaves no staged object behind', async () => {
    const id = await d.trigger({ systems: 'all', from: '2010-01-01', to: '2025-12-31', format: 'parquet' });
    const run = await d.finished(id);
    expect(run.counts).toMatchObject({ planned: 34, loaded: 34, failed: 0, readings: 17_426 });
    // the loader removes a batch's staged objects right after it records their outcomes (which may finish the run)
    const staged = async () =>
      (await d.s3.client.send(new ListObjectsV2Command({ Bucket: 'pv-staging' }))).KeyCount ?? 0;
    await waitFor(async () => (await staged()) === 0, { timeoutMs: 30_000, what: 'the staged objects to be removed' });
    expect(await staged()).toBe(0);
    await d.stop('loader');
    expect((await query(d.db, 'SELECT count(*) AS n FROM pv_readings'))[0]!.n).toBe(17_426);
    expect((await query(d.db, DUPLICATE_KEYS))[0]!.n).toBe(0);
  });
});

/** A larger generated mirror, so that processes can be killed while work is in flight. */
const KILL_PARAMS: MirrorParams = {
  generatorVersion: 1,
  systems: 4,
  year: 2023,
  month: 7,
  days: 12,
  channels: 8,
  minutesPerDay: 1440,
};

describe('cluster mode under crashes: SIGKILLed worker, loader killed between staging and commit', () => {
  const d = new Deployment();
  let mirror: string;
  let ids: number[];

  beforeAll(async () => {
    mirror = join(d.work, 'mirror');
    await ensureMirror(mirror, KILL_PARAMS);
    ids = [1100, 1137, 1174, 1211];
    await d.start(mirror);
    await d.spawnCluster({ PV_WORKER_CONCURRENCY: '1' });
  });
  afterAll(() => d.destroy());

  it('overlapping runs with a worker killed mid-run lose and duplicate nothing', async () => {
    const [a, b] = await Promise.all([
      d.trigger({ systems: [ids[0], ids[1]], from: '2023-07-01', to: '2023-07-31', format: 'parquet' }),
      d.trigger({ systems: [ids[1]], from: '2023-07-05', to: '2023-07-09', format: 'parquet' }),
    ]);
    const seen = await waitFor(
      async () => {
        const r = await d.run(a);
        return r.counts.transformed >= 2 ? r : null;
      },
      { timeoutMs: 60_000, intervalMs: 20, what: 'two objects transformed' },
    );
    expect(seen.counts.transformed).toBeLessThan(24); // still mid-run when the worker dies
    await d.stop('worker-1', 'SIGKILL');
    const [ra, rb] = await Promise.all([d.finished(a), d.finished(b)]);
    expect(ra.counts).toMatchObject({ planned: 24, loaded: 24, failed: 0 });
    expect(rb.counts).toMatchObject({ planned: 5, failed: 0 });
    expect(rb.counts.loaded + rb.counts.skipped).toBe(5);
  });

  it('the loader killed after taking staged work but before committing it: the work is redone once', async () => {
    await d.stop('loader');
    const c = await d.trigger({ systems: [ids[2], ids[3]], from: '2023-07-01', to: '2023-07-31', format: 'parquet' });
    await waitFor(
      async () => {
        const r = await d.run(c);
        return r.counts.transformed === r.counts.planned && r.counts.planned === 24;
      },
      { timeoutMs: 60_000, what: 'every object staged' },
    );
    expect((await d.run(c)).counts.loaded).toBe(0);
    // a loader that takes the jobs but would commit only much later; killed while they are active
    d.spawn('loader', 'loader-doomed', { PV_LOAD_MAX_WAIT_MS: '600000', PV_LOAD_BATCH_OBJECTS: '1000' });
    await waitFor(async () => (await d.activeLoadJobs()) > 0, {
      timeoutMs: 30_000,
      what: 'the loader to take load jobs',
    });
    await d.stop('loader-doomed', 'SIGKILL');
    expect((await d.run(c)).counts.loaded).toBe(0);
    d.spawn('loader');
    const rc = await d.finished(c);
    expect(rc.counts).toMatchObject({ planned: 24, loaded: 24, failed: 0 });

    await d.stop('loader');
    const inlineDb = join(d.work, 'inline.duckdb');
    await inlineRun(mirror, '2023-07-01', '2023-07-31', inlineDb);
    expect(await query(d.db, PER_SENSOR)).toEqual(await query(inlineDb, PER_SENSOR));
    expect((await query(d.db, DUPLICATE_KEYS))[0]!.n).toBe(0);
    expect((await query(d.db, 'SELECT count(*) AS n FROM pv_ingest_ledger'))[0]!.n).toBe(48);
  });
});
