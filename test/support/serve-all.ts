import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { startRedis, type TestRedis } from './redis-server.js';
import { freePort } from './s3-server.js';
import { type ServiceProcess, startService } from './services.js';
import { waitFor } from './wait-for.js';

/** Options of {@link startServeAll}. */
export interface ServeAllOptions {
  /** file:// source root. */
  mirror: string;
  /** Protect Redis with this password (`requirepass`); REDIS_URL then carries it. */
  redisPassword?: string;
  /** Extra environment of the process (overrides the defaults). */
  env?: NodeJS.ProcessEnv;
}

/** `pv-pipeline serve all` (every role in one process) on its own Redis, bound to loopback. */
export interface ServeAll {
  readonly token: string;
  readonly base: string;
  readonly work: string;
  readonly redis: TestRedis;
  /** REDIS_URL as the services got it (with the password, if any). */
  readonly redisUrl: string;
  readonly service: ServiceProcess;
  /** fetch on the api with the bearer token. */
  api(path: string, init?: RequestInit): Promise<Response>;
  /** Everything the process wrote to stdout and stderr so far. */
  logs(): string;
  /** A client of the deployment's Redis. */
  client(): Redis;
  /** Stops the process (SIGTERM, then SIGKILL), Redis, and removes the work dir. */
  destroy(): Promise<void>;
}

/** Starts Redis and `serve all`; resolves when `/readyz` answers 200. */
export async function startServeAll(options: ServeAllOptions): Promise<ServeAll> {
  const token = `tok-${randomBytes(24).toString('hex')}`;
  const work = mkdtempSync(join(tmpdir(), 'pv-serve-all-'));
  const redis = await startRedis();
  let redisUrl = redis.url;
  if (options.redisPassword) {
    const admin = new Redis(redis.url);
    await admin.config('SET', 'requirepass', options.redisPassword);
    admin.disconnect();
    redisUrl = `redis://:${encodeURIComponent(options.redisPassword)}@127.0.0.1:${redis.port}`;
  }
  const port = await freePort();
  const service = startService(
    'all',
    {
      REDIS_URL: redisUrl,
      PV_SOURCE: `file://${options.mirror}`,
      PV_SINK: `duckdb://${join(work, 'pv.duckdb')}`,
      PV_STAGING: `file://${join(work, 'staging')}`,
      PV_API_TOKEN: token,
      PORT: String(port),
      PV_API_HOST: '127.0.0.1',
      PV_METRICS_PORT: '0',
      PV_LOAD_MAX_WAIT_MS: '200',
      PV_WORKER_CONCURRENCY: '2',
      PV_WORKER_THREADS: '0',
      PV_SHUTDOWN_GRACE_MS: '3000',
      ...options.env,
    },
    join(work, 'logs'),
  );
  const base = `http://127.0.0.1:${port}`;
  const deployment: ServeAll = {
    token,
    base,
    work,
    redis,
    redisUrl,
    service,
    api: (path, init = {}) =>
      fetch(`${base}${path}`, {
        ...init,
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', ...init.headers },
      }),
    logs: () => readFileSync(service.logFile, 'utf8'),
    client: () => new Redis(redisUrl),
    async destroy() {
      const exited = service.kill('SIGTERM');
      const timer = setTimeout(() => service.child.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(timer);
      await redis.destroy();
      rmSync(work, { recursive: true, force: true });
    },
  };
  try {
    await waitFor(async () => (await fetch(`${base}/readyz`)).ok, { timeoutMs: 30_000, what: 'serve all /readyz' });
  } catch (err) {
    const logs = deployment.logs();
    await deployment.destroy();
    throw new Error(`${(err as Error).message}\n${logs}`);
  }
  return deployment;
}
