import { mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { DuckDBConnection } from '@duckdb/node-api';
import { derivedId, PermanentError, RetryableError, type StagedManifest } from '@pv-pipeline/core';
import { bigQuerySchema, PV_INGEST_LEDGER, PV_READINGS } from '@pv-pipeline/schema';
import { ledgerFieldsOf } from '../ledger-fields.js';
import { batchPrecedence } from '../precedence.js';
import type { CommitResult } from '../sink.js';
import { sqlString } from '../sql-literal.js';
import { type BigQueryApi, type JobResource, MAX_LOAD_URIS } from './bigquery-api.js';
import { arrayParam, PARAM_TYPE_OF, type QueryParameter, scalarParam, structArrayParam } from './bigquery-params.js';
import { describeBigQueryError, errorReasons } from './bigquery-retry.js';

/** What a load-mode commit needs. */
export interface LoadCommitDeps {
  api: BigQueryApi;
  /** An in-memory DuckDB connection, used to rewrite the staged files into one upload. */
  duck: DuckDBConnection;
  /** Where the combined Parquet file is written (removed after the upload). */
  tempDir: string;
  /** Sink URL, for messages. */
  url: string;
  /** Fresh job ids tried for one batch when a job ends in a transient error. */
  loadAttempts: number;
  /** `gs://` URIs per load job (at most {@link MAX_LOAD_URIS}). @defaultValue {@link MAX_LOAD_URIS} */
  urisPerLoadJob?: number;
  /** Told as the commit passes each of {@link BIGQUERY_COMMIT_STEPS}; a throw stands for a crash there. */
  onCommitStep?: (step: string) => void;
}

/** The steps of a load-mode commit: the load job into the staging table done; the commit script done. */
export const BIGQUERY_COMMIT_STEPS = ['staging-loaded', 'script-committed'] as const;

const q = (name: string) => `\`${name}\``;
const READING_COLUMNS = PV_READINGS.columns.map((c) => c.name);
/** A staging table no commit dropped (a crash never retried) expires after this long. */
const STAGING_EXPIRATION_MS = 7 * 86_400_000;
/** Job errors worth a fresh job id (BigQuery's transient reasons). */
const TRANSIENT_JOB_REASONS = new Set([
  'backendError',
  'internalError',
  'rateLimitExceeded',
  'timeout',
  'jobBackendError',
]);

/** The id of a batch: its objects' keys and ETags, in key order (so a retry of the same batch gets the same id). */
export function batchId(project: string, dataset: string, batch: readonly StagedManifest[]): string {
  const parts = [...batch].sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0)).flatMap((m) => [m.key, m.etag]);
  return derivedId('pv-bq-batch', project, dataset, ...parts);
}

/**
 * The staging table's schema: the fact table's, `source_key` included. An
 * object's precedence in its batch (precedence.ts) is not in it: the commit
 * script joins it from a parameter by source key ({@link precedenceParam}),
 * so that a readings file a worker wrote loads as it is.
 */
export const STAGING_SCHEMA = { fields: bigQuerySchema(PV_READINGS).fields };

/**
 * Whether a staged file is loaded by the load job from Cloud Storage as it is:
 * a readings file (`layout: 'pv_readings'`, `source_key` in it) a worker put
 * in `gs://` staging. Any other staged file is rewritten into the batch's upload.
 */
export function loadsFromUri(m: Pick<StagedManifest, 'layout' | 'staged'>): boolean {
  return m.layout === 'pv_readings' && m.staged !== null && m.staged.startsWith('gs://');
}

/**
 * Rewrites staged files into ONE Parquet file in the staging table's column
 * order, with `source_key` added per object (one scan of all files). A
 * readings file among them keeps its own columns (read by name). Returns the
 * row count.
 */
