import { setTimeout as sleep } from 'node:timers/promises';
import type { DuckDBConnection } from '@duckdb/node-api';
import { BadInputError, derivedId, PermanentError, RetryableError, type StagedManifest } from '@pv-pipeline/core';
import { PV_READINGS } from '@pv-pipeline/schema';
import type { CommitResult } from '../sink.js';
import { sqlString } from '../sql-literal.js';
import type { BigQueryApi } from './bigquery-api.js';
import { ledgerMergeParams, ledgerMergeSql, ledgerNeighbours } from './bigquery-load-job.js';
import { arrayParam, timestampFromMicros } from './bigquery-params.js';
import { describeBigQueryError, isTransientBigQueryError } from './bigquery-retry.js';

/** What a stream-mode commit needs. */
export interface StreamCommitDeps {
  api: BigQueryApi;
  /** An in-memory DuckDB connection, used to read the staged files. */
  duck: DuckDBConnection;
  url: string;
  /** Rows per insertAll request. @defaultValue 500 (BigQuery's recommended maximum) */
  maxRows?: number;
  /** JSON bytes per insertAll request. @defaultValue 9 MiB (the limit is 10 MB per HTTP request) */
  maxBytes?: number;
  /** Tries of rows that fail transiently (whole request or single rows). @defaultValue 6 */
  attempts?: number;
  /** First retry delay, ms. @defaultValue 500 */
  retryBaseMs?: number;
}

/** One insertAll row with our own insert id. */
export interface StreamRow {
  insertId: string;
  json: Record<string, unknown>;
}

interface PartialFailure {
  row: StreamRow;
  errors: Array<{ reason?: string; message?: string }>;
}

const q = (name: string) => `\`${name}\``;
const jsonNumber = (v: number) => (Number.isFinite(v) ? v : Number.isNaN(v) ? 'NaN' : v > 0 ? 'Infinity' : '-Infinity');

/**
 * The staged rows of one object as insertAll rows. The insert id is derived
 * from the fact key (ss_id, timestamp, sensor) and the object's ETag, so a
 * retried request (or a rerun within BigQuery's dedup window) is deduplicated.
 */
export async function streamRowsOf(duck: DuckDBConnection, m: StagedManifest): Promise<StreamRow[]> {
  if (!m.staged || m.rows === 0) return [];
  const res = await duck.runAndReadAll(`SELECT CAST(ss_id AS BIGINT) AS ss_id, epoch_us(timestamp) AS ts,
      strftime(measured_on, '%Y-%m-%d %H:%M:%S.%f') AS measured_on, CAST(sensor AS VARCHAR) AS sensor,
      CAST(metric_id AS BIGINT) AS metric_id, CAST(units AS VARCHAR) AS units, value
    FROM read_parquet(${sqlString(m.staged)})`);
  return res.getRowsJS().map((r) => {
    const [ss, ts, measuredOn, sensor, metric, units, value] = r as [
      bigint | null,
      bigint | null,
      string | null,
      string | null,
      bigint | null,
      string | null,
      number | null,
    ];
    return {
      insertId: derivedId(String(ss), String(ts), String(sensor), m.etag),
      json: {
        ss_id: ss === null ? null : Number(ss),
        timestamp: ts === null ? null : timestampFromMicros(ts),
        measured_on: measuredOn,
        sensor,
        metric_id: metric === null ? null : Number(metric),
        units,
        value: value === null ? null : jsonNumber(value),
        source_key: m.key,
      },
    };
  });
}

/** Splits rows into requests of at most `maxRows` rows and `maxBytes` bytes of JSON. */
export function chunkRows(rows: readonly StreamRow[], maxRows: number, maxBytes: number): StreamRow[][] {
  const out: StreamRow[][] = [];
  let cur: StreamRow[] = [];
  let bytes = 0;
  for (const row of rows) {
    const size = Buffer.byteLength(JSON.stringify(row)) + 1;
    if (cur.length > 0 && (cur.length >= maxRows || bytes + size > maxBytes)) {
      out.push(cur);
      cur = [];
      bytes = 0;
    }
    cur.push(row);
    bytes += size;
  }
  if (cur.length > 0) out.push(cur);
  return out;
}

const describeRow = (row: StreamRow) => {
  const j = row.json;
  return `ss_id ${String(j.ss_id)}, ${String(j.timestamp)}, sensor ${String(j.sensor)}`;
};

/**
 * Streams one object's rows: requests within the limits, the rows that fail
 * transiently retried alone with the same insert ids, rows BigQuery rejects
 * (`invalid`) reported with their reasons as a BadInputError naming the object.
 */
