import { availableParallelism } from 'node:os';
import { z } from 'zod';
import { BadInputError } from './errors.js';

/**
 * The configuration, defined once. Each knob has its name, how it is given
 * (an environment variable of the services, a flag of `pv-pipeline run`, or
 * both), how its text is parsed and checked (which carries its default), and
 * its doc. From this table come the services' environment schema
 * ({@link loadServiceConfig}), the flags of `pv-pipeline run`, the README's
 * tables of variables and flags ({@link knobTable}, checked by a test), and
 * the drift checks of the compose and Kubernetes env lists.
 */

/** Who reads a knob: `pv-pipeline run`, or a role of the cluster. */
export type KnobReader = 'run' | 'api' | 'planner' | 'worker' | 'loader';

/** One knob of the {@link KNOBS} table. */
export interface Knob {
  /** Environment variable of the services; absent: a flag of `pv-pipeline run` only. */
  env?: string;
  /** Flag of `pv-pipeline run` in commander syntax (`--part-mb <n>`); absent: the services' only. */
  flag?: string;
  /** Parses the text given (an env value or a flag argument) and carries the default. */
  schema: z.ZodType;
  /** How the default reads in docs and `--help` (the schema's default, or a phrase). */
  defaultDoc: string;
  /** What it does, with its unit, in one line. */
  doc: string;
  /** Who reads it. */
  readers: readonly KnobReader[];
  /** `run` takes the environment variable as its flag's default (`PV_SOURCE` for `--source`). */
  envDefaultsFlag?: boolean;
}

/** The public OEDI PVDAQ root, read anonymously. */
export const DEFAULT_SOURCE_URL = 's3://oedi-data-lake/pvdaq';
/** The sink used when none is given: a DuckDB file in the working directory. */
export const DEFAULT_SINK_URL = 'duckdb://./pvdaq.duckdb';
/** Key prefix of every queue and run in Redis (a Redis Cluster hash tag). */
export const DEFAULT_QUEUE_PREFIX = '{pv}';

/**
 * Defaults shared by both executors (the inline run and the cluster's
 * services), each written here once and read from here by every stage.
 */
export const DEFAULTS = {
  /** Largest daily object transformed, MiB (prize CSVs are streamed in byte ranges). */
  maxObjectMb: 256,
  /** Byte range of a prize CSV transformed as one object, MiB. */
  partMb: 16,
  /** Fact rows per sink commit. */
  batchRows: 1_000_000,
  /**
   * Fact rows per commit of a BigQuery sink in load mode: each commit is a few jobs of
   * seconds each, whatever its size, so it takes up to {@link DEFAULTS.batchObjects} daily objects.
   */
  bigQueryBatchRows: 10_000_000,
  /** Objects per sink commit. */
  batchObjects: 500,
  /** Objects transformed at once by one process. */
  concurrency: 4,
  /** Transform jobs of one run outstanding at once before the planner waits for the queue to drain. */
  planHighWater: 10_000,
} as const;

const int = (min: number) => z.coerce.number().int().min(min);
const SERVICES: readonly KnobReader[] = ['api', 'planner', 'worker', 'loader'];
const TRANSFORMING: readonly KnobReader[] = ['planner', 'worker', 'loader'];