export async function combineStagedFiles(
  duck: DuckDBConnection,
  files: readonly StagedManifest[],
  out: string,
): Promise<number> {
  const mapping = files.map((m) => `(${sqlString(m.staged!)}, ${sqlString(m.key)})`).join(', ');
  const list = files.map((m) => sqlString(m.staged!)).join(', ');
  const res = await duck.runAndReadAll(`COPY (
      SELECT CAST(r.ss_id AS BIGINT) AS ss_id, r.timestamp, r.measured_on, CAST(r.sensor AS VARCHAR) AS sensor,
             CAST(r.metric_id AS BIGINT) AS metric_id, CAST(r.units AS VARCHAR) AS units, r.value, k.source_key
      FROM read_parquet([${list}], filename = true, union_by_name = true) r
      JOIN (VALUES ${mapping}) k(file, source_key) ON r.filename = k.file
    ) TO ${sqlString(out)} (FORMAT parquet, COMPRESSION zstd)`);
  return Number(res.getRows()[0]?.[0] ?? 0);
}

/**
 * The `@precedence` parameter of the commit script: per source key, its
 * object's precedence in the batch (`_rank`, `_ord`, `_pos`, higher wins) and
 * its group (`_grp`), which decides against objects committed before.
 */
export function precedenceParam(batch: readonly StagedManifest[]): QueryParameter {
  const precedence = batchPrecedence(batch);
  return structArrayParam(
    'precedence',
    [
      { name: 'source_key', type: 'STRING' },
      { name: '_rank', type: 'INT64' },
      { name: '_ord', type: 'INT64' },
      { name: '_pos', type: 'INT64' },
      { name: '_grp', type: 'STRING' },
    ],
    batch.map((m, i) => ({
      source_key: m.key,
      _rank: precedence[i]!.rank,
      _ord: precedence[i]!.order,
      _pos: precedence[i]!.pos,
      _grp: m.group,
    })),
  );
}

/**
 * The batch with one manifest per key, the last (a changed object staged twice
 * before one commit: its later version stands, as a later commit would make it).
 */
export function lastPerKey(batch: readonly StagedManifest[]): StagedManifest[] {
  const last = new Map<string, number>();
  for (const [i, m] of batch.entries()) last.set(m.key, i);
  return batch.filter((m, i) => last.get(m.key) === i);
}

/** Ledger columns written by the statement itself rather than from the batch. */
const LEDGER_COMPUTED = new Set(['run_id', 'loaded_at']);

/** The ledger rows of a batch as one ARRAY<STRUCT> parameter (every ledger column but run_id and loaded_at). */
function ledgerParam(batch: readonly StagedManifest[], etagOf: (m: StagedManifest) => string): QueryParameter {
  return structArrayParam(
    'ledger',
    PV_INGEST_LEDGER.columns
      .filter((c) => !LEDGER_COMPUTED.has(c.name))
      .map((c) => ({ name: c.name, type: PARAM_TYPE_OF[c.type]! })),
    batch.map((m) => ledgerFieldsOf(m, etagOf(m))),
  );
}

/** `MERGE` of the ledger rows in `@ledger` (run id `@run_id`, loaded now). */
export function ledgerMergeSql(api: BigQueryApi): string {
  const cols = PV_INGEST_LEDGER.columns.map((c) => c.name);
  const value = (c: string) => (c === 'run_id' ? '@run_id' : c === 'loaded_at' ? 'CURRENT_TIMESTAMP()' : `s.${q(c)}`);
  return `MERGE INTO ${api.ref(PV_INGEST_LEDGER.name)} AS t
USING (SELECT * FROM UNNEST(@ledger)) AS s
ON t.${q('source_key')} = s.${q('source_key')}
WHEN MATCHED THEN UPDATE SET ${cols
    .filter((c) => c !== 'source_key')
    .map((c) => `${q(c)} = ${value(c)}`)
    .join(', ')}
WHEN NOT MATCHED THEN INSERT (${cols.map(q).join(', ')}) VALUES (${cols.map(value).join(', ')})`;
}

/**
 * The parameters of {@link ledgerMergeSql}. `etagOf` lets stream mode write
 * a `pending:` marker first (an object being streamed is never taken as loaded).
 */
export function ledgerMergeParams(
  batch: readonly StagedManifest[],
  runId: string,
  etagOf: (m: StagedManifest) => string = (m) => m.etag,
): QueryParameter[] {
  return [ledgerParam(batch, etagOf), scalarParam('run_id', 'STRING', runId)];
}

