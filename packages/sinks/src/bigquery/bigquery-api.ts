import { setTimeout as sleep } from 'node:timers/promises';
import type { BigQuery } from '@google-cloud/bigquery';
import { derivedId, RetryableError } from '@pv-pipeline/core';
import type { QueryParameter } from './bigquery-params.js';
import { httpStatus, type RetryOptions, withRetries } from './bigquery-retry.js';

/** A job resource, as far as the sink reads it. */
export interface JobResource {
  jobReference?: { jobId?: string; projectId?: string; location?: string };
  status?: {
    state?: string;
    errorResult?: { reason?: string; message?: string; location?: string };
    errors?: Array<{ reason?: string; message?: string; location?: string }>;
  };
  statistics?: {
    load?: { outputRows?: string; inputFileBytes?: string; badRecords?: string };
    query?: { numDmlAffectedRows?: string; statementType?: string };
  };
}

/** A table resource, as far as the sink reads it. */
export interface TableResource {
  schema?: { fields?: Array<{ name: string; type: string; mode?: string }> };
  timePartitioning?: { type?: string; field?: string };
  clustering?: { fields?: string[] };
  numRows?: string;
}

/** Source URIs one load job may list (BigQuery's quota). */
export const MAX_LOAD_URIS = 10_000;

/** Result rows of a query, every value as the API's string (or null). */
export type QueryRow = Record<string, string | null>;

/** Options of {@link BigQueryApi}. */
export interface BigQueryApiOptions {
  projectId: string;
  datasetId: string;
  location: string;
  /** Our retries on top of the client's. */
  retry?: RetryOptions;
  /** Longest wait for one job to reach DONE, ms. @defaultValue 30 min */
  jobTimeoutMs?: number;
  /** First poll interval, ms; grows ×1.5 up to 5 s. @defaultValue 250 */
  pollIntervalMs?: number;
}

interface RawQueryResponse {
  jobComplete?: boolean;
  jobReference?: { jobId?: string; location?: string };
  schema?: { fields?: Array<{ name: string; type?: string }> };
  rows?: Array<{ f: Array<{ v: unknown }> }>;
  pageToken?: string;
  numDmlAffectedRows?: string;
}

/**
 * The BigQuery calls of the sink, each with its retry rule: GETs and calls
 * made idempotent by an id (job ids, `requestId`) are retried on transient
 * faults; a 409 on a job insert is not an error but "that job exists", which
 * the caller turns into a wait. Nothing here logs requests or credentials.
 */
export class BigQueryApi {
  readonly bq: BigQuery;
  readonly o: Required<Omit<BigQueryApiOptions, 'retry'>> & { retry: RetryOptions };
  #requestSeq = 0;
  readonly #session = derivedId('pv-bq-session', process.pid, Date.now(), Math.random());

  constructor(bq: BigQuery, options: BigQueryApiOptions) {
    this.bq = bq;
    this.o = { jobTimeoutMs: 30 * 60_000, pollIntervalMs: 250, retry: {}, ...options };
  }

  /** `` `project.dataset.table` `` */
  ref(table: string): string {
    return `\`${this.o.projectId}.${this.o.datasetId}.${table}\``;
  }

