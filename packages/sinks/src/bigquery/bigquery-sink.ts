import { rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type DuckDBConnection, DuckDBInstance } from '@duckdb/node-api';
import type { BigQuery } from '@google-cloud/bigquery';
import { BadInputError, DEFAULTS, PermanentError, RetryableError, type StagedManifest } from '@pv-pipeline/core';

import {
  ALL_TABLES,
  bigQuerySchema,
  bigQuerySchemaMismatches,
  bigQueryTableLayout,
  PV_INGEST_LEDGER,
  PV_READINGS,
  PV_RUNS,
  PV_SENSORS,
  PV_SYSTEMS,
  type RunRow,
  type SensorEntry,
  type SystemRow,
  type TableDef,
} from '@pv-pipeline/schema';
import type { OAuth2Client } from 'google-auth-library';
import { InFlight } from '../in-flight.js';
import type { CommitResult, DerivedSlice, LedgerFilter, Sink, SinkInitOptions } from '../sink.js';
import { parseSinkUrl, type SinkUrlSource } from '../sink-url.js';
import { assertNamedStagedFiles } from '../staged-layout.js';
import { isoDay, isoMicros, type WarehouseReader, type WarehouseValue } from '../warehouse-reader.js';
import { BigQueryApi, MAX_LOAD_URIS } from './bigquery-api.js';
import { commitLoad, loadsFromUri } from './bigquery-load-job.js';
import { arrayParam, PARAM_TYPE_OF, type QueryParameter, scalarParam, structArrayParam } from './bigquery-params.js';
import { type RetryListener, type RetryOptions, withRetries } from './bigquery-retry.js';
import { commitStream } from './bigquery-stream.js';

/** How a batch reaches the fact table. */
export type BigQueryMode = 'load' | 'stream';

/** The auth client the BigQuery client accepts (an OAuth2Client, GoogleAuth, or a stub with `getRequestHeaders`). */
export type BigQueryAuthClient = NonNullable<ConstructorParameters<typeof BigQuery>[0]>['authClient'];

/** Options of {@link BigQuerySink}. */
export interface BigQuerySinkOptions {
  /** GCP project that owns the dataset and runs the jobs. */
  projectId: string;
  /** Dataset holding the five tables; created when absent. */
  datasetId: string;
  /** Dataset and job location. @defaultValue `US` */
  location?: string;
  /** `load` (default): one load job + one transaction script per batch. `stream`: insertAll, for small incremental runs. */
  mode?: BigQueryMode;
  /**
   * API root of an emulator or fake, e.g. `http://127.0.0.1:9050` (the client
   * adds `/bigquery/v2` and `/upload/bigquery/v2`).
   * @defaultValue Google's.
   */
  apiEndpoint?: string;
  /**
   * Auth client.
   * @defaultValue Application Default Credentials; with `apiEndpoint`,
   * an OAuth2Client holding a placeholder token, so that nothing contacts Google.
   */
  authClient?: BigQueryAuthClient;
  /** Longest wait for one job to finish, ms. @defaultValue 30 min */
  jobTimeoutMs?: number;
  /** First job poll interval, ms (grows ×1.5 up to 5 s). @defaultValue 250 */
  pollIntervalMs?: number;
  /** Fresh job ids tried for one batch when its jobs end in transient errors. @defaultValue 3 */
  loadAttempts?: number;
  /**
   * `gs://` URIs listed by one load job; a batch with more takes several.
   * @defaultValue 10,000 (BigQuery's limit per load job, {@link MAX_LOAD_URIS})
   */
  urisPerLoadJob?: number;
  /** Our retries of transient request faults, on top of the client's own. */
  retry?: RetryOptions;
  /** Where combined Parquet uploads are written. @defaultValue the OS temp dir */
  tempDir?: string;
  /** Stream mode: rows per insertAll request (≤ 500) and bytes per request. */
  streamMaxRows?: number;
  streamMaxBytes?: number;
  /**
   * Told as a commit passes each of its steps ({@link BIGQUERY_COMMIT_STEPS}); a throw there
   * stands for a crash at that point (the sink contract suite's fault hook).
   * @defaultValue none
   */
  onCommitStep?: (step: string) => void;
}