/** What the commit script has to do besides inserting and merging the ledger. */
export interface ScriptPlan {
  /** Staging table holding the batch's rows, or null when the batch has no rows. */
  stage: string | null;
  /** Some objects of the batch were loaded before: delete their old rows by source_key. */
  hasPrior: boolean;
  /** Another loaded object, or another object of the batch, may deliver the same keys: delete/dedupe by key. */
  overlap: boolean;
}

/**
 * The commit script: one transaction that removes the rows being replaced
 * (the old rows of objects loaded before, by source_key, and when keys may
 * collide, any row with the same (ss_id, timestamp, sensor) as an incoming
 * one), inserts the staged rows and merges the ledger rows; then drops the
 * staging table and returns how many rows were replaced. Where keys may
 * collide, one row per key wins within the batch (precedence.ts), and an
 * incoming row is dropped where a committed object later in the same group
 * (a later byte range of one prize file) holds the key. Both deletes are
 * restricted to the batch's systems (clustering), the overlap also to the
 * incoming time range (partition pruning).
 */
export function commitScript(api: BigQueryApi, plan: ScriptPlan): string {
  const { stage } = plan;
  const r = (c: string) => `r.${q(c)}`;
  const overlap = Boolean(stage && plan.overlap);
  // the rows to insert: the staging table, or its winners in a temp table
  const incoming = overlap ? '_pv_in' : stage ? api.ref(stage) : null;
  const conditions: string[] = [];
  if (plan.hasPrior) conditions.push(`${r('source_key')} IN UNNEST(@prior_keys)`);
  if (overlap) {
    conditions.push(`(${r('timestamp')} BETWEEN @lo AND @hi AND EXISTS (
      SELECT 1 FROM _pv_in AS n
      WHERE n.${q('ss_id')} = ${r('ss_id')} AND n.${q('timestamp')} = ${r('timestamp')} AND n.${q('sensor')} = ${r('sensor')}))`);
  }
  const where = `${r('ss_id')} IN UNNEST(@ss_ids) AND (${conditions.join('\n    OR ')})`;
  const cols = READING_COLUMNS.map(q).join(', ');
  const readings = api.ref(PV_READINGS.name);
  const ledger = api.ref(PV_INGEST_LEDGER.name);
  const key = `${q('ss_id')}, ${q('timestamp')}, ${q('sensor')}`;
  const winners = overlap
    ? [
        `CREATE TEMP TABLE _pv_in AS SELECT s.*, p.${q('_rank')}, p.${q('_ord')}, p.${q('_pos')}, p.${q('_grp')}
FROM ${api.ref(stage!)} AS s JOIN (SELECT * FROM UNNEST(@precedence)) AS p ON p.${q('source_key')} = s.${q('source_key')}
WHERE TRUE QUALIFY ROW_NUMBER() OVER (PARTITION BY ${key} ORDER BY ${q('_rank')} DESC, ${q('_ord')} DESC, ${q('_pos')} DESC) = 1`,
        `DELETE FROM _pv_in AS n WHERE n.${q('_grp')} IS NOT NULL AND EXISTS (
  SELECT 1 FROM ${readings} AS r JOIN ${ledger} AS l ON l.${q('source_key')} = r.${q('source_key')}
  WHERE ${r('ss_id')} IN UNNEST(@ss_ids) AND ${r('timestamp')} BETWEEN @lo AND @hi
    AND ${r('ss_id')} = n.${q('ss_id')} AND ${r('timestamp')} = n.${q('timestamp')} AND ${r('sensor')} = n.${q('sensor')}
    AND l.${q('source_group')} = n.${q('_grp')} AND l.${q('source_order')} > n.${q('_ord')})`,
      ]
    : [];
  const insert = incoming ? `INSERT INTO ${readings} (${cols})\nSELECT ${cols} FROM ${incoming}` : null;
  const replaced = conditions.length ? `(SELECT COUNT(*) FROM ${readings} AS r WHERE ${where})` : '0';
  const inserted = incoming ? `(SELECT COUNT(*) FROM ${incoming})` : '0';
  return [
    'BEGIN TRANSACTION',
    ...winners,
    `CREATE TEMP TABLE _pv_counts AS SELECT ${replaced} AS replaced, ${inserted} AS inserted`,
    ...(conditions.length ? [`DELETE FROM ${readings} AS r WHERE ${where}`] : []),
    ...(insert ? [insert] : []),
    ledgerMergeSql(api),
    'COMMIT TRANSACTION',
    ...(stage ? [`DROP TABLE IF EXISTS ${api.ref(stage)}`] : []),
    'SELECT replaced, inserted FROM _pv_counts',
  ].join(';\n');
}

