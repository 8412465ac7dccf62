import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ListObjectsV2Command } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureMirror, type MirrorParams } from '../../bench/generate-mirror.js';
import { runCli, SAMPLE_MIRROR } from '../support/cli.js';
import { query } from '../support/duckdb.js';
import { startRedis, type TestRedis } from '../support/redis-server.js';
import { freePort, S3RVER_CREDENTIALS, type S3Server, startS3Server } from '../support/s3-server.js';
import { type ServiceProcess, startService } from '../support/services.js';
import { waitFor } from '../support/wait-for.js';

const PER_SENSOR = `SELECT ss_id, sensor, units, count(*) AS n, round(sum(value), 4) AS s FROM pv_readings GROUP BY ALL ORDER BY ALL`;
const DUPLICATE_KEYS = `SELECT count(*) AS n FROM (SELECT ss_id, timestamp, sensor FROM pv_readings GROUP BY ALL HAVING count(*) > 1)`;

interface RunRecord {
  id: string;
  state: string;
  counts: { planned: number; transformed: number; loaded: number; skipped: number; failed: number; readings: number };
  errors: Array<{ key: string; reason: string }>;
}

/** One cluster deployment: its own Redis, an s3rver holding a mirror, and `pv-pipeline serve` processes. */
class Deployment {
  readonly token = randomBytes(24).toString('hex');
  readonly work = mkdtempSync(join(tmpdir(), 'pv-cluster-'));
  readonly db = join(this.work, 'cluster.duckdb');
  redis!: TestRedis;
  s3!: S3Server;
  port!: number;
  readonly procs = new Map<string, ServiceProcess>();

  async start(mirror: string): Promise<void> {
    this.redis = await startRedis();
    this.s3 = await startS3Server();
    await this.s3.uploadDir(mirror, 'oedi-mirror', 'pvdaq');
    this.port = await freePort();
  }

  env(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
    return {
      REDIS_URL: this.redis.url,
      PV_SOURCE: 's3://oedi-mirror/pvdaq',
      S3_ENDPOINT: this.s3.endpoint,
      AWS_ACCESS_KEY_ID: S3RVER_CREDENTIALS.accessKeyId,
      AWS_SECRET_ACCESS_KEY: S3RVER_CREDENTIALS.secretAccessKey,
      AWS_REGION: 'us-east-1',
      PV_SINK: `duckdb://${this.db}`,
      PV_STAGING: `file://${join(this.work, 'staging')}`,
      PV_API_TOKEN: this.token,
      PORT: String(this.port),
      PV_API_HOST: '127.0.0.1',
      PV_LOCK_DURATION_MS: '3000',
      PV_STALLED_INTERVAL_MS: '1000',
      PV_LOAD_MAX_WAIT_MS: '300',
      PV_JOB_BACKOFF_MS: '200',
      PV_WORKER_CONCURRENCY: '2',
      PV_WORKER_THREADS: '0',
      PV_SHUTDOWN_GRACE_MS: '5000',
      ...extra,
    };
  }

  spawn(role: string, tag = role, extra: NodeJS.ProcessEnv = {}): ServiceProcess {
    const p = startService(role, this.env(extra), join(this.work, 'logs'), tag);
    this.procs.set(tag, p);
    return p;
  }

  /** The loader, the planner, two workers and the api, each its own process; resolves when the api is ready. */
  async spawnCluster(extra: NodeJS.ProcessEnv = {}): Promise<void> {
    for (const [role, tag] of [
      ['loader', 'loader'],
      ['planner', 'planner'],
      ['worker', 'worker-1'],
      ['worker', 'worker-2'],
      ['api', 'api'],
    ] as const) {
      this.spawn(role, tag, extra);
    }
    await this.ready();
  }

  async stop(tag: string, signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
    await this.procs.get(tag)?.kill(signal);
    this.procs.delete(tag);
  }

  async api(path: string, init: RequestInit = {}): Promise<Response> {
    return fetch(`http://127.0.0.1:${this.port}${path}`, {
      ...init,
      headers: { authorization: `Bearer ${this.token}`, 'content-type': 'application/json', ...init.headers },
    });
  }

  async ready(): Promise<void> {
    await waitFor(async () => (await fetch(`http://127.0.0.1:${this.port}/readyz`)).ok, {
      timeoutMs: 30_000,
      what: 'the api /readyz',
    });
  }

  async trigger(body: object): Promise<string> {
    const r = await this.api('/api/runs', { method: 'POST', body: JSON.stringify(body) });
    expect(r.status, await r.clone().text()).toBe(202);
    return ((await r.json()) as { id: string }).id;
  }

  async run(id: string): Promise<RunRecord> {
    const r = await this.api(`/api/runs/${id}`);
    expect(r.status).toBe(200);
    return (await r.json()) as RunRecord;
  }

  async finished(id: string, timeoutMs = 90_000): Promise<RunRecord> {
    return waitFor(
      async () => {
        const r = await this.run(id);
        return r.state === 'completed' || r.state === 'failed' ? r : null;
      },
      { timeoutMs, intervalMs: 200, what: `run ${id} to finish` },
    );
  }

  async destroy(): Promise<void> {
    for (const tag of [...this.procs.keys()]) await this.stop(tag, 'SIGKILL');
    await this.s3?.stop();
    await this.redis?.destroy();
    rmSync(this.work, { recursive: true, force: true });
  }
}

describe('cluster mode on the sample mirror (api, planner, two workers, loader as processes)', () => {
  const d = new Deployment();
  let inlineDb: string;

  beforeAll(async () => {
    await d.start(SAMPLE_MIRROR);
    await d.spawnCluster();
    inlineDb = join(d.work, 'inline.duckdb');
    const r = await runCli([
      'run',
      '--source',
      `file://${SAMPLE_MIRROR}`,
      '--from',
      '2010-01-01',
      '--to',
      '2025-12-31',
      '--sink',
      `duckdb://${inlineDb}`,
      '--json',
    ]);
    expect(r.code, r.stderr).toBe(0);
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
    await d.stop('loader');
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
    const left = await d.s3.client.send(new ListObjectsV2Command({ Bucket: 'pv-staging' }));
    expect(left.KeyCount ?? 0).toBe(0);
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
    await waitFor(async () => (await activeLoadJobs(d)) > 0, {
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
    const r = await runCli([
      'run',
      '--source',
      `file://${mirror}`,
      '--from',
      '2023-07-01',
      '--to',
      '2023-07-31',
      '--sink',
      `duckdb://${inlineDb}`,
      '--json',
    ]);
    expect(r.code, r.stderr).toBe(0);
    expect(await query(d.db, PER_SENSOR)).toEqual(await query(inlineDb, PER_SENSOR));
    expect((await query(d.db, DUPLICATE_KEYS))[0]!.n).toBe(0);
    expect((await query(d.db, 'SELECT count(*) AS n FROM pv_ingest_ledger'))[0]!.n).toBe(48);
  });
});

/** Jobs of the load queue held by a loader right now. */
async function activeLoadJobs(d: Deployment): Promise<number> {
  const { Redis } = await import('ioredis');
  const r = new Redis(d.redis.url);
  try {
    return await r.llen('{pv}:load:active');
  } finally {
    r.disconnect();
  }
}
