import { mkdtempSync, rmSync } from 'node:fs';
import { unlink, writeFile } from 'node:fs/promises';
import type { Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { mapConcurrent } from '@pv-pipeline/core';
import express, { type NextFunction, type Request, type Response } from 'express';
import { BigQueryFailure, FakeEngine, type QueryOutput, type TableResource } from './fake-engine.js';
import { applyFaultsRequest, type FakeFaults, type FakeJobInfo, type FaultsRequest, prng } from './faults.js';
import type { QueryParameter } from './googlesql.js';
import { parseMultipart } from './multipart.js';

/** Options of {@link startBigQueryFake}. */
export interface BigQueryFakeOptions {
  /** Port on 127.0.0.1; default a free one. */
  port?: number;
  /** Seed of the fault PRNG. Default 1. */
  seed?: number;
  /** Initial faults (all off by default). */
  faults?: Partial<FakeFaults>;
  /** insertAll dedup window, ms (BigQuery: best effort, at least a minute). Default 10 min. */
  dedupWindowMs?: number;
  /**
   * Where load jobs read `gs://BUCKET/KEY` (`sourceUris`): `GET {gcsEndpoint}/BUCKET/KEY`, an
   * S3-protocol server standing in for Cloud Storage's XML API. Default none: such a load is refused.
   */
  gcsEndpoint?: string;
}

/** Source URIs one load job may list (BigQuery's limit). */
export const FAKE_MAX_LOAD_URIS = 10_000;
/** Downloads of one load job in flight at once. */
const GCS_READS = 16;

/** A job the fake knows. */
export interface FakeJob {
  info: FakeJobInfo;
  resource: Record<string, unknown> & {
    status: { state: string; errorResult?: unknown; errors?: unknown[] };
    statistics: Record<string, unknown>;
  };
  /** `jobs.get` polls answered so far. */
  polls: number;
  /** Polls left before the job runs (Infinity: held until released). */
  remainingPolls: number;
  executed: boolean;
  output?: QueryOutput;
  run: () => Promise<void>;
}

/** One request the fake answered. */
export interface RequestRecord {
  method: string;
  path: string;
  status: number;
  /** Set when the status was injected: 'before' (nothing done) or 'after' (done, reply lost). */
  injected?: 'before' | 'after';
}

/** One insertAll request as received. */
export interface InsertAllRecord {
  table: string;
  rows: number;
  bytes: number;
  insertIds: string[];
  inserted: number;
  deduped: number;
  errors: number;
}

const STATUS_TEXT: Record<number, string> = {
  400: 'INVALID_ARGUMENT',
  404: 'NOT_FOUND',
  409: 'ALREADY_EXISTS',
  413: 'INVALID_ARGUMENT',
  429: 'RESOURCE_EXHAUSTED',
  500: 'INTERNAL',
  502: 'UNAVAILABLE',
  503: 'UNAVAILABLE',
};

const reasonOfStatus = (status: number) => (status === 429 ? 'rateLimitExceeded' : 'backendError');

function errorBody(status: number, reason: string, message: string) {
  return {
    error: {
      code: status,
      message,
      errors: [{ message, domain: 'global', reason }],
      status: STATUS_TEXT[status] ?? 'UNKNOWN',
    },
  };
}

/**
 * A fake of the BigQuery REST API v2 over a real engine (DuckDB in memory):
 * datasets get/insert/delete, tables get/insert/delete, insertAll, multipart
 * upload of load jobs (PARQUET, NEWLINE_DELIMITED_JSON), jobs.insert (query
 * jobs and scripts), jobs.get, jobs.query (sync, requestId replay) and
 * jobs.getQueryResults. Paths are served under `/bigquery/v2` (apiEndpoint)
 * and at the root (BIGQUERY_EMULATOR_HOST style).
 *
 * It enforces what BigQuery documents: 404 for missing datasets, tables and
 * jobs; 409 for a reused job id, the existing job staying retrievable; load
 * jobs whose file does not match the table end with an errorResult; insertAll
 * deduplicates insertIds and reports per-row errors in `insertErrors`; the
 * 10 MB request limit. Faults come from {@link FakeFaults}.
 */
export class BigQueryFake {
  readonly engine: FakeEngine;
  readonly faults: FakeFaults;
  readonly jobs = new Map<string, FakeJob>();
  readonly requests: RequestRecord[] = [];
  /** Job ids answered with 409 (a retry or a rerun found the job). */
  readonly conflicts: string[] = [];
  readonly insertAllRequests: InsertAllRecord[] = [];
  #server: Server | null = null;
  #url = '';
  readonly #random: () => number;
  readonly #gcsEndpoint: string | null;
  readonly #dir = mkdtempSync(join(tmpdir(), 'bq-fake-'));
  readonly #requestIds = new Map<string, { status: number; body: unknown }>();
  #seq = 0;

  constructor(options: BigQueryFakeOptions = {}) {
    this.engine = new FakeEngine(options.dedupWindowMs);
    this.#random = prng(options.seed ?? 1);
    this.#gcsEndpoint = options.gcsEndpoint?.replace(/\/+$/, '') ?? null;
    this.faults = { errorRate: 0, errorStatuses: [500, 503, 429], afterProcessingShare: 0.5, ...options.faults };
  }

  /** `http://127.0.0.1:PORT`: the apiEndpoint for the client. */
  get url(): string {
    return this.#url;
  }

  async start(port = 0): Promise<void> {
    await this.engine.open();
    const app = this.#app();
    await new Promise<void>((resolve, reject) => {
      const server = app.listen(port, '127.0.0.1', (err?: Error) => (err ? reject(err) : resolve()));
      this.#server = server;
    });
    const address = this.#server!.address();
    this.#url = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : port}`;
  }

  async stop(): Promise<void> {
    const server = this.#server;
    this.#server = null;
    if (server) {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
    this.engine.close();
    rmSync(this.#dir, { recursive: true, force: true });
  }

  /** Read-only SQL on the fake's DuckDB (datasets are schemas: `ds.pv_readings`). */
  sql(query: string): Promise<Array<Record<string, unknown>>> {
    return this.engine.sql(query);
  }

  /** The stored resource of a table (as created: schema, timePartitioning, clustering, …). */
  tableResource(project: string, dataset: string, table: string): TableResource | undefined {
    return this.engine.table(project, dataset, table);
  }

  /** Lets held jobs (or one of them) run at their next poll. */
  release(jobId?: string): void {
    for (const job of this.jobs.values()) {
      if (!jobId || job.info.jobId === jobId) job.remainingPolls = 0;
    }
  }

  /** Load jobs, in submission order. */
  loadJobs(): FakeJob[] {
    return [...this.jobs.values()].filter((j) => j.info.kind === 'load');
  }

  /** The `gs://` URIs the load jobs listed (none for an upload), in submission order. */
  static sourceUris(jobs: readonly FakeJob[]): string[] {
    return jobs.flatMap(
      (j) => (j.resource.configuration as { load?: { sourceUris?: string[] } }).load?.sourceUris ?? [],
    );
  }

  #app() {
    const app = express();
    app.disable('x-powered-by');
    app.use((req, res, next) => {
      res.on('finish', () => {
        this.requests.push({
          method: req.method,
          path: req.path,
          status: res.statusCode,
          ...(res.locals.injected ? { injected: res.locals.injected as 'before' | 'after' } : {}),
        });
      });
      next();
    });

    const control = express.Router();
    control.use(express.json());
    control.post('/faults', (req, res) => {
      applyFaultsRequest(this.faults, req.body as FaultsRequest);
      res.json({ ok: true });
    });
    control.post('/release', (req, res) => {
      this.release((req.body as { jobId?: string } | undefined)?.jobId);
      res.json({ ok: true });
    });
    control.get('/state', (_req, res) => {
      res.json({
        jobs: [...this.jobs.values()].map((j) => ({
          jobId: j.info.jobId,
          kind: j.info.kind,
          state: j.resource.status.state,
          polls: j.polls,
          error: j.resource.status.errorResult ?? null,
        })),
        conflicts: this.conflicts,
        requests: this.requests.length,
        injected: this.requests.filter((r) => r.injected).length,
        dedupedRows: this.engine.dedupedRows,
      });
    });
    app.use('/_fake', control);

    app.use(this.#faultInjector);

    const upload = express.Router();
    upload.post('/projects/:projectId/jobs', express.raw({ type: () => true, limit: '4gb' }), this.#wrap(this.#upload));
    app.use('/upload/bigquery/v2', upload);

    const api = express.Router();
    api.use(express.json({ limit: '10mb', type: () => true }));
    api.get('/projects/:projectId/datasets/:datasetId', this.#wrap(this.#getDataset));
    api.post('/projects/:projectId/datasets', this.#wrap(this.#insertDataset));
    api.delete('/projects/:projectId/datasets/:datasetId', this.#wrap(this.#deleteDataset));
    api.get('/projects/:projectId/datasets/:datasetId/tables/:tableId', this.#wrap(this.#getTable));
    api.post('/projects/:projectId/datasets/:datasetId/tables', this.#wrap(this.#insertTable));
    api.delete('/projects/:projectId/datasets/:datasetId/tables/:tableId', this.#wrap(this.#deleteTable));
    api.patch('/projects/:projectId/datasets/:datasetId/tables/:tableId', this.#wrap(this.#patchTable));
    api.post('/projects/:projectId/datasets/:datasetId/tables/:tableId/insertAll', this.#wrap(this.#insertAll));
    api.post('/projects/:projectId/jobs', this.#wrap(this.#insertJob));
    api.get('/projects/:projectId/jobs/:jobId', this.#wrap(this.#getJob));
    api.post('/projects/:projectId/queries', this.#wrap(this.#syncQuery));
    api.get('/projects/:projectId/queries/:jobId', this.#wrap(this.#getQueryResults));
    app.use('/bigquery/v2', api);
    app.use(api); // BIGQUERY_EMULATOR_HOST style: the same paths without the prefix

    app.use((req: Request, res: Response) => {
      this.#send(res, 404, errorBody(404, 'notFound', `Not found: ${req.method} ${req.path} (not served by the fake)`));
    });
    app.use((err: Error & { status?: number; type?: string }, _req: Request, res: Response, _next: NextFunction) => {
      if (err.type === 'entity.too.large') {
        res.status(413).json(errorBody(413, 'invalid', 'Request payload size exceeds the limit: 10485760 bytes.'));
        return;
      }
      res.status(err.status ?? 500).json(errorBody(err.status ?? 500, 'invalid', err.message));
    });
    return app;
  }

  /** Decides a fault per request: answered now ('before'), or after the work is done ('after'). */
  #faultInjector = (req: Request, res: Response, next: NextFunction) => {
    const f = this.faults;
    const picked = f.failRequest?.({ method: req.method, path: req.path });
    const random = !picked && f.errorRate > 0 && this.#random() < f.errorRate;
    if (picked || random) {
      const status = picked
        ? picked.status
        : (f.errorStatuses[Math.floor(this.#random() * f.errorStatuses.length)] ?? 503);
      const mutating = req.method === 'POST' || req.method === 'DELETE' || req.method === 'PATCH';
      if (picked ? Boolean(picked.after) && mutating : mutating && this.#random() < f.afterProcessingShare) {
        res.locals.fault = status;
      } else {
        res.locals.injected = 'before';
        // drain the body so the client sees a clean reply
        req.resume();
        res
          .status(status)
          .json(
            errorBody(status, reasonOfStatus(status), `Injected ${status} before processing ${req.method} ${req.path}`),
          );
        return;
      }
    }
    next();
  };

  /** Replies, unless an 'after' fault replaces the reply (the work stays done). */
  #send(res: Response, status: number, body?: unknown): void {
    const fault = res.locals.fault as number | undefined;
    if (fault) {
      res.locals.injected = 'after';
      res
        .status(fault)
        .json(errorBody(fault, reasonOfStatus(fault), `Injected ${fault} after processing (the reply was lost)`));
      return;
    }
    if (body === undefined) res.status(status).end();
    else res.status(status).json(body);
  }

  #wrap(handler: (req: Request, res: Response) => Promise<void>) {
    return async (req: Request, res: Response) => {
      try {
        await handler.call(this, req, res);
      } catch (err) {
        if (err instanceof BigQueryFailure) this.#send(res, err.status, errorBody(err.status, err.reason, err.message));
        else this.#send(res, 500, errorBody(500, 'internalError', `fake: ${(err as Error).stack ?? String(err)}`));
      }
    };
  }

  #p(req: Request, name: string): string {
    return String(req.params[name]);
  }

  async #getDataset(req: Request, res: Response): Promise<void> {
    const d = this.engine.dataset(this.#p(req, 'projectId'), this.#p(req, 'datasetId'));
    if (!d)
      throw new BigQueryFailure('notFound', `Not found: Dataset ${req.params.projectId}:${req.params.datasetId}`, 404);
    this.#send(res, 200, d);
  }

  async #insertDataset(req: Request, res: Response): Promise<void> {
    this.#send(res, 200, await this.engine.createDataset(this.#p(req, 'projectId'), req.body ?? {}));
  }

  async #deleteDataset(req: Request, res: Response): Promise<void> {
    const project = this.#p(req, 'projectId');
    const dataset = this.#p(req, 'datasetId');
    if (!this.engine.dataset(project, dataset)) {
      throw new BigQueryFailure('notFound', `Not found: Dataset ${project}:${dataset}`, 404);
    }
    const tables = [...this.engine.tables.values()].filter(
      (t) => t.tableReference.projectId === project && t.tableReference.datasetId === dataset,
    );
    if (tables.length > 0 && req.query.deleteContents !== 'true') {
      throw new BigQueryFailure('resourceInUse', `Dataset ${project}:${dataset} is still in use`);
    }
    for (const t of tables) await this.engine.deleteTable(project, dataset, t.tableReference.tableId);
    await this.engine.serial((c) => c.run(`DROP SCHEMA IF EXISTS "${dataset}" CASCADE`));
    this.engine.datasets.delete(`${project}:${dataset}`);
    this.#send(res, 204);
  }

  async #getTable(req: Request, res: Response): Promise<void> {
    this.#send(
      res,
      200,
      await this.engine.getTable(this.#p(req, 'projectId'), this.#p(req, 'datasetId'), this.#p(req, 'tableId')),
    );
  }

  async #insertTable(req: Request, res: Response): Promise<void> {
    this.#send(
      res,
      200,
      await this.engine.createTable(this.#p(req, 'projectId'), this.#p(req, 'datasetId'), req.body ?? {}),
    );
  }

  async #patchTable(req: Request, res: Response): Promise<void> {
    const args = [this.#p(req, 'projectId'), this.#p(req, 'datasetId'), this.#p(req, 'tableId')] as const;
    await this.engine.patchTable(...args, req.body ?? {});
    this.#send(res, 200, await this.engine.getTable(...args));
  }

  async #deleteTable(req: Request, res: Response): Promise<void> {
    await this.engine.deleteTable(this.#p(req, 'projectId'), this.#p(req, 'datasetId'), this.#p(req, 'tableId'));
    this.#send(res, 204);
  }

  async #insertAll(req: Request, res: Response): Promise<void> {
    const project = this.#p(req, 'projectId');
    const dataset = this.#p(req, 'datasetId');
    const table = this.#p(req, 'tableId');
    const body = (req.body ?? {}) as {
      rows?: Array<{ insertId?: string; json?: unknown }>;
      skipInvalidRows?: boolean;
      ignoreUnknownValues?: boolean;
    };
    const rows = body.rows ?? [];
    const rowError = this.faults.rowError;
    const result = await this.engine.insertAll(project, dataset, table, body, (i) =>
      rowError ? rowError(rows[i]?.json, i, `${dataset}.${table}`) : false,
    );
    this.insertAllRequests.push({
      table: `${dataset}.${table}`,
      rows: rows.length,
      bytes: Number(req.headers['content-length'] ?? 0),
      insertIds: rows.map((r) => String(r.insertId ?? '')),
      inserted: result.inserted,
      deduped: result.deduped,
      errors: result.insertErrors.length,
    });
    this.#send(res, 200, {
      kind: 'bigquery#tableDataInsertAllResponse',
      ...(result.insertErrors.length ? { insertErrors: result.insertErrors } : {}),
    });
  }

  #newJob(
    project: string,
    jobId: string,
    location: string,
    configuration: Record<string, unknown>,
    info: FakeJobInfo,
    execute: (job: FakeJob) => Promise<void>,
  ): FakeJob {
    const job: FakeJob = {
      info,
      resource: {
        kind: 'bigquery#job',
        id: `${project}:${location}.${jobId}`,
        selfLink: `${this.#url}/bigquery/v2/projects/${project}/jobs/${jobId}?location=${location}`,
        jobReference: { projectId: project, jobId, location },
        configuration,
        status: { state: 'PENDING' },
        statistics: { creationTime: String(Date.now()) },
        user_email: 'fake@example.invalid',
      },
      polls: 0,
      remainingPolls: 0,
      executed: false,
      run: async () => {
        if (job.executed) return;
        job.executed = true;
        job.resource.statistics.startTime = String(Date.now());
        const injected = this.faults.failJob?.(info);
        if (injected) {
          job.resource.status = { state: 'DONE', errorResult: injected, errors: [injected] };
        } else {
          try {
            await execute(job);
            job.resource.status = { state: 'DONE' };
          } catch (err) {
            const e =
              err instanceof BigQueryFailure
                ? { reason: err.reason, message: err.message }
                : { reason: 'internalError', message: `fake: ${(err as Error).message}` };
            job.resource.status = { state: 'DONE', errorResult: e, errors: [e] };
          }
        }
        job.resource.statistics.endTime = String(Date.now());
      },
    };
    job.remainingPolls = this.faults.holdJob?.(info) ?? 0;
    this.jobs.set(jobId, job);
    return job;
  }

  #conflict(project: string, jobId: string): never {
    this.conflicts.push(jobId);
    throw new BigQueryFailure('duplicate', `Already Exists: Job ${project}:US.${jobId}`, 409);
  }

  async #upload(req: Request, res: Response): Promise<void> {
    const project = this.#p(req, 'projectId');
    if (req.query.uploadType !== 'multipart') {
      throw new BigQueryFailure('invalid', `uploadType=${String(req.query.uploadType)} is not served by the fake`);
    }
    const parts = parseMultipart(String(req.headers['content-type'] ?? ''), req.body as Buffer);
    if (parts.length !== 2) throw new BigQueryFailure('invalid', `expected 2 multipart parts, got ${parts.length}`);
    const metadata = JSON.parse(parts[0]!.body.toString('utf8')) as {
      jobReference?: { jobId?: string; location?: string };
      configuration?: { load?: Record<string, unknown> };
    };
    const jobId = metadata.jobReference?.jobId;
    const load = metadata.configuration?.load;
    if (!jobId || !load)
      throw new BigQueryFailure('invalid', 'upload without jobReference.jobId or configuration.load');
    if (this.jobs.has(jobId)) this.#conflict(project, jobId);
    const format = String(load.sourceFormat ?? 'CSV').toUpperCase();
    const file = join(this.#dir, `${jobId}-${++this.#seq}.${format === 'PARQUET' ? 'parquet' : 'json'}`);
    await writeFile(file, parts[1]!.body);
    const dest = load.destinationTable as { datasetId?: string; tableId?: string } | undefined;
    const needKeys = Boolean(this.faults.failJob || this.faults.holdJob) && format === 'PARQUET';
    const info: FakeJobInfo = {
      jobId,
      kind: 'load',
      destination: `${dest?.datasetId}.${dest?.tableId}`,
      sourceKeys: needKeys ? await this.engine.parquetValues(file, 'source_key').catch(() => []) : [],
    };
    const job = this.#newJob(
      project,
      jobId,
      metadata.jobReference?.location ?? 'US',
      { load, jobType: 'LOAD' },
      info,
      async (j) => {
        try {
          const out = await this.engine.load(project, load, file);
          j.resource.statistics.load = {
            inputFiles: '1',
            inputFileBytes: String(out.inputFileBytes),
            outputRows: String(out.outputRows),
            outputBytes: '0',
            badRecords: '0',
          };
        } finally {
          await unlink(file).catch(() => undefined);
        }
      },
    );
    if (job.remainingPolls <= 0) await job.run();
    this.#send(res, 200, job.resource);
  }

  #queryJobConfig(body: Record<string, unknown>): {
    sql: string;
    params: QueryParameter[];
    int64: boolean;
  } {
    const q = ((body.configuration as Record<string, unknown> | undefined)?.query ?? body) as Record<string, unknown>;
    if (q.useLegacySql === true) throw new BigQueryFailure('invalid', 'Legacy SQL is not served by the fake');
    const fo = body.formatOptions as { useInt64Timestamp?: boolean } | undefined;
    return {
      sql: String(q.query ?? ''),
      params: (q.queryParameters as QueryParameter[] | undefined) ?? [],
      int64: fo?.useInt64Timestamp !== false,
    };
  }

  async #insertJob(req: Request, res: Response): Promise<void> {
    const project = this.#p(req, 'projectId');
    const body = (req.body ?? {}) as Record<string, unknown>;
    const ref = body.jobReference as { jobId?: string; location?: string } | undefined;
    const config = body.configuration as Record<string, unknown> | undefined;
    if (config?.load) {
      this.#send(res, 200, (await this.#insertUriLoad(project, ref, config.load as Record<string, unknown>)).resource);
      return;
    }
    if (!config?.query) throw new BigQueryFailure('invalid', 'The fake runs query and load jobs through jobs.insert');
    const jobId = ref?.jobId ?? `fake_job_${++this.#seq}`;
    if (this.jobs.has(jobId)) this.#conflict(project, jobId);
    const { sql, params } = this.#queryJobConfig(body);
    const job = this.#newJob(
      project,
      jobId,
      ref?.location ?? 'US',
      { ...config, jobType: 'QUERY' },
      { jobId, kind: 'query', sourceKeys: [], query: sql },
      async (j) => {
        const out = await this.engine.query(project, sql, params, {
          afterCommit: () => this.faults.failAfterCommit?.(j.info),
        });
        j.output = out;
        j.resource.statistics.query = {
          statementType: out.statementType,
          totalBytesProcessed: '0',
          ...(out.numDmlAffectedRows !== null ? { numDmlAffectedRows: String(out.numDmlAffectedRows) } : {}),
          ...(out.statementType === 'SCRIPT' ? { numChildJobs: String(out.statements) } : {}),
        };
      },
    );
    if (job.remainingPolls <= 0) await job.run();
    this.#send(res, 200, job.resource);
  }

  /**
   * A load job of files in Cloud Storage (`load.sourceUris`): at most
   * {@link FAKE_MAX_LOAD_URIS} `gs://` URIs, else the request is refused (400);
   * an object that is not there fails the job with `notFound` naming its URI,
   * and nothing is loaded. The objects are read when the job is inserted.
   */
  async #insertUriLoad(
    project: string,
    ref: { jobId?: string; location?: string } | undefined,
    load: Record<string, unknown>,
  ): Promise<FakeJob> {
    const jobId = ref?.jobId ?? `fake_job_${++this.#seq}`;
    if (this.jobs.has(jobId)) this.#conflict(project, jobId);
    const uris = load.sourceUris;
    if (!Array.isArray(uris) || uris.length === 0) {
      throw new BigQueryFailure('invalid', 'Load configuration must specify sourceUris or an upload');
    }
    if (uris.length > FAKE_MAX_LOAD_URIS) {
      throw new BigQueryFailure(
        'invalid',
        `Too many source URIs: ${uris.length}; a load job takes at most ${FAKE_MAX_LOAD_URIS}`,
      );
    }
    for (const uri of uris) {
      if (typeof uri !== 'string' || !/^gs:\/\/[^/]+\/./.test(uri)) {
        throw new BigQueryFailure('invalid', `Source URI must be a Google Cloud Storage location: ${String(uri)}`);
      }
    }
    if (String(load.sourceFormat ?? 'CSV').toUpperCase() !== 'PARQUET') {
      throw new BigQueryFailure('invalid', 'The fake loads PARQUET only from sourceUris');
    }
    const read = await this.#readGcs(uris as string[]);
    const dest = load.destinationTable as { datasetId?: string; tableId?: string } | undefined;
    const needKeys = Boolean(this.faults.failJob || this.faults.holdJob) && 'files' in read;
    const info: FakeJobInfo = {
      jobId,
      kind: 'load',
      destination: `${dest?.datasetId}.${dest?.tableId}`,
      sourceKeys: needKeys
        ? (
            await Promise.all(
              (read as { files: string[] }).files.map((f) =>
                this.engine.parquetValues(f, 'source_key').catch(() => []),
              ),
            )
          ).flat()
        : [],
    };
    const job = this.#newJob(project, jobId, ref?.location ?? 'US', { load, jobType: 'LOAD' }, info, async (j) => {
      if ('missing' in read) throw new BigQueryFailure('notFound', `Not found: URI ${read.missing}`);
      try {
        const out = await this.engine.load(project, load, read.files);
        j.resource.statistics.load = {
          inputFiles: String(read.files.length),
          inputFileBytes: String(out.inputFileBytes),
          outputRows: String(out.outputRows),
          outputBytes: '0',
          badRecords: '0',
        };
      } finally {
        await Promise.all(read.files.map((f) => unlink(f).catch(() => undefined)));
      }
    });
    if (job.remainingPolls <= 0) await job.run();
    return job;
  }

  /** Local copies of `gs://` objects, read from {@link BigQueryFakeOptions.gcsEndpoint}; or the first one missing. */
  async #readGcs(uris: readonly string[]): Promise<{ files: string[] } | { missing: string }> {
    const endpoint = this.#gcsEndpoint;
    if (!endpoint) throw new BigQueryFailure('invalid', 'This fake has no Cloud Storage (gcsEndpoint) to load from');
    const copies = await mapConcurrent(uris, GCS_READS, async (uri) => {
      const [bucket, ...key] = uri.slice('gs://'.length).split('/');
      const res = await fetch(`${endpoint}/${[bucket!, ...key].map(encodeURIComponent).join('/')}`);
      if (res.status === 404) return null;
      if (!res.ok) throw new BigQueryFailure('backendError', `reading ${uri}: HTTP ${res.status}`, 500);
      const file = join(this.#dir, `gcs-${++this.#seq}.parquet`);
      await writeFile(file, Buffer.from(await res.arrayBuffer()));
      return file;
    });
    const files = copies.filter((f): f is string => f !== null);
    const missing = uris.find((_uri, i) => copies[i] === null);
    if (missing !== undefined) {
      await Promise.all(files.map((f) => unlink(f).catch(() => undefined)));
      return { missing };
    }
    return { files };
  }

  async #poll(project: string, jobId: string): Promise<FakeJob> {
    const job = this.jobs.get(jobId);
    if (!job) throw new BigQueryFailure('notFound', `Not found: Job ${project}:US.${jobId}`, 404);
    if (!job.executed) {
      job.polls++;
      if (job.remainingPolls > 0) {
        job.remainingPolls--;
        job.resource.status = { state: job.polls > 1 ? 'RUNNING' : 'PENDING' };
      } else {
        await job.run();
      }
    }
    return job;
  }

  async #getJob(req: Request, res: Response): Promise<void> {
    const job = await this.#poll(this.#p(req, 'projectId'), this.#p(req, 'jobId'));
    this.#send(res, 200, job.resource);
  }

  #resultRows(out: QueryOutput, int64: boolean, start: number, max: number | null) {
    const tsCols = out.schema.fields.map((f) => f.type === 'TIMESTAMP');
    const slice = out.rows.slice(start, max === null ? undefined : start + max);
    const rows = int64
      ? slice
      : slice.map((r) => ({
          f: r.f.map((c, i) => ({ v: tsCols[i] && c.v !== null ? String(Number(c.v) / 1e6) : c.v })),
        }));
    const next = max !== null && start + max < out.rows.length ? String(start + max) : undefined;
    return { rows, next };
  }

  async #syncQuery(req: Request, res: Response): Promise<void> {
    const project = this.#p(req, 'projectId');
    const body = (req.body ?? {}) as Record<string, unknown>;
    const requestId = typeof body.requestId === 'string' ? body.requestId : null;
    const replay = requestId ? this.#requestIds.get(requestId) : undefined;
    if (replay) {
      this.#send(res, replay.status, replay.body);
      return;
    }
    const { sql, params, int64 } = this.#queryJobConfig(body);
    const jobId = `fake_query_${++this.#seq}`;
    const job = this.#newJob(
      project,
      jobId,
      String(body.location ?? 'US'),
      { query: { query: sql }, jobType: 'QUERY' },
      { jobId, kind: 'query', sourceKeys: [], query: sql },
      async (j) => {
        j.output = await this.engine.query(project, sql, params, {
          useInt64Timestamp: true,
          afterCommit: () => this.faults.failAfterCommit?.(j.info),
        });
      },
    );
    await job.run();
    const error = job.resource.status.errorResult as { reason: string; message: string } | undefined;
    let status = 200;
    let reply: unknown;
    if (error) {
      status = error.reason === 'notFound' ? 404 : 400;
      reply = errorBody(status, error.reason, error.message);
    } else {
      const out = job.output!;
      const max = typeof body.maxResults === 'number' ? body.maxResults : null;
      const { rows, next } = this.#resultRows(out, int64, 0, max);
      reply = {
        kind: 'bigquery#queryResponse',
        jobReference: job.resource.jobReference,
        jobComplete: true,
        schema: out.schema,
        rows,
        totalRows: String(out.rows.length),
        totalBytesProcessed: '0',
        cacheHit: false,
        ...(next ? { pageToken: next } : {}),
        ...(out.numDmlAffectedRows !== null ? { numDmlAffectedRows: String(out.numDmlAffectedRows) } : {}),
      };
    }
    if (requestId) this.#requestIds.set(requestId, { status, body: reply });
    this.#send(res, status, reply);
  }

  async #getQueryResults(req: Request, res: Response): Promise<void> {
    const job = await this.#poll(this.#p(req, 'projectId'), this.#p(req, 'jobId'));
    if (job.info.kind !== 'query') throw new BigQueryFailure('invalid', `Job ${job.info.jobId} is not a query job`);
    if (!job.executed) {
      this.#send(res, 200, {
        kind: 'bigquery#getQueryResultsResponse',
        jobReference: job.resource.jobReference,
        jobComplete: false,
      });
      return;
    }
    const error = job.resource.status.errorResult as { reason: string; message: string } | undefined;
    if (error) throw new BigQueryFailure(error.reason, error.message, error.reason === 'notFound' ? 404 : 400);
    const int64 = req.query['formatOptions.useInt64Timestamp'] !== 'false';
    const start = Number(req.query.pageToken ?? req.query.startIndex ?? 0);
    const max = req.query.maxResults !== undefined ? Number(req.query.maxResults) : null;
    const out = job.output!;
    const { rows, next } = this.#resultRows(out, int64, start, max);
    this.#send(res, 200, {
      kind: 'bigquery#getQueryResultsResponse',
      jobReference: job.resource.jobReference,
      jobComplete: true,
      schema: out.schema,
      rows,
      totalRows: String(out.rows.length),
      ...(next ? { pageToken: next } : {}),
      ...(out.numDmlAffectedRows !== null ? { numDmlAffectedRows: String(out.numDmlAffectedRows) } : {}),
    });
  }
}

/** Starts a fake on 127.0.0.1 (a free port unless given). */
export async function startBigQueryFake(options: BigQueryFakeOptions = {}): Promise<BigQueryFake> {
  const fake = new BigQueryFake(options);
  await fake.start(options.port ?? 0);
  return fake;
}
