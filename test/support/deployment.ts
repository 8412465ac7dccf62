import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { RunRecord } from '@pv-pipeline/queue';
import { isFinished } from '@pv-pipeline/stages';
import { expect } from 'vitest';
import { startRedis, type TestRedis } from './redis-server.js';
import { freePort, S3RVER_CREDENTIALS, type S3Server, startS3Server } from './s3-server.js';
import { type ServiceProcess, startService } from './services.js';
import { waitFor } from './wait-for.js';

/** Per (ss_id, sensor, units): count and rounded sum of the fact rows. */
export const PER_SENSOR = `SELECT ss_id, sensor, units, count(*) AS n, round(fsum(value), 4) AS s FROM pv_readings GROUP BY ALL ORDER BY ALL`;
/** How many (ss_id, timestamp, sensor) keys the fact table holds more than once (must be 0). */
export const DUPLICATE_KEYS = `SELECT count(*) AS n FROM (SELECT ss_id, timestamp, sensor FROM pv_readings GROUP BY ALL HAVING count(*) > 1)`;

/** A run as `GET /api/runs/:id` returns it. */
export type { RunRecord };

/** Options of {@link Deployment.start}. */
export interface DeploymentOptions {
  /** Redis with its append-only file on (for restarts that must keep the queues). Default false. */
  aof?: boolean;
}

/** One cluster deployment: its own Redis, an s3rver holding a mirror, and `pv-pipeline serve` processes. */
export class Deployment {
  readonly token = randomBytes(24).toString('hex');
  readonly work = mkdtempSync(join(tmpdir(), 'pv-cluster-'));
  readonly db = join(this.work, 'cluster.duckdb');
  redis!: TestRedis;
  s3!: S3Server;
  port!: number;
  /** The S3 endpoint the services use: the s3rver unless set (e.g. to a fault proxy in front of it). */
  s3Endpoint: string | null = null;
  readonly procs = new Map<string, ServiceProcess>();

  async start(mirror: string, options: DeploymentOptions = {}): Promise<void> {
    this.redis = await startRedis({ aof: options.aof ?? false });
    this.s3 = await startS3Server();
    await this.s3.uploadDir(mirror, 'oedi-mirror', 'pvdaq');
    this.port = await freePort();
  }

  env(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
    return {
      REDIS_URL: this.redis.url,
      PV_SOURCE: 's3://oedi-mirror/pvdaq',
      S3_ENDPOINT: this.s3Endpoint ?? this.s3.endpoint,
      AWS_ACCESS_KEY_ID: S3RVER_CREDENTIALS.accessKeyId,
      AWS_SECRET_ACCESS_KEY: S3RVER_CREDENTIALS.secretAccessKey,
      AWS_REGION: 'us-east-1',
      PV_SINK: `duckdb://${this.db}`,
      PV_STAGING: `file://${join(this.work, 'staging')}`,
      PV_API_TOKEN: this.token,
      PORT: String(this.port),
      PV_API_HOST: '127.0.0.1',
      PV_METRICS_PORT: '0',
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

  /** The api's /metrics text, from its metrics port (a free one, as its start-up log line says). */
  async metrics(): Promise<string> {
    const log = readFileSync(this.procs.get('api')!.logFile, 'utf8');
    const port = /"metricsPort":(\d+)/.exec(log)?.[1];
    expect(port, 'the api logged its metrics port').toBeDefined();
    return (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  }

  async ready(): Promise<void> {
    // generous: a cold start transpiles the sources in five processes at once on a busy machine
    await waitFor(async () => (await fetch(`http://127.0.0.1:${this.port}/readyz`)).ok, {
      timeoutMs: 120_000,
      what: 'the api /readyz',
    });
  }

  async trigger(body: object): Promise<string> {
    const r = await this.api('/api/runs', { method: 'POST', body: JSON.stringify(body) });
    expect(r.status, await r.clone().text()).toBe(202);
    return ((await r.json()) as { runId: string }).runId;
  }

  async run(id: string): Promise<RunRecord> {
    const r = await this.api(`/api/runs/${id}`);
    expect(r.status).toBe(200);
    return (await r.json()) as RunRecord;
  }

  /**
   * The planner, one worker and the api, with no loader (staged files wait for one), then a run of
   * every sample system; resolves with its id once all `planned` objects are transformed.
   */
  async transformWithoutLoader(extra: NodeJS.ProcessEnv, planned: number): Promise<string> {
    for (const [role, tag] of [
      ['planner', 'planner'],
      ['worker', 'worker-1'],
      ['api', 'api'],
    ] as const)
      this.spawn(role, tag, extra);
    await this.ready();
    const id = await this.trigger({ systems: 'all', from: '2010-01-01', to: '2025-12-31', format: 'parquet' });
    await waitFor(
      async () => {
        const run = await this.run(id);
        return run.planning.done && run.counts.transformed === run.counts.planned && run.counts.planned === planned;
      },
      { timeoutMs: 120_000, what: 'every object transformed' },
    );
    return id;
  }

  async finished(id: string, timeoutMs = 90_000): Promise<RunRecord> {
    return waitFor(
      async () => {
        const r = await this.run(id);
        return isFinished(r.state) ? r : null;
      },
      { timeoutMs, intervalMs: 200, what: `run ${id} to finish` },
    );
  }

  /** Jobs of the load queue held by a loader right now. */
  async activeLoadJobs(): Promise<number> {
    const { Redis } = await import('ioredis');
    const r = new Redis(this.redis.url);
    try {
      return await r.llen('{pv}:load:active');
    } finally {
      r.disconnect();
    }
  }

  async destroy(): Promise<void> {
    for (const tag of [...this.procs.keys()]) await this.stop(tag, 'SIGKILL');
    await this.s3?.stop();
    await this.redis?.destroy();
    rmSync(this.work, { recursive: true, force: true });
  }
}