/** Ledger rows of the batch's systems that matter to a commit. */
interface LedgerNeighbours {
  /** Keys of the batch the ledger holds already (changed objects, or pending stream markers). */
  prior: string[];
  /** The ledger's ETag of each key in `prior`. */
  etags: Map<string, string>;
  /** Whether another loaded object's time range meets one of the batch's objects (keys may collide). */
  others: boolean;
}

/** Smallest and largest of some epoch-µs values (BigInt: Math.min/max do not take them). */
function bigRange(values: readonly bigint[]): [bigint, bigint] {
  let lo = values[0]!;
  let hi = values[0]!;
  for (const v of values) {
    if (v < lo) lo = v;
    if (v > hi) hi = v;
  }
  return [lo, hi];
}

/** Whether two objects of one system in the batch have meeting time ranges (their keys may collide). */
export function rangesMeet(batch: readonly StagedManifest[]): boolean {
  const withRows = batch.filter((m) => m.rows > 0 && m.minTimestamp !== null && m.maxTimestamp !== null);
  const sorted = [...withRows].sort((a, b) =>
    a.ss_id !== b.ss_id ? a.ss_id - b.ss_id : BigInt(a.minTimestamp!) < BigInt(b.minTimestamp!) ? -1 : 1,
  );
  for (let i = 1; i < sorted.length; i++) {
    const p = sorted[i - 1]!;
    const c = sorted[i]!;
    if (p.ss_id === c.ss_id && BigInt(c.minTimestamp!) <= BigInt(p.maxTimestamp!)) return true;
  }
  return false;
}

/**
 * One ledger query (the ledger is small): the batch's keys already loaded,
 * and the other objects of the batch's systems whose time range meets the
 * batch's span; their ranges are then checked object by object.
 */
export async function ledgerNeighbours(api: BigQueryApi, batch: readonly StagedManifest[]): Promise<LedgerNeighbours> {
  const keys = new Set(batch.map((m) => m.key));
  const ranged = batch.filter((m) => m.rows > 0 && m.minTimestamp !== null && m.maxTimestamp !== null);
  const stamps = ranged.flatMap((m) => [BigInt(m.minTimestamp!), BigInt(m.maxTimestamp!)]);
  const [lo, hi] = stamps.length ? bigRange(stamps) : [0n, 0n];
  const res = await api.query(
    'ledger lookup',
    `SELECT ${q('source_key')}, ${q('etag')}, ${q('ss_id')}, ${q('min_timestamp')}, ${q('max_timestamp')}
FROM ${api.ref(PV_INGEST_LEDGER.name)}
WHERE ${q('ss_id')} IN UNNEST(@ss_ids)
  AND (${q('source_key')} IN UNNEST(@keys)
    OR (${q('rows')} > 0 AND (${q('min_timestamp')} IS NULL OR (${q('min_timestamp')} <= @hi AND ${q('max_timestamp')} >= @lo))))`,
    [
      arrayParam('ss_ids', 'INT64', [...new Set(batch.map((m) => m.ss_id))]),
      arrayParam('keys', 'STRING', [...keys]),
      scalarParam('lo', 'TIMESTAMP', lo),
      scalarParam('hi', 'TIMESTAMP', hi),
    ],
  );
  const prior: string[] = [];
  const etags = new Map<string, string>();
  let others = false;
  for (const row of res.rows) {
    const key = String(row.source_key);
    if (keys.has(key)) {
      prior.push(key);
      etags.set(key, String(row.etag));
      continue;
    }
    const mn = row.min_timestamp;
    const mx = row.max_timestamp;
    if (mn == null || mx == null) {
      others = true;
      continue;
    }
    const [l, h] = [BigInt(mn), BigInt(mx)];
    if (
      ranged.some(
        (m) => String(m.ss_id) === String(row.ss_id) && l <= BigInt(m.maxTimestamp!) && h >= BigInt(m.minTimestamp!),
      )
    ) {
      others = true;
    }
  }
  return { prior, etags, others };
}

