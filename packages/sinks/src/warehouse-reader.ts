import type { DuckDBConnection, DuckDBResultReader } from '@duckdb/node-api';

/**
 * A value as a {@link WarehouseReader} returns it, the same from every sink:
 * numbers (INT64 within 2^53, FLOAT64), text, booleans, null; instants
 * (TIMESTAMP) as ISO 8601 UTC text with microseconds
 * (`2020-01-01T10:00:00.123456Z`), local times (DATETIME) likewise without
 * the `Z`, dates as `YYYY-MM-DD`.
 */
export type WarehouseValue = number | string | boolean | null;

/** One row of a query. */
export type WarehouseRow = Record<string, WarehouseValue>;

/**
 * The read side of a sink, what derived work (the quality report, the ML
 * export) queries. Heavy lifting stays in the engine: with the DuckDB dialect
 * (a DuckDB file, or a Parquet dataset through `read_parquet` with hive
 * partitioning) `duckdb` is a connection where `pv_readings`, `pv_systems`,
 * `pv_sensors`, `pv_ingest_ledger` and `pv_runs` are tables or views; with
 * the BigQuery dialect `query` runs GoogleSQL in the dataset. Either way
 * {@link table} names a table as the dialect's SQL may.
 */
export interface WarehouseReader {
  /** The SQL that {@link query} speaks. */
  readonly dialect: 'duckdb' | 'bigquery';
  /** The sink it reads, for messages. */
  readonly url: string;
  /** A table of the warehouse as SQL names it (`pv_readings`; in BigQuery `` `project.dataset.pv_readings` ``). */
  table(name: string): string;
  /** Whether the warehouse has that table. */
  hasTable(name: string): Promise<boolean>;
  /** The columns of a table, lower case (none when it is absent): tables written by older versions may lack some. */
  columns(name: string): Promise<string[]>;
  /** Runs a query; rows with {@link WarehouseValue}s. */
  query(sql: string): Promise<WarehouseRow[]>;
  /** DuckDB dialect: the connection itself (COPY … TO, streamed results); null for BigQuery. */
  readonly duckdb: DuckDBConnection | null;
  /** Releases the reader (not the sink). */
  close(): Promise<void>;
}

const pad = (n: number | bigint, width = 2) => String(n).padStart(width, '0');

/** Epoch µs → `YYYY-MM-DDTHH:MM:SS.ffffff` (UTC fields; no zone suffix). */
export function isoMicros(us: bigint): string {
  const ms = us / 1000n - (us % 1000n < 0n ? 1n : 0n);
  const d = new Date(Number(ms));
  const micros = ((us % 1_000_000n) + 1_000_000n) % 1_000_000n;
  return `${pad(d.getUTCFullYear(), 4)}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())}T${pad(d.getUTCHours())}:${pad(
    d.getUTCMinutes(),
  )}:${pad(d.getUTCSeconds())}.${pad(micros, 6)}`;
}

/** Epoch days → `YYYY-MM-DD`. */
export function isoDay(days: number): string {
  return new Date(days * 86_400_000).toISOString().slice(0, 10);
}

/** A JS value of the DuckDB client as a {@link WarehouseValue}. */
function fromDuckDb(v: unknown): WarehouseValue {
  if (v === null || v === undefined) return null;
  if (typeof v === 'bigint') return Number(v);
  if (typeof v === 'number' || typeof v === 'string' || typeof v === 'boolean') return v;
  const name = (v as object).constructor?.name;
  if (name === 'DuckDBTimestampTZValue') return `${isoMicros((v as { micros: bigint }).micros)}Z`;
  if (name === 'DuckDBTimestampValue') return isoMicros((v as { micros: bigint }).micros);
  if (name === 'DuckDBDateValue') return isoDay((v as { days: number }).days);
  if (name === 'DuckDBDecimalValue') return Number(String(v));
  return String(v);
}

/** The rows of a DuckDB result as {@link WarehouseRow}s. */
export function duckdbRows(result: DuckDBResultReader): WarehouseRow[] {
  const names = result.columnNames();
  return result.getRows().map((row) => Object.fromEntries(names.map((n, i) => [n, fromDuckDb(row[i])])));
}

/** A reader over a DuckDB connection whose tables (or views) are the warehouse. */
export function duckdbReader(url: string, conn: DuckDBConnection, release: () => Promise<void>): WarehouseReader {
  return {
    dialect: 'duckdb',
    url,
    duckdb: conn,
    table: (name) => `"${name.replaceAll('"', '""')}"`,
    async hasTable(name) {
      const r = await conn.runAndReadAll(
        'SELECT count(*) FROM information_schema.tables WHERE table_name = $1 AND table_schema = current_schema()',
        [name],
      );
      return Number(r.getRows()[0]?.[0] ?? 0) > 0;
    },
    async columns(name) {
      const r = await conn.runAndReadAll(
        'SELECT column_name FROM information_schema.columns WHERE table_name = $1 AND table_schema = current_schema()',
        [name],
      );
      return r.getRows().map((row) => String(row[0]).toLowerCase());
    },
    query: async (sql) => duckdbRows(await conn.runAndReadAll(sql)),
    close: release,
  };
}