/** Every knob, keyed by a name of its own. */
export const KNOBS = {
  redisUrl: {
    env: 'REDIS_URL',
    schema: z.string().default('redis://127.0.0.1:6379'),
    defaultDoc: 'redis://127.0.0.1:6379',
    doc: 'Redis for the queues and run state',
    readers: SERVICES,
  },
  source: {
    env: 'PV_SOURCE',
    flag: '--source <url>',
    schema: z.string().min(1).default(DEFAULT_SOURCE_URL),
    defaultDoc: DEFAULT_SOURCE_URL,
    doc: 's3://bucket/prefix or file://DIR holding the PVDAQ layout (the public bucket is read anonymously)',
    readers: ['run', ...SERVICES],
    envDefaultsFlag: true,
  },
  sink: {
    env: 'PV_SINK',
    flag: '--sink <url>',
    schema: z.string().min(1).default(DEFAULT_SINK_URL),
    defaultDoc: DEFAULT_SINK_URL,
    doc: 'duckdb://FILE (?memory_limit=48MB&threads=N), parquet://DIR, parquet+s3://BUCKET/PREFIX (S3_ENDPOINT and the AWS credential chain), or bigquery://PROJECT/DATASET (?mode=stream&location=US); with a Parquet dataset the workers write the readings files themselves (on S3, straight into the bucket)',
    readers: ['run', 'api', 'worker', 'loader'],
    envDefaultsFlag: true,
  },
  s3Endpoint: {
    env: 'S3_ENDPOINT',
    flag: '--s3-endpoint <url>',
    schema: z.string().url().optional(),
    defaultDoc: 'AWS',
    doc: 'S3-compatible endpoint of the source, of s3:// staging and of a parquet+s3:// sink (path-style addressing, the AWS credential chain)',
    readers: ['run', ...SERVICES],
    envDefaultsFlag: true,
  },
  bigqueryEndpoint: {
    env: 'BIGQUERY_API_ENDPOINT',
    flag: '--bigquery-endpoint <url>',
    schema: z.string().url().optional(),
    defaultDoc: "Google's, with Application Default Credentials",
    doc: 'BigQuery API of an emulator or fake for a bigquery:// sink (no Google credentials are used with it)',
    readers: ['run', 'api', 'loader'],
    envDefaultsFlag: true,
  },
  format: {
    flag: '--format <format>',
    schema: z.enum(['parquet', 'csv', 'prize']).default('parquet'),
    defaultDoc: 'parquet',
    doc: 'parquet or csv daily files, or prize: the 2023 Solar Data Prize CSVs (whole files: --from/--to optional)',
    readers: ['run'],
  },
  systems: {
    flag: '--systems <ids>',
    schema: z.string().default('all'),
    defaultDoc: 'all',
    doc: 'comma-separated system ids, or all (every system folder and metrics dictionary)',
    readers: ['run'],
  },
  from: {
    flag: '--from <day>',
    schema: z.string().optional(),
    defaultDoc: 'required (prize: the whole files)',
    doc: 'first day, YYYY-MM-DD',
    readers: ['run'],
  },
  to: {
    flag: '--to <day>',
    schema: z.string().optional(),
    defaultDoc: 'required (prize: the whole files)',
    doc: 'last day, YYYY-MM-DD (inclusive)',
    readers: ['run'],
  },
  concurrency: {
    env: 'PV_WORKER_CONCURRENCY',
    flag: '--concurrency <n>',
    schema: int(1).default(DEFAULTS.concurrency),
    defaultDoc: String(DEFAULTS.concurrency),
    doc: 'objects one process transforms at once',
    readers: ['run', 'worker'],
  },
  threads: {
    flag: '--threads <n>',
    schema: int(0).optional(),
    defaultDoc: 'cores − 1 on 3+ cores for runs of 100+ objects, else 0',
    doc: 'decoding worker threads of `run` (0: in-process)',
    readers: ['run'],
  },
  workerThreads: {
    env: 'PV_WORKER_THREADS',
    schema: int(0).default(Math.min(availableParallelism(), 4)),
    defaultDoc: 'cores (≤ 4)',
    doc: 'decoding threads of one worker process (0: its main thread), so lock renewal never waits on decoding',
    readers: ['worker'],
  },
  stagingDir: {
    flag: '--staging <dir>',
    schema: z.string().optional(),
    defaultDoc: 'a temp dir, removed at the end',
    doc: 'where `run` stages files between transform and load',
    readers: ['run'],
  },
  staging: {
    env: 'PV_STAGING',
    schema: z.string().default('file://./.staging'),
    defaultDoc: 'file://./.staging',
    doc: 'staging area shared by workers and the loader: file://DIR on a shared volume, s3://bucket/prefix (S3_ENDPOINT and the AWS credential chain), or gs://bucket/prefix for a BigQuery sink (GCS_* below: the workers stage load-ready files there and the load jobs read them by URI)',
    readers: ['worker', 'loader'],
  },
  gcsEndpoint: {
    env: 'GCS_ENDPOINT',
    schema: z.string().url().optional(),
    defaultDoc: 'https://storage.googleapis.com',
    doc: 'Cloud Storage XML API endpoint of gs:// staging (path-style; an S3-compatible server in tests)',
    readers: ['worker', 'loader'],
  },
  gcsHmacAccessId: {
    env: 'GCS_HMAC_ACCESS_ID',
    schema: z.string().optional(),
    defaultDoc: '— (gs:// staging on Cloud Storage: required)',
    doc: 'HMAC access id of a service account that may list, create, read and delete objects in the gs:// staging bucket (with GCS_HMAC_SECRET; a Secret)',
    readers: ['worker', 'loader'],
  },
  gcsHmacSecret: {
    env: 'GCS_HMAC_SECRET',
    schema: z.string().optional(),
    defaultDoc: '—',
    doc: 'the secret of GCS_HMAC_ACCESS_ID (a Secret)',
    readers: ['worker', 'loader'],
  },
  maxObjectMb: {
    env: 'PV_MAX_OBJECT_MB',
    flag: '--max-object-mb <n>',
    schema: int(1).default(DEFAULTS.maxObjectMb),
    defaultDoc: String(DEFAULTS.maxObjectMb),
    doc: 'larger daily objects fail with that reason, MiB (prize CSVs are streamed)',
    readers: ['run', 'worker'],
  },
  partMb: {
    env: 'PV_PART_MB',
    flag: '--part-mb <n>',
    schema: z.coerce.number().positive().default(DEFAULTS.partMb),
    defaultDoc: String(DEFAULTS.partMb),
    doc: 'prize CSVs are split into byte ranges of this many MiB (fractions allowed), one object each',
    readers: ['run', 'planner'],
  },
  planHighWater: {
    env: 'PV_PLAN_HIGH_WATER',
    schema: int(1).default(DEFAULTS.planHighWater),
    defaultDoc: DEFAULTS.planHighWater.toLocaleString('en-US'),
    doc: "a run's planner pauses while this many of its transform jobs are outstanding, and plans its next page as they drain (Redis memory stays flat whatever the run's size)",
    readers: ['planner'],
  },
  batchRows: {
    env: 'PV_LOAD_BATCH_ROWS',
    flag: '--batch-rows <n>',
    // unset: the sink's own preference (Sink.preferredBatchRows), else DEFAULTS.batchRows
    schema: int(1).optional(),
    defaultDoc: `${DEFAULTS.batchRows.toLocaleString('en-US')} (BigQuery in load mode: ${DEFAULTS.bigQueryBatchRows.toLocaleString('en-US')})`,
    doc: 'fact rows per sink commit (large batches cost DuckDB far less CPU per row, and BigQuery fewer jobs)',
    readers: ['run', 'loader'],
  },
  batchObjects: {
    env: 'PV_LOAD_BATCH_OBJECTS',
    schema: int(1).default(DEFAULTS.batchObjects),
    defaultDoc: String(DEFAULTS.batchObjects),
    doc: 'objects per sink commit',
    readers: ['loader'],
  },
  loadMaxWaitMs: {
    env: 'PV_LOAD_MAX_WAIT_MS',
    schema: int(10).default(2000),
    defaultDoc: '2000',
    doc: 'the longest a staged object waits for its batch, ms (what waits commits at once when no plan or transform job is left)',
    readers: ['loader'],
  },
  reportDir: {
    env: 'PV_REPORT_DIR',
    flag: '--report <dir>',
    schema: z.string().min(1).optional(),
    defaultDoc: 'none',
    doc: 'quality report directory: refreshed after each run for the systems it loaded (run, loader), served at /report (api)',
    readers: ['run', 'api', 'loader'],
    envDefaultsFlag: true,
  },
  json: {
    flag: '--json',
    schema: z.boolean().default(false),
    defaultDoc: 'off',
    doc: 'print the run report as JSON on stdout',
    readers: ['run'],
  },
  progress: {
    flag: '--no-progress',
    schema: z.boolean().default(true),
    defaultDoc: 'a bar on a terminal',
    doc: 'no progress bar, even on a terminal',
    readers: ['run'],
  },
  logLevel: {
    env: 'PV_LOG_LEVEL',
    flag: '--log-level <level>',
    schema: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
    defaultDoc: 'info (run on a terminal: warn)',
    doc: 'level of the JSON log lines (pino) on stderr',
    readers: ['run', ...SERVICES],
  },
  apiToken: {
    env: 'PV_API_TOKEN',
    schema: z.string().optional(),
    defaultDoc: '— (api: required, ≥ 16 chars)',
    doc: 'bearer token of the API and the dashboard',
    readers: ['api'],
  },
  port: {
    env: 'PORT',
    schema: int(1).max(65535).default(8080),
    defaultDoc: '8080',
    doc: 'port the api listens on',
    readers: ['api'],
  },
  apiHost: {
    env: 'PV_API_HOST',
    schema: z.string().default('0.0.0.0'),
    defaultDoc: '0.0.0.0',
    doc: 'address the api binds to',
    readers: ['api'],
  },
  trustProxy: {
    env: 'PV_TRUST_PROXY',
    schema: z
      .string()
      .trim()
      .regex(
        /^(\d{1,2}|((\d{1,3}(\.\d{1,3}){3}|[0-9a-fA-F]*:[0-9a-fA-F:]*)(\/\d{1,3})?|loopback|linklocal|uniquelocal)(\s*,\s*((\d{1,3}(\.\d{1,3}){3}|[0-9a-fA-F]*:[0-9a-fA-F:]*)(\/\d{1,3})?|loopback|linklocal|uniquelocal))*)$/,
        'a hop count (1 behind one proxy) or a comma-separated list of addresses/CIDRs',
      )
      .optional(),
    defaultDoc: 'none',
    doc: 'proxies in front of the api whose X-Forwarded-For names the client: a hop count (1 behind one Ingress) or a comma-separated list of addresses/CIDRs; none: the peer address is the client',
    readers: ['api'],
  },
  metricsPort: {
    env: 'PV_METRICS_PORT',
    schema: int(0).max(65535).default(9464),
    defaultDoc: '9464',
    doc: 'port of /metrics (Prometheus), apart from the api port so that the Ingress never publishes it (0: any free port)',
    readers: ['api'],
  },
  authFailureLimit: {
    env: 'PV_AUTH_FAILURE_LIMIT',
    schema: int(0).default(100),
    defaultDoc: '100',
    doc: "failed authentications (401) one client may make per 15 minutes; past it that client's failing attempts get 429 until the window ends, while a request with the right token always passes (0: no limit)",
    readers: ['api'],
  },
  triggerRateLimit: {
    env: 'PV_TRIGGER_RATE_LIMIT',
    schema: int(1).default(30),
    defaultDoc: '30',
    doc: 'run triggers (POST /api/runs) one client may send per minute; more get 429 with RateLimit headers',
    readers: ['api'],
  },
  maxRunDays: {
    env: 'PV_MAX_RUN_DAYS',
    schema: int(1).default(12_000),
    defaultDoc: '12000',
    doc: 'longest day span one trigger may ask for (about 33 years: the whole archive since 1994)',
    readers: ['api'],
  },
  queuePrefix: {
    env: 'PV_QUEUE_PREFIX',
    schema: z.string().default(DEFAULT_QUEUE_PREFIX),
    defaultDoc: DEFAULT_QUEUE_PREFIX,
    doc: 'key prefix of every queue and run (a Redis Cluster hash tag)',
    readers: SERVICES,
  },
  lockDurationMs: {
    env: 'PV_LOCK_DURATION_MS',
    schema: int(1000).default(30_000),
    defaultDoc: '30000',
    doc: 'job lock duration, ms: a job whose worker stops renewing it for this long is stalled and taken over',
    readers: TRANSFORMING,
  },
  stalledIntervalMs: {
    env: 'PV_STALLED_INTERVAL_MS',
    schema: int(1000).default(30_000),
    defaultDoc: '30000',
    doc: 'how often workers look for stalled jobs, ms',
    readers: TRANSFORMING,
  },
  jobAttempts: {
    env: 'PV_JOB_ATTEMPTS',
    schema: int(1).default(5),
    defaultDoc: '5',
    doc: 'tries of a job that fails with a retryable error',
    readers: SERVICES,
  },
  jobBackoffMs: {
    env: 'PV_JOB_BACKOFF_MS',
    schema: int(0).default(1000),
    defaultDoc: '1000',
    doc: 'first retry delay, ms (exponential, with jitter)',
    readers: SERVICES,
  },
  shutdownGraceMs: {
    env: 'PV_SHUTDOWN_GRACE_MS',
    schema: int(0).default(30_000),
    defaultDoc: '30000',
    doc: 'SIGTERM grace for active jobs, ms',
    readers: SERVICES,
  },
  rescanCron: {
    env: 'PV_RESCAN_CRON',
    schema: z.string().optional(),
    defaultDoc: 'unset',
    doc: 'optional periodic re-scan that picks up new days: a cron pattern (e.g. `0 3 * * *`)',
    readers: ['planner'],
  },
  rescanSystems: {
    env: 'PV_RESCAN_SYSTEMS',
    schema: z.string().default('all'),
    defaultDoc: 'all',
    doc: 'systems of the re-scan',
    readers: ['planner'],
  },
  rescanDays: {
    env: 'PV_RESCAN_DAYS',
    schema: int(1).default(7),
    defaultDoc: '7',
    doc: 'days back the re-scan covers',
    readers: ['planner'],
  },
  rescanFormat: {
    env: 'PV_RESCAN_FORMAT',
    schema: z.enum(['parquet', 'csv', 'prize']).default('parquet'),
    defaultDoc: 'parquet',
    doc: 'format of the re-scan',
    readers: ['planner'],
  },
} as const satisfies Record<string, Knob>;