/** The `@ss_ids` and `@keys` parameters: the batch's systems and object keys. */
function batchKeyParams(batch: readonly StagedManifest[]): QueryParameter[] {
  return [
    arrayParam('ss_ids', 'INT64', [...new Set(batch.map((m) => m.ss_id))]),
    arrayParam('keys', 'STRING', [...new Set(batch.map((m) => m.key))]),
  ];
}

/** Whether ledger ETags (by key) hold every object of the batch at the batch's ETag. */
const holdsBatch = (etags: ReadonlyMap<string, string>, batch: readonly StagedManifest[]) =>
  batch.every((m) => etags.get(m.key) === m.etag);

/**
 * Whether a batch's commit script landed although its job failed (a statement
 * after `COMMIT TRANSACTION`, the staging table's drop, failed). The ledger
 * rows commit in the same transaction as the fact rows, so a ledger that now
 * holds every object of the batch at its ETag, where it did not before the
 * commit (`before`: {@link ledgerNeighbours}' `etags`), says it did. A batch
 * the ledger held already is never taken as landed: a retry of it replaces its
 * own rows by source_key.
 */
export async function commitLanded(
  api: BigQueryApi,
  batch: readonly StagedManifest[],
  before: ReadonlyMap<string, string>,
): Promise<boolean> {
  if (holdsBatch(before, batch)) return false;
  const res = await api.query(
    'ledger check',
    `SELECT ${q('source_key')}, ${q('etag')} FROM ${api.ref(PV_INGEST_LEDGER.name)}
WHERE ${q('ss_id')} IN UNNEST(@ss_ids) AND ${q('source_key')} IN UNNEST(@keys)`,
    batchKeyParams(batch),
  );
  return holdsBatch(new Map(res.rows.map((r) => [String(r.source_key), String(r.etag)])), batch);
}

/**
 * The outcome of a commit that landed although its job failed: the staging
 * table's drop is tried again (best effort: it expires anyway), and the rows
 * the script inserted are counted by source_key within the batch's time range
 * (`range`, null when the batch has no rows). How many rows it replaced was
 * lost with the job's output: reported as 0.
 */
async function landedCommit(
  api: BigQueryApi,
  batch: readonly StagedManifest[],
  stage: string | null,
  range: [bigint, bigint] | null,
): Promise<CommitResult> {
  if (stage) await api.deleteTable(stage).catch(() => undefined);
  if (!range) return { rows: 0, replaced: 0 };
  const res = await api.query(
    'count committed rows',
    `SELECT COUNT(*) AS n FROM ${api.ref(PV_READINGS.name)}
WHERE ${q('ss_id')} IN UNNEST(@ss_ids) AND ${q('source_key')} IN UNNEST(@keys) AND ${q('timestamp')} BETWEEN @lo AND @hi`,
    [...batchKeyParams(batch), scalarParam('lo', 'TIMESTAMP', range[0]), scalarParam('hi', 'TIMESTAMP', range[1])],
  );
  return { rows: Number(res.rows[0]?.n ?? 0), replaced: 0 };
}

const jobError = (job: JobResource) => job.status?.errorResult;
const describeJobError = (job: JobResource) => {
  const e = jobError(job)!;
  const more = (job.status?.errors ?? [])
    .slice(0, 3)
    .map((x) => x.message)
    .filter((m) => m && m !== e.message);
  return `${e.reason ?? 'error'}: ${e.message ?? ''}${more.length ? ` (${more.join('; ')})` : ''}`;
};
const isTransientJobError = (job: JobResource) =>
  errorReasons({ reason: jobError(job)?.reason, errors: job.status?.errors }).some((r) => TRANSIENT_JOB_REASONS.has(r));