/** Sinks opened in this process (names their temp dirs). */
let instances = 0;

/** Rows per dimension MERGE (one ARRAY<STRUCT> parameter each). */
const DIMENSION_CHUNK = 500;

/** An auth client for emulators and fakes: a fixed placeholder bearer token, never refreshed. */
export async function emulatorAuthClient(): Promise<OAuth2Client> {
  const { OAuth2Client } = await import('google-auth-library');
  const client = new OAuth2Client();
  client.setCredentials({ access_token: 'emulator-placeholder', expiry_date: Date.now() + 10 * 365 * 86_400_000 });
  return client;
}

/**
 * The BigQuery sink (`bigquery://PROJECT/DATASET`).
 *
 * `init` creates the dataset and the tables from the one schema definition
 * (`pv_readings` partitioned by MONTH on `timestamp`, clustered by
 * `ss_id, sensor`) and refuses an existing table whose schema is incompatible,
 * naming the columns. Load mode commits a batch with one load job into a
 * per-batch staging table and one transaction script (see {@link commitLoad});
 * stream mode uses insertAll (see {@link commitStream}). Dimensions and runs
 * are upserted with MERGE from an ARRAY<STRUCT> parameter.
 *
 * Deployment rule: one loader at a time per dataset (the loader service is
 * the sink's only writer). Concurrent writers would race between the ledger
 * lookup and the commit script and on BigQuery's per-table DML queue.
 */
/** How long the sink's first contact with BigQuery may take, retries included. */
const FIRST_CONTACT_MS = 15_000;
/** One request of that first contact. */
const PROBE_REQUEST_MS = 4000;

export class BigQuerySink implements Sink {
  readonly url: string;
  readonly #o: BigQuerySinkOptions;
  #api: BigQueryApi | null = null;
  #instance: DuckDBInstance | null = null;
  #duck: DuckDBConnection | null = null;
  readonly #instance_ = ++instances;
  /** Commits begun and not yet ended; close() waits for them. */
  readonly #inFlight = new InFlight();

  constructor(options: BigQuerySinkOptions) {
    this.#o = options;
    const mode = options.mode ?? 'load';
    this.url = `bigquery://${options.projectId}/${options.datasetId}${mode === 'stream' ? '?mode=stream' : ''}`;
  }