/** The name of a knob of {@link KNOBS}. */
export type KnobName = keyof typeof KNOBS;

type EnvKnobs = { [K in KnobName as (typeof KNOBS)[K] extends { env: string } ? K : never]: (typeof KNOBS)[K] };

/**
 * The validated configuration of a service process, keyed by environment
 * variable, derived from {@link KNOBS}. Built once at start-up by
 * {@link loadServiceConfig}; nothing else reads `process.env`.
 */
export type ServiceConfig = {
  [K in keyof EnvKnobs as EnvKnobs[K] extends { env: infer E extends string } ? E : never]: z.output<
    EnvKnobs[K]['schema']
  >;
};

const ENV_KNOBS = (Object.values(KNOBS) as Knob[]).filter((k) => k.env !== undefined);

/** Names of every variable the services read (for the drift checks of compose and k8s). */
export const SERVICE_ENV_VARS: readonly string[] = ENV_KNOBS.map((k) => k.env!);

const serviceSchema = z.object(Object.fromEntries(ENV_KNOBS.map((k) => [k.env!, k.schema])));

/**
 * Validates the environment of a service. An empty value counts as unset.
 * The first bad value is a BadInputError naming the variable, e.g.
 * `PV_WORKER_CONCURRENCY: Invalid input: expected number, received NaN`.
 */