/** A staging load job of one commit attempt: its id, and how to insert it with a write disposition. */
interface StagingLoad {
  id: string;
  insert(writeDisposition: 'WRITE_TRUNCATE' | 'WRITE_APPEND'): Promise<{ existed: boolean }>;
}

/** Splits a list into chunks of at most `size`. */
function chunks<T>(items: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

/**
 * Commits a batch in load mode:
 *
 * 1. the batch's rows reach a per-batch staging table under job ids derived
 *    from the batch's keys and ETags: readings files in `gs://` staging
 *    ({@link loadsFromUri}) by load jobs that list their URIs (up to
 *    {@link MAX_LOAD_URIS} each: the loader moves none of their rows), any
 *    other staged files rewritten into one Parquet upload (source_key added).
 *    The first job truncates the table, the others append. A retry after a
 *    crash or a timeout gets 409 for an id and waits for the existing job
 *    rather than loading again; the jobs' output rows must equal the manifests';
 * 2. ONE script job (derived id too) replaces, inserts and merges the ledger
 *    in a transaction, then drops the staging table.
 *
 * A job that ends in a transient error (or an earlier job found under the
 * same id that failed, or whose staging table is gone) moves on to a fresh id
 * (`…_1`, `…_2`); any other job error (a `gs://` file missing, say) fails the
 * batch with its reasons. A failed commit job is first checked against the
 * ledger: when its transaction committed after all (a later statement failed),
 * the batch is done ({@link commitLanded}) and is not inserted again.
 */
export async function commitLoad(
  deps: LoadCommitDeps,
  staged: readonly StagedManifest[],
  runId: string,
): Promise<CommitResult> {
  const { api, url } = deps;
  if (staged.length === 0) return { rows: 0, replaced: 0 };
  const batch = lastPerKey(staged);
  const id = batchId(api.o.projectId, api.o.datasetId, batch);
  const files = batch.filter((m) => m.rows > 0 && m.staged);
  // in key order: a redone batch (arriving in another order) cuts the same URI chunks under the same job ids
  const uriFiles = files.filter(loadsFromUri).sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  const localFiles = files.filter((m) => !loadsFromUri(m));
  const expected = files.reduce((s, m) => s + m.rows, 0);
  const stage = files.length > 0 ? `_pv_stage_${id}` : null;
  const { prior, etags, others } = await ledgerNeighbours(api, batch);
  const plan: ScriptPlan = { stage, hasPrior: prior.length > 0, overlap: others || rangesMeet(batch) };
  const stamps = files.flatMap((m) => [m.minTimestamp, m.maxTimestamp]).filter((t): t is string => t !== null);
  const range = stamps.length ? bigRange(stamps.map(BigInt)) : null;
  const params: QueryParameter[] = [
    arrayParam(
      'ss_ids',
      'INT64',
      [...new Set(batch.map((m) => m.ss_id))].sort((a, b) => a - b),
    ),
    ...(plan.hasPrior ? [arrayParam('prior_keys', 'STRING', prior)] : []),
    ...(stage && plan.overlap && range
      ? [scalarParam('lo', 'TIMESTAMP', range[0]), scalarParam('hi', 'TIMESTAMP', range[1]), precedenceParam(batch)]
      : []),
    ...ledgerMergeParams(batch, runId),
  ];
  const script = commitScript(api, plan);
  const loadConfig = {
    sourceFormat: 'PARQUET',
    createDisposition: 'CREATE_IF_NEEDED',
    schema: STAGING_SCHEMA,
  };

  let combined: string | null = null;
  let failures = 0;
  let lastError = '';
  try {
    // Stale ids (found by 409 from an earlier life) do not count as failures; bounded anyway.
    attempts: for (let n = 0; n < deps.loadAttempts + 10 && failures < deps.loadAttempts; n++) {
      const suffix = `${id}_${n}`;
      if (stage) {
        if (localFiles.length > 0 && !combined) {
          await mkdir(deps.tempDir, { recursive: true });
          combined = join(deps.tempDir, `pv_load_${id}.parquet`);
          const written = await combineStagedFiles(deps.duck, localFiles, combined);
          const want = localFiles.reduce((s, m) => s + m.rows, 0);
          if (written !== want) {
            throw new PermanentError(`${url}: staged files held ${written} rows, manifests say ${want}`);
          }
        }
        const upload = combined;
        const loads: StagingLoad[] = [
          ...(upload
            ? [
                {
                  id: `pv_load_${suffix}`,
                  insert: (writeDisposition: string) =>
                    api.uploadLoadJob(stage, upload, `pv_load_${suffix}`, { ...loadConfig, writeDisposition }),
                },
              ]
            : []),
          ...chunks(uriFiles, deps.urisPerLoadJob ?? MAX_LOAD_URIS).map((chunk, c) => {
            const jobId = `pv_load_${suffix}${upload || c > 0 ? `_gs${c}` : ''}`;
            return {
              id: jobId,
              insert: (writeDisposition: string) =>
                api.insertUriLoadJob(stage, jobId, {
                  ...loadConfig,
                  writeDisposition,
                  sourceUris: chunk.map((m) => m.staged!),
                }),
            };
          }),
        ];
        // Created ahead so that it expires by itself if no commit ever drops it (a crash never retried).
        await api.createTable(stage, {
          schema: STAGING_SCHEMA,
          description: `staging of batch ${id}; dropped by its commit`,
          expirationTime: String(Date.now() + STAGING_EXPIRATION_MS),
        });
        let output = 0;
        let anyExisted = false;
        for (const [i, load] of loads.entries()) {
          const { existed } = await load.insert(i === 0 ? 'WRITE_TRUNCATE' : 'WRITE_APPEND');
          const job = await api.waitForJob(load.id);
          if (jobError(job)) {
            lastError = `load job ${load.id} failed: ${describeJobError(job)}`;
            if (existed) continue attempts; // an earlier try's outcome: try a fresh id
            if (isTransientJobError(job)) {
              failures++;
              continue attempts;
            }
            throw new PermanentError(`${url}: ${lastError}`);
          }
          anyExisted ||= existed;
          output += Number(job.statistics?.load?.outputRows ?? Number.NaN);
        }
        if (anyExisted && (output !== expected || Number((await api.getTable(stage))?.numRows ?? -1) !== expected)) {
          lastError = `load jobs of ${suffix} are earlier ones whose staging rows are gone`;
          continue;
        }
        if (output !== expected) {
          throw new PermanentError(
            `${url}: load jobs of batch ${id} loaded ${Number.isNaN(output) ? 'an unknown number of' : output} rows, the batch's manifests say ${expected}`,
          );
        }
      }
      if (stage) deps.onCommitStep?.('staging-loaded');
      const scriptJobId = `pv_commit_${suffix}`;
      const { existed } = await api.insertQueryJob(scriptJobId, script, params);
      const job = await api.waitForJob(scriptJobId);
      if (jobError(job)) {
        lastError = `commit job ${scriptJobId} failed: ${describeJobError(job)}`;
        // It may have failed after its COMMIT TRANSACTION (the drop): then the batch is in and must not go in again.
        if (await commitLanded(api, batch, etags)) {
          deps.onCommitStep?.('script-committed');
          return await landedCommit(api, batch, stage, range);
        }
        if (existed || isTransientJobError(job) || /not found/i.test(jobError(job)?.message ?? '')) {
          if (!existed) failures++;
          continue;
        }
        throw new PermanentError(`${url}: ${lastError}`);
      }
      deps.onCommitStep?.('script-committed');
      const [counts] = await api.jobRows(scriptJobId);
      return { rows: Number(counts?.inserted ?? expected), replaced: Number(counts?.replaced ?? 0) };
    }
    throw new RetryableError(`${url}: batch ${id} not committed after ${failures} failed jobs: ${lastError}`);
  } catch (err) {
    // The staging table of a batch that will not be retried as is; a transient failure keeps it for the retry.
    if (stage && err instanceof PermanentError) await api.deleteTable(stage).catch(() => undefined);
    throw err instanceof Error && !(err instanceof PermanentError || err instanceof RetryableError)
      ? new RetryableError(`${url}: ${describeBigQueryError(err)}`, err)
      : err;
  } finally {
    if (combined) await rm(combined, { force: true });
  }
}