  /** Load mode: {@link DEFAULTS.bigQueryBatchRows} (a commit's jobs take seconds whatever its size); stream mode: none. */
  get preferredBatchRows(): number | undefined {
    return (this.#o.mode ?? 'load') === 'load' ? DEFAULTS.bigQueryBatchRows : undefined;
  }

  /** Load mode reads a readings file in `gs://` staging where it is: its load job lists the URI. */
  readsStagedInPlace(m: StagedManifest): boolean {
    return (this.#o.mode ?? 'load') === 'load' && loadsFromUri(m);
  }

  get #ready(): { api: BigQueryApi; duck: DuckDBConnection } {
    if (!this.#api || !this.#duck) throw new PermanentError(`${this.url}: sink used before init()`);
    return { api: this.#api, duck: this.#duck };
  }

  /** The API wrapper (for tests and tools). */
  get api(): BigQueryApi {
    return this.#ready.api;
  }

  async init(options: SinkInitOptions = {}): Promise<void> {
    const o = this.#o;
    const location = o.location ?? 'US';
    const authClient = o.authClient ?? (o.apiEndpoint ? await emulatorAuthClient() : undefined);
    // Google's client libraries load when a BigQuery sink is used: every other command starts without them
    const { BigQuery } = await import('@google-cloud/bigquery');
    const bq = new BigQuery({
      projectId: o.projectId,
      location,
      ...(o.apiEndpoint ? { apiEndpoint: o.apiEndpoint } : {}),
      ...(authClient ? { authClient } : {}),
    });
    this.#api = new BigQueryApi(bq, {
      projectId: o.projectId,
      datasetId: o.datasetId,
      location,
      ...(o.retry ? { retry: o.retry } : {}),
      ...(o.jobTimeoutMs ? { jobTimeoutMs: o.jobTimeoutMs } : {}),
      ...(o.pollIntervalMs ? { pollIntervalMs: o.pollIntervalMs } : {}),
    });
    // first contact within FIRST_CONTACT_MS: an unreachable endpoint fails fast, with the reason
    const probe = new BigQuery({
      projectId: o.projectId,
      location,
      autoRetry: false,
      ...(o.apiEndpoint ? { apiEndpoint: o.apiEndpoint } : {}),
      ...(authClient ? { authClient } : {}),
      // a per-request timeout: @google-cloud/common's ServiceOptions, which BigQueryOptions does not declare
      ...({ timeout: PROBE_REQUEST_MS } as object),
    });
    await withRetries(
      `BigQuery at ${o.apiEndpoint ?? 'bigquery.googleapis.com'}`,
      () => probe.dataset(o.datasetId).exists(),
      {
        ...o.retry,
        deadlineMs: FIRST_CONTACT_MS,
      },
    ).catch((err: Error) => {
      // transient to the end: nobody answered; anything else (e.g. 403) is said as it is
      const why = err instanceof RetryableError ? `unreachable (gave up within ${FIRST_CONTACT_MS / 1000} s): ` : '';
      throw new PermanentError(`${this.url}: ${why}${err.message}`, err);
    });
    this.#instance = await DuckDBInstance.create(':memory:', { memory_limit: '512MB', threads: '2' });
    this.#duck = await this.#instance.connect();
    await this.#duck.run("SET TimeZone = 'UTC'");
    if (options.create === false) {
      // as it is, for reading
      if (!(await this.#api.getTable(PV_READINGS.name))) {
        throw new BadInputError('--sink', `${this.url} has no ${PV_READINGS.name} table: not a pv-pipeline warehouse`);
      }
      return;
    }
    await this.#api.ensureDataset();
    for (const table of ALL_TABLES) await this.#ensureTable(table);
  }

  /** A reader that runs GoogleSQL in the dataset; values converted by the result's field types. */
  async openReader(): Promise<WarehouseReader> {
    const { api } = this.#ready;
    return {
      dialect: 'bigquery',
      url: this.url,
      duckdb: null,
      table: (name) => api.ref(name),
      hasTable: async (name) => (await api.getTable(name)) !== null,
      columns: async (name) => ((await api.getTable(name))?.schema?.fields ?? []).map((f) => f.name.toLowerCase()),
      async query(sql) {
        const res = await api.query('read', sql);
        return res.rows.map((row) =>
          Object.fromEntries(res.fields.map((f) => [f.name, fromBigQuery(f.type, row[f.name] ?? null)])),
        );
      },
      close: async () => undefined,
    };
  }

  async #ensureTable(table: TableDef): Promise<void> {
    const api = this.#ready.api;
    let existing = await api.getTable(table.name);
    if (!existing) {
      const created = await api.createTable(table.name, {
        schema: bigQuerySchema(table),
        description: table.description,
        ...bigQueryTableLayout(table),
      });
      if (created) return;
      existing = await api.getTable(table.name); // created meanwhile: check what is there
    }
    // a table created before a nullable column existed gets it (NULL in the old rows): BigQuery adds columns in place
    const have = new Set((existing?.schema?.fields ?? []).map((f) => f.name.toLowerCase()));
    const missing = bigQuerySchema(table).fields.filter(
      (f) => f.mode === 'NULLABLE' && !have.has(f.name.toLowerCase()),
    );
    if (existing && missing.length > 0) {
      existing = await api.addColumns(table.name, existing, missing);
    }
    const wrong = bigQuerySchemaMismatches(table, existing?.schema?.fields ?? []);
    if (wrong.length > 0) {
      throw new PermanentError(
        `${this.url}: table ${table.name} has an incompatible schema: ${wrong.join(', ')} (not changed; fix or drop the table)`,
      );
    }
  }

  async ledgerEtags(filter: LedgerFilter): Promise<Map<string, string>> {
    const { api } = this.#ready;
    if (filter.ssIds !== 'all' && filter.ssIds.length === 0) return new Map();
    const params: QueryParameter[] = [scalarParam('from', 'DATE', filter.from), scalarParam('to', 'DATE', filter.to)];
    let sql = `SELECT \`source_key\`, \`etag\` FROM ${api.ref(PV_INGEST_LEDGER.name)} WHERE \`day\` BETWEEN @from AND @to`;
    if (filter.ssIds !== 'all') {
      sql += ' AND `ss_id` IN UNNEST(@ss_ids)';
      params.push(arrayParam('ss_ids', 'INT64', filter.ssIds));
    }
    const res = await api.query('ledger', sql, params);
    return new Map(res.rows.map((r) => [String(r.source_key), String(r.etag)]));
  }

  async upsertSystems(rows: readonly SystemRow[]): Promise<void> {
    await this.#merge(PV_SYSTEMS, rows as unknown as ReadonlyArray<Record<string, unknown>>);
  }

  async upsertSensors(rows: readonly SensorEntry[]): Promise<void> {
    await this.#merge(PV_SENSORS, rows as unknown as ReadonlyArray<Record<string, unknown>>);
  }

  /** DELETE of the slice and INSERT of the rows from an ARRAY<STRUCT> parameter, in one transaction. */
  async replaceDerived(table: TableDef, rows: readonly object[], slice: DerivedSlice): Promise<void> {
    const { api } = this.#ready;
    await this.#ensureTable(table);
    const fields = table.columns.map((c) => ({ name: c.name, type: PARAM_TYPE_OF[c.type]! }));
    const cols = table.columns.map((c) => `\`${c.name}\``).join(', ');
    const ref = api.ref(table.name);
    const sql = [
      'BEGIN TRANSACTION',
      `DELETE FROM ${ref} WHERE \`ss_id\` IN UNNEST(@ss_ids) AND \`day\` BETWEEN @from AND @to`,
      `INSERT INTO ${ref} (${cols}) SELECT ${cols} FROM UNNEST(@rows)`,
      'COMMIT TRANSACTION',
    ].join(';\n');
    await api.query(`${table.name} replace`, sql, [
      arrayParam('ss_ids', 'INT64', slice.ssIds),
      scalarParam('from', 'DATE', slice.from),
      scalarParam('to', 'DATE', slice.to),
      structArrayParam('rows', fields, rows as ReadonlyArray<Record<string, unknown>>),
    ]);
  }

  async recordRun(run: RunRow): Promise<void> {
    await this.#merge(PV_RUNS, [run as unknown as Record<string, unknown>]);
  }

  /**
   * MERGE by the table's key from an ARRAY<STRUCT> parameter, in chunks. Rows
   * repeating a key keep the last one (BigQuery's MERGE refuses a target row
   * matched by two source rows). Idempotent, so it goes through `jobs.query`.
   */
  async #merge(table: TableDef, rows: ReadonlyArray<Record<string, unknown>>): Promise<void> {
    if (rows.length === 0) return;
    const { api } = this.#ready;
    const byKey = new Map<string, Record<string, unknown>>();
    for (const r of rows) byKey.set(JSON.stringify(table.key.map((k) => r[k])), r);
    const unique = [...byKey.values()];
    const fields = table.columns.map((c) => ({ name: c.name, type: PARAM_TYPE_OF[c.type]! }));
    const cols = table.columns.map((c) => `\`${c.name}\``);
    const sql = `MERGE INTO ${api.ref(table.name)} AS t
USING (SELECT * FROM UNNEST(@rows)) AS s
ON ${table.key.map((k) => `t.\`${k}\` = s.\`${k}\``).join(' AND ')}
WHEN MATCHED THEN UPDATE SET ${table.columns
      .filter((c) => !table.key.includes(c.name))
      // a derived column (the quality report's) keeps its stored value where the new row has none
      .map((c) => `\`${c.name}\` = ${c.derived ? `COALESCE(s.\`${c.name}\`, t.\`${c.name}\`)` : `s.\`${c.name}\``}`)
      .join(', ')}
WHEN NOT MATCHED THEN INSERT (${cols.join(', ')}) VALUES (${cols.map((c) => `s.${c}`).join(', ')})`;
    for (let i = 0; i < unique.length; i += DIMENSION_CHUNK) {
      const part = unique.slice(i, i + DIMENSION_CHUNK);
      await api.query(`${table.name} merge`, sql, [structArrayParam('rows', fields, part)]);
    }
  }

  async commit(batch: readonly StagedManifest[], runId: string): Promise<CommitResult> {
    return this.#inFlight.run(() => this.#commit(batch, runId));
  }

  async #commit(batch: readonly StagedManifest[], runId: string): Promise<CommitResult> {
    assertNamedStagedFiles(this.url, batch);
    const { api, duck } = this.#ready;
    if ((this.#o.mode ?? 'load') === 'stream') {
      return commitStream(
        {
          api,
          duck,
          url: this.url,
          ...(this.#o.streamMaxRows ? { maxRows: this.#o.streamMaxRows } : {}),
          ...(this.#o.streamMaxBytes ? { maxBytes: this.#o.streamMaxBytes } : {}),
          ...(this.#o.retry?.baseMs !== undefined ? { retryBaseMs: this.#o.retry.baseMs } : {}),
        },
        batch,
        runId,
      );
    }
    return commitLoad(
      {
        api,
        duck,
        url: this.url,
        tempDir: this.#tempDir,
        loadAttempts: this.#o.loadAttempts ?? 3,
        urisPerLoadJob: Math.min(this.#o.urisPerLoadJob ?? MAX_LOAD_URIS, MAX_LOAD_URIS),
        ...(this.#o.onCommitStep ? { onCommitStep: this.#o.onCommitStep } : {}),
      },
      batch,
      runId,
    );
  }

  /** Where combined uploads go: the option, or a per-process temp dir removed by `close`. */
  get #tempDir(): string {
    return this.#o.tempDir ?? join(tmpdir(), `pv-bigquery-${process.pid}-${this.#instance_}`);
  }

  /** Closes the sink once the commits in flight have ended (their uploads use the temp dir). */
  async close(): Promise<void> {
    await this.#inFlight.settled();
    if (!this.#o.tempDir) await rm(this.#tempDir, { recursive: true, force: true });
    this.#duck?.closeSync();
    this.#duck = null;
    this.#instance?.closeSync();
    this.#instance = null;
    this.#api = null;
  }
}

/** What `openSink` passes to a BigQuery sink besides the URL. */
export interface BigQueryConnectOptions {
  /** API endpoint of an emulator or fake (`BIGQUERY_API_ENDPOINT`, `--bigquery-endpoint`). */
  bigqueryApiEndpoint?: string;
  /** Told of every retry as it is scheduled, to announce it (the CLI writes a line to stderr). @defaultValue nothing */
  onRetry?: RetryListener;
  /** Auth client; default ADC, or a placeholder token when an endpoint is given. */
  bigqueryAuthClient?: BigQueryAuthClient;
}

/** A `bigquery://` sink URL taken apart. */
export interface BigQuerySinkUrl {
  projectId: string;
  datasetId: string;
  /** @defaultValue `load` */
  mode: BigQueryMode;
  /** The dataset's location, when the URL gives one. */
  location?: string;
}

const BIGQUERY_URL_USAGE = 'bigquery://PROJECT/DATASET[?mode=load|stream&location=US]';

/**
 * Parses `bigquery://PROJECT/DATASET[?mode=load|stream&location=US]`; every
 * error is a BadInputError naming `from`.
 */
export function parseBigQuerySinkUrl(url: string, from: SinkUrlSource = '--sink'): BigQuerySinkUrl {
  const usage = BIGQUERY_URL_USAGE;
  const p = parseSinkUrl(url, 'bigquery', ['mode', 'location'], usage, from);
  const m = /^([^/]+)\/([^/]+)\/?$/.exec(p.body);
  if (!m) throw new BadInputError(from, `"${p.url}" does not name PROJECT/DATASET (${usage})`);
  const [, projectId, datasetId] = m as unknown as [string, string, string];
  if (!/^[a-z][a-z0-9.:-]{0,127}$/i.test(projectId)) {
    throw new BadInputError(from, `"${projectId}" is not a GCP project id (${usage})`);
  }
  if (!/^[A-Za-z0-9_]{1,1024}$/.test(datasetId)) {
    throw new BadInputError(from, `"${datasetId}" is not a dataset id: letters, digits and _ only (${usage})`);
  }
  const mode = p.params.get('mode') ?? 'load';
  if (mode !== 'load' && mode !== 'stream') {
    throw new BadInputError(from, `mode=${mode} is neither load nor stream (${usage})`);
  }
  const location = p.params.get('location');
  return { projectId, datasetId, mode, ...(location ? { location } : {}) };
}

/**
 * Opens a BigQuery sink from `bigquery://PROJECT/DATASET[?mode=load|stream&location=US]`.
 * Reads nothing from the environment: the endpoint and auth client come from
 * `options` (the CLI and the loader service fill them from their config).
 *
 * @param from where the URL came from (`--sink`, `PV_SINK`), named in errors
 */
export function openBigQuerySink(
  url: string,
  options: BigQueryConnectOptions = {},
  from: SinkUrlSource = '--sink',
): BigQuerySink {
  const parsed = parseBigQuerySinkUrl(url, from);
  if (options.bigqueryApiEndpoint !== undefined && !/^https?:\/\/[^/]+/.test(options.bigqueryApiEndpoint)) {
    throw new BadInputError('--bigquery-endpoint', `"${options.bigqueryApiEndpoint}" is not an http(s) URL`);
  }
  return new BigQuerySink({
    ...parsed,
    ...(options.bigqueryApiEndpoint ? { apiEndpoint: options.bigqueryApiEndpoint.replace(/\/+$/, '') } : {}),
    ...(options.bigqueryAuthClient ? { authClient: options.bigqueryAuthClient } : {}),
    ...(options.onRetry ? { retry: { onRetry: options.onRetry } } : {}),
  });
}

/** A BigQuery result value (text, as the API returns it) as a WarehouseValue, by the field's type. */
function fromBigQuery(type: string, v: string | null): WarehouseValue {
  if (v === null) return null;
  switch (type.toUpperCase()) {
    case 'INTEGER':
    case 'INT64':
    case 'FLOAT':
    case 'FLOAT64':
    case 'NUMERIC':
    case 'BIGNUMERIC':
      return Number(v);
    case 'BOOLEAN':
    case 'BOOL':
      return v === 'true';
    case 'TIMESTAMP':
      // epoch µs (formatOptions.useInt64Timestamp)
      return `${isoMicros(BigInt(v))}Z`;
    case 'DATETIME': {
      const [whole, fraction = ''] = v.replace(' ', 'T').split('.');
      return `${whole}.${fraction.padEnd(6, '0').slice(0, 6)}`;
    }
    case 'DATE':
      return /^\d+$/.test(v) ? isoDay(Number(v)) : v;
    default:
      return v;
  }
}