export function loadServiceConfig(env: NodeJS.ProcessEnv): ServiceConfig {
  const picked = Object.fromEntries(
    SERVICE_ENV_VARS.filter((k) => env[k] !== undefined && env[k] !== '').map((k) => [k, env[k]]),
  );
  const r = serviceSchema.safeParse(picked);
  if (!r.success) {
    const issue = r.error.issues[0]!;
    throw new BadInputError(String(issue.path[0] ?? 'environment'), issue.message);
  }
  return r.data as ServiceConfig;
}

/** Parses a flag's text with its knob's schema; the error message names what was wrong. */
export function parseKnob(name: KnobName, text: string): unknown {
  const knob: Knob = KNOBS[name];
  const r = knob.schema.safeParse(text);
  if (!r.success) throw new BadInputError(knob.flag?.split(' ')[0] ?? name, r.error.issues[0]!.message);
  return r.data;
}

/**
 * The README's table of the knobs of one kind: the services' environment
 * variables (`env`) or the flags of `pv-pipeline run` (`flag`), one row each,
 * in table order. A test checks that README.md holds exactly these tables.
 */
export function knobTable(kind: 'env' | 'flag'): string {
  const rows = (Object.values(KNOBS) as Knob[])
    .filter((k) => (kind === 'env' ? k.env : k.flag))
    .map((k) => {
      const name = kind === 'env' ? `\`${k.env}\`` : `\`${k.flag}\``;
      const also =
        kind === 'env'
          ? k.flag
            ? ` (run: \`${k.flag!.split(' ')[0]}\`)`
            : ''
          : k.env
            ? ` (services: \`${k.env}\`)`
            : '';
      const readers = kind === 'env' ? ` | ${k.readers.filter((r) => r !== 'run').join(', ')}` : '';
      return `| ${name} | ${k.defaultDoc.replaceAll('|', '\\|')}${readers} | ${k.doc.replaceAll('|', '\\|')}${also} |`;
    });
  const head =
    kind === 'env'
      ? '| variable | default | read by | meaning |\n|---|---|---|---|'
      : '| flag | default | meaning |\n|---|---|---|';
  return `${head}\n${rows.join('\n')}`;
}
