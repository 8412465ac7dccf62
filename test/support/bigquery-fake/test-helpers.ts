import { type ChildProcess, spawn } from 'node:child_process';
import { join } from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import type { StagedManifest } from '@pv-pipeline/core';
import type { DuckDbSink } from '@pv-pipeline/sinks';
import { type CliResult, ROOT } from '../cli.js';

/** Rows with their BigInts as numbers (as the fake's `sql` returns them). */
export function numbersOf(rows: ReadonlyArray<Record<string, unknown>>): Array<Record<string, unknown>> {
  return rows.map((r) =>
    Object.fromEntries(Object.entries(r).map(([k, v]) => [k, typeof v === 'bigint' ? Number(v) : v])),
  );
}

/** Rows of a query on a DuckDB sink, BigInts as numbers. */
export async function duckRowsOf(duck: DuckDbSink, sql: string): Promise<Array<Record<string, unknown>>> {
  return numbersOf((await duck.connection.runAndReadAll(sql)).getRowObjectsJS());
}

/** Per (ss_id, sensor): count and rounded sum — the comparison of two sinks' fact rows. */
export const perSensorSql = (table: string) =>
  `SELECT ss_id, sensor, count(*) AS n, round(sum(value), 6) AS s FROM ${table} GROUP BY ALL ORDER BY ALL`;

/** Keys repeated in a fact table (must be none). */
export const duplicateKeysSql = (table: string) =>
  `SELECT count(*) AS n FROM (SELECT ss_id, timestamp, sensor FROM ${table} GROUP BY ALL HAVING count(*) > 1)`;

/** `pv-pipeline …` as a child process whose handle the test keeps (to kill it). */
export function spawnCli(args: string[]): { child: ChildProcess; done: Promise<CliResult> } {
  const child = spawn(process.execPath, [join(ROOT, 'bin/pv-pipeline.js'), ...args], {
    cwd: ROOT,
    env: { ...process.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (d) => (stdout += d));
  child.stderr!.on('data', (d) => (stderr += d));
  const done = new Promise<CliResult>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
  return { child, done };
}

const T0 = Date.UTC(2020, 0, 1) * 1000; // µs
const MIN = 60_000_000;

/**
 * Writes a staged file with the transform's schema (`ss_id` int32, `timestamp`
 * UTC, `measured_on`, `sensor`, `metric_id` int32, `units`, `value`): `n`
 * readings one minute apart from minute `from`, values `v + i`; `nullValueAt`
 * puts a NULL value in one row (a row BigQuery must reject).
 */
export async function stageFile(
  dir: string,
  name: string,
  o: { ssId: number; from: number; n: number; v: number; nullValueAt?: number },
): Promise<string> {
  const file = join(dir, `${name}.parquet`);
  const db = await DuckDBInstance.create(':memory:');
  const c = await db.connect();
  try {
    await c.run("SET TimeZone = 'UTC'");
    const value =
      o.nullValueAt === undefined
        ? `(${o.v} + i)::DOUBLE`
        : `CASE WHEN i = ${o.nullValueAt} THEN NULL ELSE (${o.v} + i)::DOUBLE END`;
    await c.run(`COPY (SELECT ${o.ssId}::INTEGER AS ss_id, make_timestamp(${T0} + (${o.from} + i) * ${MIN})::TIMESTAMPTZ AS timestamp,
        make_timestamp(${T0} + (${o.from} + i) * ${MIN}) AS measured_on, 'ac_power' AS sensor, 315::INTEGER AS metric_id,
        'W' AS units, ${value} AS value FROM range(${o.n}) t(i)) TO '${file}' (FORMAT parquet)`);
  } finally {
    c.closeSync();
    db.closeSync();
  }
  return file;
}

/** The manifest of a file written by {@link stageFile}. */
export function manifestOf(
  key: string,
  staged: string,
  o: { ssId: number; from: number; n: number },
  etag = 'e1',
): StagedManifest {
  return {
    key,
    etag,
    ss_id: o.ssId,
    day: '2020-01-01',
    format: 'parquet',
    rows: o.n,
    staged,
    bytes: 1,
    minTimestamp: String(T0 + o.from * MIN),
    maxTimestamp: String(T0 + (o.from + o.n - 1) * MIN),
    dropped: { missing: 0, sentinel: 0, non_finite: 0, duplicate: 0 },
    droppedBySensor: {},
    group: null,
    order: null,
  };
}