async function streamObject(deps: StreamCommitDeps, m: StagedManifest): Promise<number> {
  const rows = await streamRowsOf(deps.duck, m);
  if (rows.length !== m.rows) {
    throw new PermanentError(`${deps.url}: ${m.key}: staged file holds ${rows.length} rows, manifest says ${m.rows}`);
  }
  const table = deps.api.bq.dataset(deps.api.o.datasetId).table(PV_READINGS.name);
  const attempts = deps.attempts ?? 6;
  const base = deps.retryBaseMs ?? 500;
  let sent = 0;
  for (const chunk of chunkRows(rows, deps.maxRows ?? 500, deps.maxBytes ?? 9 * 1024 * 1024)) {
    let pending = chunk;
    let last = '';
    for (let attempt = 0; pending.length > 0; attempt++) {
      if (attempt >= attempts) {
        throw new RetryableError(`${m.key}: ${pending.length} rows still failing after ${attempts} tries: ${last}`);
      }
      if (attempt > 0) await sleep(Math.min(8000, base * 2 ** (attempt - 1)) * (0.5 + Math.random() / 2));
      try {
        await table.insert(pending, {
          raw: true,
          partialRetries: 0,
          skipInvalidRows: false,
          ignoreUnknownValues: false,
        });
        pending = [];
      } catch (err) {
        const failures = (err as { name?: string; errors?: PartialFailure[] }).errors;
        if ((err as { name?: string }).name === 'PartialFailureError' && Array.isArray(failures)) {
          const invalid = failures.filter((f) => f.errors.some((e) => e.reason === 'invalid'));
          if (invalid.length > 0) {
            const reasons = invalid.slice(0, 3).map(
              (f) =>
                `row ${rows.indexOf(f.row) + 1} (${describeRow(f.row)}): ${f.errors
                  .filter((e) => e.reason === 'invalid')
                  .map((e) => `${e.reason}: ${e.message}`)
                  .join('; ')}`,
            );
            const earlier = sent
              ? `; ${sent} rows of earlier requests are in and stay until the object loads (its ledger row is pending)`
              : '';
            throw new BadInputError(
              m.key,
              `BigQuery rejected ${invalid.length} of ${rows.length} rows (nothing of that request was inserted${earlier}): ${reasons.join(' | ')}`,
            );
          }
          // transient per-row failures (backendError, stopped, timeout): only those rows again, same ids
          pending = failures.map((f) => f.row);
          last = failures[0]?.errors.map((e) => `${e.reason}: ${e.message}`).join('; ') ?? '';
        } else if (isTransientBigQueryError(err)) {
          last = describeBigQueryError(err);
        } else {
          throw new PermanentError(`${deps.url}: ${m.key}: insertAll failed: ${describeBigQueryError(err)}`, err);
        }
      }
    }
    sent += chunk.length;
  }
  return rows.length;
}

/**
 * Commits a batch in stream mode (small incremental runs):
 *
 * 1. the batch's ledger rows are merged with a `pending:` ETag first, so an
 *    object whose streaming is interrupted is never taken as loaded: the next
 *    run plans it again and replaces its rows by source_key;
 * 2. objects the ledger already held (changed objects, or interrupted ones)
 *    lose their old rows by a DML DELETE on source_key. BigQuery refuses DML
 *    on rows still in the streaming buffer (up to ~30 min after they were
 *    streamed): such a batch fails with a retryable error saying so, and
 *    succeeds on a later run;
 * 3. every object's rows are streamed with derived insert ids;
 * 4. the ledger rows are merged with the real ETags once every row is in.
 *
 * Readings that another object already delivered are not deleted in stream
 * mode (no per-key DML on freshly streamed data); load mode does that.
 */
export async function commitStream(
  deps: StreamCommitDeps,
  batch: readonly StagedManifest[],
  runId: string,
): Promise<CommitResult> {
  const { api } = deps;
  if (batch.length === 0) return { rows: 0, replaced: 0 };
  const { prior } = await ledgerNeighbours(api, batch);
  await api.query(
    'ledger pending',
    ledgerMergeSql(api),
    ledgerMergeParams(batch, runId, (m) => `pending:${m.etag}`),
  );
  let replaced = 0;
  if (prior.length > 0) {
    const ssIds = [...new Set(batch.filter((m) => prior.includes(m.key)).map((m) => m.ss_id))];
    try {
      const res = await api.query(
        'delete replaced rows',
        `DELETE FROM ${api.ref(PV_READINGS.name)} WHERE ${q('ss_id')} IN UNNEST(@ss_ids) AND ${q('source_key')} IN UNNEST(@prior_keys)`,
        [arrayParam('ss_ids', 'INT64', ssIds), arrayParam('prior_keys', 'STRING', prior)],
      );
      replaced = res.dmlAffectedRows ?? 0;
    } catch (err) {
      if (/streaming buffer/i.test((err as Error).message)) {
        throw new RetryableError(
          `${prior.join(', ')}: the old rows are still in BigQuery's streaming buffer (streamed in the last ~30 min), so they cannot be replaced yet; run again later or use load mode`,
          err,
        );
      }
      throw err;
    }
  }
  let rows = 0;
  for (const m of batch) rows += await streamObject(deps, m);
  await api.query('ledger merge', ledgerMergeSql(api), ledgerMergeParams(batch, runId));
  return { rows, replaced };
}