  #request<T>(opts: { method?: string; uri: string; json?: unknown; qs?: Record<string, unknown> }): Promise<T> {
    return new Promise((resolve, reject) => {
      this.bq.request({ method: opts.method ?? 'GET', uri: opts.uri, json: opts.json, qs: opts.qs }, (err, body) => {
        if (err) reject(err);
        else resolve(body as T);
      });
    });
  }

  /** Creates the dataset when absent. */
  async ensureDataset(): Promise<void> {
    const dataset = this.bq.dataset(this.o.datasetId, { location: this.o.location });
    const exists = await withRetries(
      `dataset ${this.o.datasetId}`,
      async () => (await dataset.exists())[0],
      this.o.retry,
    );
    if (exists) return;
    await withRetries(
      `create dataset ${this.o.datasetId}`,
      async () => {
        try {
          await this.bq.createDataset(this.o.datasetId, { location: this.o.location });
        } catch (err) {
          if (httpStatus(err) !== 409) throw err; // created meanwhile, or our lost reply
        }
      },
      this.o.retry,
    );
  }

  /** The table resource, or null when the table does not exist. */
  async getTable(name: string): Promise<TableResource | null> {
    return withRetries(
      `table ${name}`,
      async () => {
        try {
          const [metadata] = await this.bq.dataset(this.o.datasetId).table(name).getMetadata();
          return metadata as TableResource;
        } catch (err) {
          if (httpStatus(err) === 404) return null;
          throw err;
        }
      },
      this.o.retry,
    );
  }

  /**
   * Appends NULLABLE columns to a table's schema (`tables.patch` with the
   * whole schema, as BigQuery requires: existing fields first, unchanged).
   * Returns the table as it is after the patch.
   */
  async addColumns(
    name: string,
    existing: TableResource,
    fields: ReadonlyArray<{ name: string; type: string; mode: string; description?: string }>,
  ): Promise<TableResource> {
    const schema = { fields: [...(existing.schema?.fields ?? []), ...fields] };
    return withRetries(
      `add columns to ${name}`,
      async () => {
        const [metadata] = await this.bq.dataset(this.o.datasetId).table(name).setMetadata({ schema });
        return metadata as TableResource;
      },
      this.o.retry,
    );
  }

  /** Creates a table; false when it already existed. */
  async createTable(name: string, resource: Record<string, unknown>): Promise<boolean> {
    return withRetries(
      `create table ${name}`,
      async () => {
        try {
          await this.bq.dataset(this.o.datasetId).createTable(name, resource);
          return true;
        } catch (err) {
          if (httpStatus(err) === 409) return false;
          throw err;
        }
      },
      this.o.retry,
    );
  }

  /** Deletes a table; no error when it is already gone. */
  async deleteTable(name: string): Promise<void> {
    await withRetries(
      `delete table ${name}`,
      async () => {
        try {
          await this.bq.dataset(this.o.datasetId).table(name).delete();
        } catch (err) {
          if (httpStatus(err) !== 404) throw err;
        }
      },
      this.o.retry,
    );
  }

  /**
   * A query through `jobs.query`, with a `requestId` so that the client's own
   * retry of a request whose reply was lost is not run twice. Waits for
   * completion. For SELECTs and idempotent statements only.
   */
  async query(
    what: string,
    sql: string,
    params: readonly QueryParameter[] = [],
  ): Promise<{ rows: QueryRow[]; fields: Array<{ name: string; type: string }>; dmlAffectedRows: number | null }> {
    return withRetries(
      what,
      async () => {
        const requestId = derivedId(this.#session, ++this.#requestSeq);
        let res = await this.#request<RawQueryResponse>({
          method: 'POST',
          uri: '/queries',
          json: {
            query: sql,
            useLegacySql: false,
            parameterMode: 'NAMED',
            queryParameters: params,
            location: this.o.location,
            requestId,
            formatOptions: { useInt64Timestamp: true },
            timeoutMs: 10_000,
          },
        });
        const rows: QueryRow[] = [];
        let fields: Array<{ name: string; type: string }> = [];
        const deadline = Date.now() + this.o.jobTimeoutMs;
        for (;;) {
          if (res.jobComplete) {
            fields = (res.schema?.fields ?? []).map((f) => ({ name: f.name, type: f.type ?? 'STRING' }));
            const names = fields.map((f) => f.name);
            for (const r of res.rows ?? []) {
              rows.push(Object.fromEntries(names.map((n, i) => [n, (r.f[i]?.v ?? null) as string | null])));
            }
            if (!res.pageToken) break;
          } else if (Date.now() > deadline) {
            throw new RetryableError(`${what}: query still running after ${this.o.jobTimeoutMs} ms`);
          }
          const jobId = res.jobReference?.jobId;
          if (!jobId) break;
          res = await this.#request<RawQueryResponse>({
            uri: `/queries/${jobId}`,
            qs: {
              location: res.jobReference?.location ?? this.o.location,
              timeoutMs: 10_000,
              'formatOptions.useInt64Timestamp': true,
              ...(res.jobComplete && res.pageToken ? { pageToken: res.pageToken } : {}),
            },
          });
        }
        return {
          rows,
          fields,
          dmlAffectedRows: res.numDmlAffectedRows === undefined ? null : Number(res.numDmlAffectedRows),
        };
      },
      this.o.retry,
    );
  }

  /**
   * Inserts a query job (a script) under a derived job id. `existed` is true
   * when the id was taken already (409): a previous try created it, and the
   * caller waits for that job instead of running the statements twice.
   */
  async insertQueryJob(jobId: string, sql: string, params: readonly QueryParameter[]): Promise<{ existed: boolean }> {
    return this.#insertJob(`query job ${jobId}`, jobId, {
      query: { query: sql, useLegacySql: false, parameterMode: 'NAMED', queryParameters: params },
    });
  }

  /**
   * Inserts a load job of files in Cloud Storage (`load.sourceUris`, up to
   * {@link MAX_LOAD_URIS} `gs://` URIs) into `table` of the dataset. Retried
   * like {@link insertQueryJob}: `existed` says a 409 found an earlier job.
   */
  async insertUriLoadJob(table: string, jobId: string, load: Record<string, unknown>): Promise<{ existed: boolean }> {
    return this.#insertJob(`load job ${jobId}`, jobId, {
      load: {
        ...load,
        destinationTable: { projectId: this.o.projectId, datasetId: this.o.datasetId, tableId: table },
      },
    });
  }

  /** jobs.insert under a given id; a 409 is "that job exists" (`existed` false when our own lost reply made it). */
  async #insertJob(what: string, jobId: string, configuration: Record<string, unknown>): Promise<{ existed: boolean }> {
    let sawTransient = false;
    return withRetries(
      what,
      async () => {
        try {
          await this.#request({
            method: 'POST',
            uri: '/jobs',
            json: { jobReference: { projectId: this.o.projectId, jobId, location: this.o.location }, configuration },
          });
          return { existed: false };
        } catch (err) {
          if (httpStatus(err) === 409) return { existed: !sawTransient };
          sawTransient = true;
          throw err;
        }
      },
      this.o.retry,
    );
  }

  /** A job resource, or null when no job has that id. */
  async getJob(jobId: string): Promise<JobResource | null> {
    return withRetries(
      `job ${jobId}`,
      async () => {
        try {
          return await this.#request<JobResource>({ uri: `/jobs/${jobId}`, qs: { location: this.o.location } });
        } catch (err) {
          if (httpStatus(err) === 404) return null;
          throw err;
        }
      },
      this.o.retry,
    );
  }

  /**
   * Polls a job until DONE (interval ×1.5 up to 5 s) within the overall
   * timeout. A timeout is retryable: the job keeps its id, so the next try
   * finds it (409) and waits again instead of submitting the work twice.
   */
  async waitForJob(jobId: string): Promise<JobResource> {
    const deadline = Date.now() + this.o.jobTimeoutMs;
    let interval = this.o.pollIntervalMs;
    for (;;) {
      const job = await this.getJob(jobId);
      if (!job) throw new RetryableError(`job ${jobId} not found`);
      if (job.status?.state === 'DONE') return job;
      if (Date.now() + interval > deadline) {
        throw new RetryableError(
          `job ${jobId} still ${job.status?.state ?? 'PENDING'} after ${this.o.jobTimeoutMs} ms; a retry of the same batch waits for it`,
        );
      }
      await sleep(interval);
      interval = Math.min(5000, Math.round(interval * 1.5));
    }
  }

  /** Rows of a finished query job (for a script: of its last statement). */
  async jobRows(jobId: string): Promise<QueryRow[]> {
    return withRetries(
      `results of ${jobId}`,
      async () => {
        const res = await this.#request<RawQueryResponse>({
          uri: `/queries/${jobId}`,
          qs: { location: this.o.location, 'formatOptions.useInt64Timestamp': true },
        });
        const names = (res.schema?.fields ?? []).map((f) => f.name);
        return (res.rows ?? []).map((r) =>
          Object.fromEntries(names.map((n, i) => [n, (r.f[i]?.v ?? null) as string | null])),
        );
      },
      this.o.retry,
    );
  }

  /**
   * Uploads a file as a load job (one multipart request: the client sends
   * uploads once, never retries them). A transient failure is retried with
   * the same job id; a 409 means the job exists (an earlier try, or our own
   * request whose reply was lost) and `existed` tells which.
   */
  async uploadLoadJob(
    table: string,
    file: string,
    jobId: string,
    load: Record<string, unknown>,
  ): Promise<{ existed: boolean }> {
    let sawTransient = false;
    return withRetries(
      `load job ${jobId}`,
      async () => {
        try {
          await this.bq
            .dataset(this.o.datasetId, { location: this.o.location })
            .table(table, { location: this.o.location })
            .createLoadJob(file, { ...load, jobId });
          return { existed: false };
        } catch (err) {
          if (httpStatus(err) === 409) return { existed: !sawTransient };
          sawTransient = true;
          throw err;
        }
      },
      this.o.retry,
    );
  }
}
