import { availableParallelism } from 'node:os';
import { BadInputError } from '@pv-pipeline/core';
import { z } from 'zod';
import { DEFAULT_PREFIX } from './queue-names.js';

const int = (min: number) => z.coerce.number().int().min(min);

/**
 * Every environment variable the services read, with its default. Built once
 * at start-up by {@link loadServiceConfig}; nothing else reads `process.env`.
 */
const schema = z.object({
  /** Redis for the queues and run state. */
  REDIS_URL: z.string().default('redis://127.0.0.1:6379'),
  /** Source URL, as for `run --source`. */
  PV_SOURCE: z.string().default('s3://oedi-data-lake/pvdaq'),
  /** Sink URL, as for `run --sink`. */
  PV_SINK: z.string().default('duckdb://./pvdaq.duckdb'),
  /** BigQuery API endpoint of an emulator or fake, for a bigquery:// sink (unset: Google, with Application Default Credentials). */
  BIGQUERY_API_ENDPOINT: z.string().url().optional(),
  /** Staging area shared by workers and the loader: file://DIR on a shared volume, or s3://bucket/prefix (with S3_ENDPOINT for S3-compatible servers). */
  PV_STAGING: z.string().default('file://./.staging'),
  /** Bearer token of the REST API and the dashboard (required by the api role). */
  PV_API_TOKEN: z.string().optional(),
  /** Failed authentications (401) one client address may make per 15 minutes before all its requests get 429 (0: no limit). */
  PV_AUTH_FAILURE_LIMIT: int(0).default(100),
  /** Run triggers (`POST /api/runs`) one client address may send per minute; more get 429. */
  PV_TRIGGER_RATE_LIMIT: int(1).default(30),
  /** API port. */
  PORT: int(1).max(65535).default(8080),
  /** Address the API binds to. */
  PV_API_HOST: z.string().default('0.0.0.0'),
  /** S3-compatible endpoint for the source (path-style). */
  S3_ENDPOINT: z.string().optional(),
  /** Key prefix of every queue and run (a Redis Cluster hash tag). */
  PV_QUEUE_PREFIX: z.string().default(DEFAULT_PREFIX),
  /** Transform jobs one worker process runs at once. */
  PV_WORKER_CONCURRENCY: int(1).default(4),
  /** Worker threads decoding in one worker process (0: in the main thread). */
  PV_WORKER_THREADS: int(0).default(Math.min(availableParallelism(), 4)),
  /** Job lock duration, ms (a job whose worker stops renewing it for this long is stalled). */
  PV_LOCK_DURATION_MS: int(1000).default(30_000),
  /** How often workers look for stalled jobs, ms. */
  PV_STALLED_INTERVAL_MS: int(1000).default(30_000),
  /** Tries of a job that fails with a retryable error. */
  PV_JOB_ATTEMPTS: int(1).default(5),
  /** First retry delay, ms (exponential with jitter). */
  PV_JOB_BACKOFF_MS: int(0).default(1000),
  /** Largest daily source object transformed, MiB (prize CSVs are streamed). */
  PV_MAX_OBJECT_MB: int(1).default(256),
  /** Byte range of a prize CSV transformed as one job, MiB (fractions allowed): many workers share a large file. */
  PV_PART_MB: z.coerce.number().positive().default(16),
  /** Loader batch limits: rows, objects, and the longest a manifest waits, ms. */
  PV_LOAD_BATCH_ROWS: int(1).default(1_000_000),
  PV_LOAD_BATCH_OBJECTS: int(1).default(500),
  PV_LOAD_MAX_WAIT_MS: int(10).default(2000),
  /** Longest day span a single API trigger may ask for (default about 33 years: the whole archive since 1994). */
  PV_MAX_RUN_DAYS: int(1).default(12_000),
  /** Grace period for active jobs on SIGTERM, ms. */
  PV_SHUTDOWN_GRACE_MS: int(0).default(30_000),
  /** Optional periodic re-scan: a cron pattern (e.g. `0 3 * * *`), the systems and how many days back. */
  PV_RESCAN_CRON: z.string().optional(),
  PV_RESCAN_SYSTEMS: z.string().default('all'),
  PV_RESCAN_DAYS: int(1).default(7),
  PV_RESCAN_FORMAT: z.enum(['parquet', 'csv', 'prize']).default('parquet'),
  /** pino level. */
  PV_LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
});

/** The validated configuration of a service process. */
export type ServiceConfig = z.infer<typeof schema>;

/** Names of every variable the services read (for drift checks against compose and k8s). */
export const SERVICE_ENV_VARS: readonly string[] = Object.keys(schema.shape);

/**
 * Validates the environment. The first bad value is a BadInputError naming
 * the variable, e.g. `PV_WORKER_CONCURRENCY: expected number, received NaN`.
 */
export function loadServiceConfig(env: NodeJS.ProcessEnv): ServiceConfig {
  const picked = Object.fromEntries(
    SERVICE_ENV_VARS.filter((k) => env[k] !== undefined && env[k] !== '').map((k) => [k, env[k]]),
  );
  const r = schema.safeParse(picked);
  if (!r.success) {
    const issue = r.error.issues[0]!;
    throw new BadInputError(String(issue.path[0] ?? 'environment'), issue.message);
  }
  return r.data;
}
