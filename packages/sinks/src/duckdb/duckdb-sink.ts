import { existsSync, mkdirSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { type DuckDBConnection, DuckDBInstance, type DuckDBValue } from '@duckdb/node-api';
import { BadInputError, PermanentError, type StagedManifest } from '@pv-pipeline/core';
import {
  ALL_TABLES,
  duckdbCreateTable,
  duckdbType,
  PV_INGEST_LEDGER,
  PV_READINGS,
  PV_RUNS,
  PV_SENSORS,
  PV_SYSTEMS,
  quoteIdent,
  type RunRow,
  type SensorEntry,
  type SystemRow,
  type TableDef,
} from '@pv-pipeline/schema';
import { InFlight } from '../in-flight.js';
import { ledgerFieldsOf } from '../ledger-fields.js';
import type { CommitResult, DerivedSlice, LedgerFilter, ReaderOptions, Sink, SinkInitOptions } from '../sink.js';
import { memoryLimitParam, parseSinkUrl, type SinkUrlSource, threadsParam } from '../sink-url.js';
import { sqlString } from '../sql-literal.js';
import { duckdbReader, type WarehouseReader } from '../warehouse-reader.js';
import { BATCH_CHANNELS, BATCH_FILES, dropBatchTables, writeBatchTables } from './batch-tables.js';
import { channelMatch, countOf, ensureReadingsStorage, registerChannels, registerObjects } from './readings-storage.js';
import { appendTempRows, plainType } from './temp-rows.js';

/** The DuckDB file sink's `memory_limit` unless its URL says otherwise. */
export const DUCKDB_DEFAULT_MEMORY_LIMIT = '48MB';

/** Options of {@link DuckDbSink}. */
export interface DuckDbSinkOptions {
  /** Database file; `:memory:` for an in-memory database. */
  path: string;
  /**
   * DuckDB `memory_limit`.
   * @defaultValue `48MB`: loading is streaming (Parquet scan → insert); the
   * benchmark loads in the same CPU time with 48 MB as with 64 MB (and 64 MB
   * as with 96 or 512 MB), and a prize CSV's run peaks about 30 MB lower than
   * with 64 MB (bench/RESULTS.md). A commit whose keys collide with stored
   * rows spills its window to the database's temp folder instead.
   */
  memoryLimit?: string;
  /** DuckDB `threads`. @defaultValue DuckDB's own (the number of cores) */
  threads?: number;
  /**
   * Told as a commit passes each of its steps ({@link DUCKDB_COMMIT_STEPS}); a throw there
   * stands for a crash at that point (the sink contract suite's fault hook).
   * @defaultValue none
   */
  onCommitStep?: (step: string) => void;
}

/** The steps of a DuckDB commit, all inside its one transaction. */
export const DUCKDB_COMMIT_STEPS = ['old-rows-deleted', 'rows-inserted', 'ledger-written'] as const;

/**
 * The embedded default sink: a DuckDB database file holding the four tables.
 *
 * A batch commits in one transaction: the old rows of every object in the
 * batch (by `source_key`) and any existing row with the same
 * (ss_id, timestamp, sensor) as an incoming one are deleted, the staged
 * Parquet files are inserted with one `read_parquet` scan, and the ledger rows
 * are written. So re-runs add nothing, a changed object replaces exactly its
 * rows, and the fact key stays unique even when two objects deliver the same
 * reading (CSV and Parquet of one day, or a day file that repeats midnight).
 */
export class DuckDbSink implements Sink {
  readonly url: string;
  /** Staged files without text are read (their channel positions joined to `pv_channels`). */
  readonly readsChannelIndex = true;
  readonly #options: DuckDbSinkOptions;
  #instance: DuckDBInstance | null = null;
  #conn: DuckDBConnection | null = null;
  /** Transactions begun and not yet ended; close() waits for them. */
  readonly #inFlight = new InFlight();

  constructor(options: DuckDbSinkOptions) {
    this.#options = options;
    this.url = `duckdb://${options.path}`;
  }

  /** The open connection (for queries in tests and summaries). */
  get connection(): DuckDBConnection {
    if (!this.#conn) throw new PermanentError(`${this.url}: sink used before init()`);
    return this.#conn;
  }

  async init(options: SinkInitOptions = {}): Promise<void> {
    const { path } = this.#options;
    const create = options.create ?? true;
    if (!create && (path === ':memory:' || !existsSync(path))) {
      throw new BadInputError('--sink', `${this.url}: no such DuckDB file (nothing has been loaded there)`);
    }
    if (create && path !== ':memory:') {
      try {
        mkdirSync(dirname(path), { recursive: true });
      } catch (err) {
        throw new BadInputError('--sink', `cannot create the folder of ${path}: ${(err as Error).message}`);
      }
    }
    const config: Record<string, string> = {
      memory_limit: this.#options.memoryLimit ?? DUCKDB_DEFAULT_MEMORY_LIMIT,
      // each staged file is read once: caching its bytes only holds memory
      enable_external_file_cache: 'false',
    };
    if (this.#options.threads) config.threads = String(this.#options.threads);
    try {
      this.#instance = await DuckDBInstance.create(path, config);
      this.#conn = await this.#instance.connect();
    } catch (err) {
      throw new BadInputError('--sink', `cannot open DuckDB database ${path}: ${(err as Error).message}`);
    }
    // Every TIMESTAMPTZ is read and written in UTC, whatever the machine's zone.
    await this.#conn.run("SET TimeZone = 'UTC'");
    if (!create) {
      const reader = await this.openReader();
      const has = await reader.hasTable(PV_READINGS.name);
      await reader.close();
      if (!has)
        throw new BadInputError('--sink', `${this.url} has no ${PV_READINGS.name} table: not a pv-pipeline warehouse`);
      return;
    }
    // pv_readings is a view over tables of integers (readings-storage.ts); a file of the first layout moves into them.
    await this.#transaction((conn) => ensureReadingsStorage(conn, this.url));
    for (const table of ALL_TABLES) {
      if (table !== PV_READINGS) {
        await this.#conn.run(duckdbCreateTable(table, { primaryKey: true }));
        // a file written before a nullable column existed gets it (NULL in the old rows)
        for (const c of table.columns.filter((c) => c.nullable)) {
          await this.#conn.run(
            `ALTER TABLE ${quoteIdent(table.name)} ADD COLUMN IF NOT EXISTS ${quoteIdent(c.name)} ${duckdbType(c.type)}`,
          );
        }
      }
      await this.#checkSchema(table);
      if (table !== PV_READINGS) await this.#migrateKey(table);
    }
  }

  /**
   * A dimension table created when its key was another (pv_sensors was keyed by
   * `(ss_id, metric_id)` before residential sensors shared metric ids) is
   * rebuilt with the current key, its rows kept (the last per new key).
   */
  async #migrateKey(table: TableDef): Promise<void> {
    const res = await this.connection.runAndReadAll(
      `SELECT constraint_column_names FROM duckdb_constraints()
       WHERE table_name = $1 AND schema_name = current_schema() AND constraint_type = 'PRIMARY KEY'`,
      [table.name],
    );
    const have = (res.getRowsJS()[0]?.[0] as string[] | undefined) ?? [];
    if (have.join(',') === table.key.join(',')) return;
    const name = quoteIdent(table.name);
    const next = quoteIdent(`${table.name}_rekeyed`);
    const cols = table.columns.map((c) => quoteIdent(c.name)).join(', ');
    await this.#transaction(async (conn) => {
      await conn.run(duckdbCreateTable({ ...table, name: `${table.name}_rekeyed` }, { primaryKey: true }));
      await conn.run(`INSERT INTO ${next} (${cols}) SELECT ${cols} FROM ${name}
        QUALIFY row_number() OVER (PARTITION BY ${table.key.map(quoteIdent).join(', ')}) = 1`);
      await conn.run(`DROP TABLE ${name}`);
      await conn.run(`ALTER TABLE ${next} RENAME TO ${name}`);
    });
  }

  /** An existing table must have every column of the schema with the same type. */
  async #checkSchema(table: TableDef): Promise<void> {
    const res = await this.connection.runAndReadAll(
      'SELECT column_name, data_type FROM information_schema.columns WHERE table_name = $1 AND table_schema = current_schema()',
      [table.name],
    );
    const have = new Map(res.getRowObjectsJS().map((r) => [String(r.column_name), String(r.data_type)]));
    const wrong = table.columns
      .filter((c) => have.get(c.name) !== duckdbType(c.type).replace('TIMESTAMPTZ', 'TIMESTAMP WITH TIME ZONE'))
      .map((c) => `${c.name} (expected ${duckdbType(c.type)}, found ${have.get(c.name) ?? 'nothing'})`);
    if (wrong.length > 0) {
      throw new PermanentError(`${this.url}: table ${table.name} has an incompatible schema: ${wrong.join(', ')}`);
    }
  }

  async ledgerEtags(filter: LedgerFilter): Promise<Map<string, string>> {
    const params: DuckDBValue[] = [filter.from, filter.to];
    let sql = `SELECT source_key, etag FROM ${PV_INGEST_LEDGER.name} WHERE day BETWEEN CAST($1 AS DATE) AND CAST($2 AS DATE)`;
    if (filter.ssIds !== 'all') {
      if (filter.ssIds.length === 0) return new Map();
      sql += ` AND ss_id IN (${filter.ssIds.map((id) => Number(id)).join(',')})`;
    }
    const res = await this.connection.runAndReadAll(sql, params);
    return new Map(res.getRowObjectsJS().map((r) => [String(r.source_key), String(r.etag)]));
  }

  async upsertSystems(rows: readonly SystemRow[]): Promise<void> {
    await this.#upsert(PV_SYSTEMS, rows as unknown as ReadonlyArray<Record<string, unknown>>);
  }

  async upsertSensors(rows: readonly SensorEntry[]): Promise<void> {
    await this.#upsert(
      PV_SENSORS,
      rows.map((r) => ({ ...r, sensor: r.sensor })) as unknown as ReadonlyArray<Record<string, unknown>>,
    );
  }

  /**
   * Upsert by the table's key in chunks of parameterized VALUES rows, in one
   * transaction; a key given twice keeps its last row. A derived column (the
   * quality report's) keeps its stored value where the new row has none.
   */
  async #upsert(table: TableDef, given: ReadonlyArray<Record<string, unknown>>): Promise<void> {
    const byKey = new Map<string, Record<string, unknown>>();
    for (const row of given) {
      const key = JSON.stringify(table.key.map((k) => row[k] ?? null));
      byKey.delete(key);
      byKey.set(key, row);
    }
    const rows = [...byKey.values()];
    if (rows.length === 0) return;
    const cols = table.columns.map((c) => c.name);
    const casts = table.columns.map((c) => duckdbType(c.type));
    const chunk = Math.max(1, Math.floor(1000 / cols.length));
    const updates = table.columns
      .filter((c) => !table.key.includes(c.name))
      .map((c) => {
        const name = quoteIdent(c.name);
        return c.derived
          ? `${name} = coalesce(excluded.${name}, ${quoteIdent(table.name)}.${name})`
          : `${name} = excluded.${name}`;
      })
      .join(', ');
    await this.#transaction(async (conn) => {
      for (let i = 0; i < rows.length; i += chunk) {
        const part = rows.slice(i, i + chunk);
        const params: DuckDBValue[] = [];
        const tuples = part.map((row) => {
          const slots = cols.map((c, j) => {
            const v = row[c];
            params.push(v === undefined || v === null ? null : (v as DuckDBValue));
            return `CAST($${params.length} AS ${casts[j]})`;
          });
          return `(${slots.join(', ')})`;
        });
        await conn.run(
          `INSERT INTO ${quoteIdent(table.name)} (${cols.map(quoteIdent).join(', ')}) VALUES ${tuples.join(', ')}
           ON CONFLICT (${table.key.map(quoteIdent).join(', ')}) DO UPDATE SET ${updates}`,
          params,
        );
      }
    });
  }

  /**
   * In one transaction: the table created when absent, the slice deleted, the
   * rows appended (DuckDB's appender into a temporary table of plain types,
   * then one INSERT … SELECT with the casts: thousands of rows in milliseconds).
   */
  async replaceDerived(table: TableDef, rows: readonly object[], slice: DerivedSlice): Promise<void> {
    const staging = `pv_derived_${process.pid}`;
    await this.#transaction(async (conn) => {
      await conn.run(duckdbCreateTable(table, { primaryKey: true }));
      if (slice.ssIds.length > 0) {
        await conn.run(
          `DELETE FROM ${quoteIdent(table.name)} WHERE ss_id IN (${slice.ssIds.map(Number).join(', ')})
             AND "day" BETWEEN CAST($1 AS DATE) AND CAST($2 AS DATE)`,
          [slice.from, slice.to],
        );
      }
      if (rows.length === 0) return;
      await appendTempRows(
        conn,
        staging,
        table.columns.map((c) => ({ name: c.name, type: plainType(c.type) })),
        (rows as ReadonlyArray<Record<string, unknown>>).map((row) => table.columns.map((c) => row[c.name])),
      );
      const casts = table.columns.map((c) => `CAST(${quoteIdent(c.name)} AS ${duckdbType(c.type)})`).join(', ');
      await conn.run(`INSERT INTO ${quoteIdent(table.name)} SELECT ${casts} FROM temp.${staging}`);
      await conn.run(`DROP TABLE temp.${staging}`);
    });
  }

  async recordRun(run: RunRow): Promise<void> {
    await this.#upsert(PV_RUNS, [run as unknown as Record<string, unknown>]);
  }

  async commit(batch: readonly StagedManifest[], runId: string): Promise<CommitResult> {
    if (batch.length === 0) return { rows: 0, replaced: 0 };
    const step = (name: (typeof DUCKDB_COMMIT_STEPS)[number]) => this.#options.onCommitStep?.(name);
    const keysList = batch.map((m) => sqlString(m.key)).join(', ');
    const files = batch.filter((m) => m.rows > 0 && m.staged);
    return this.#transaction(async (conn) => {
      let replaced = 0;
      const count = (sql: string) => countOf(conn, sql);
      // Old rows of these objects: only objects the ledger knows can have any.
      if ((await count(`SELECT count(*) FROM pv_ingest_ledger WHERE source_key IN (${keysList})`)) > 0) {
        replaced += await count(`DELETE FROM pv_reading_rows
          WHERE object_id IN (SELECT object_id FROM pv_objects WHERE source_key IN (${keysList}))`);
      }
      step('old-rows-deleted');
      let inserted = 0;
      if (files.length > 0) {
        const objectIds = await registerObjects(
          conn,
          files.map((m) => m.key),
        );
        await writeBatchTables(conn, files, objectIds);
        await registerChannels(conn, files);
        const incoming = await incomingReadings(conn, files);
        const expected = files.reduce((s, m) => s + m.rows, 0);
        const ranges = files
          .map((m) => `(${m.ss_id}, ${Number(m.minTimestamp)}, ${Number(m.maxTimestamp)})`)
          .join(', ');
        // Another object loaded earlier whose time range meets one of ours may hold the same keys.
        const others = await count(`SELECT count(*) FROM pv_ingest_ledger l JOIN (VALUES ${ranges}) n(ss_id, lo, hi)
            ON l.ss_id = n.ss_id
          WHERE l.source_key NOT IN (${keysList}) AND l.rows > 0
            AND (l.min_timestamp IS NULL OR (l.min_timestamp <= make_timestamp(n.hi)::TIMESTAMPTZ AND l.max_timestamp >= make_timestamp(n.lo)::TIMESTAMPTZ))`);
        if (others === 0 && !rangesMeet(files)) {
          // The common case (a backfill): no key can collide, insert straight from the staged files.
          inserted = await count(`INSERT INTO pv_reading_rows
            SELECT ss_id, timestamp, measured_on, channel_id, value, object_id FROM (${incoming})`);
          if (inserted !== expected) {
            throw new PermanentError(
              `${this.url}: staged files held ${inserted} rows that could be stored, manifests say ${expected} (a file holds other rows than its manifest says, or a channel its manifest does not list)`,
            );
          }
        } else {
          // Keys may collide: one winner per key within the batch (see precedence.ts), which then
          // replaces an existing row, unless that row's object is later in the same group.
          await conn.run(`CREATE OR REPLACE TEMP TABLE pv_staged AS
            SELECT i.*, c.sensor FROM (${incoming}) i JOIN pv_channels c ON c.channel_id = i.channel_id`);
          const staged = await count('SELECT count(*) FROM pv_staged');
          if (staged !== expected) {
            throw new PermanentError(
              `${this.url}: staged files held ${staged} rows that could be stored, manifests say ${expected} (a file holds other rows than its manifest says, or a channel its manifest does not list)`,
            );
          }
          await conn.run(`CREATE OR REPLACE TEMP TABLE pv_incoming AS SELECT * FROM pv_staged
              QUALIFY row_number() OVER (PARTITION BY ss_id, timestamp, sensor ORDER BY rank DESC, ord DESC, pos DESC) = 1`);
          await conn.run('DROP TABLE pv_staged');
          const ssIds = [...new Set(files.map((m) => m.ss_id))].join(', ');
          const lo = Math.min(...files.map((m) => Number(m.minTimestamp)));
          const hi = Math.max(...files.map((m) => Number(m.maxTimestamp)));
          const window = `r.ss_id IN (${ssIds}) AND r.timestamp BETWEEN make_timestamp(${lo})::TIMESTAMPTZ AND make_timestamp(${hi})::TIMESTAMPTZ`;
          // incoming readings a committed object later in the same group keeps
          await conn.run(`DELETE FROM pv_incoming n USING pv_readings r, pv_ingest_ledger l
              WHERE r.ss_id = n.ss_id AND r.timestamp = n.timestamp AND r.sensor = n.sensor AND ${window}
                AND l.source_key = r.source_key AND n.grp IS NOT NULL AND l.source_group = n.grp
                AND l.source_order > n.ord`);
          // stored readings with an incoming reading's key (a channel is one sensor of one system)
          replaced += await count(`DELETE FROM pv_reading_rows r USING pv_incoming n, pv_channels c
              WHERE r.channel_id = c.channel_id AND c.ss_id = n.ss_id AND c.sensor = n.sensor
                AND r.ss_id = n.ss_id AND r.timestamp = n.timestamp AND ${window}`);
          inserted = await count(`INSERT INTO pv_reading_rows
            SELECT ss_id, timestamp, measured_on, channel_id, value, object_id FROM pv_incoming`);
          await conn.run('DROP TABLE pv_incoming');
        }
      }
      // the batch's files and channel positions, for this commit only
      if (files.some((m) => m.layout === 'channel_index')) await conn.run('DROP TABLE temp.pv_staged_channels');
      if (files.length > 0) await dropBatchTables(conn);
      step('rows-inserted');
      await this.#writeLedger(conn, batch, runId);
      step('ledger-written');
      return { rows: inserted, replaced };
    });
  }

  /**
   * The ledger rows of a batch (INSERT OR REPLACE by source key), in the commit's transaction:
   * appended to a temporary table (see temp-rows.ts), instants as epoch microseconds.
   */
  async #writeLedger(conn: DuckDBConnection, batch: readonly StagedManifest[], runId: string): Promise<void> {
    const cols = PV_INGEST_LEDGER.columns.filter((c) => c.name !== 'loaded_at');
    await appendTempRows(
      conn,
      'pv_ledger_rows',
      cols.map((c) => ({ name: c.name, type: c.type === 'TIMESTAMP' ? 'BIGINT' : plainType(c.type) })),
      batch.map((m) => {
        const fields: Record<string, unknown> = { ...ledgerFieldsOf(m), run_id: runId };
        return cols.map((c) => fields[c.name]);
      }),
    );
    const values = PV_INGEST_LEDGER.columns.map((c) => {
      const name = quoteIdent(c.name);
      if (c.name === 'loaded_at') return 'now()';
      if (c.type === 'TIMESTAMP') return `make_timestamp(${name})::TIMESTAMPTZ`;
      return `CAST(${name} AS ${duckdbType(c.type)})`;
    });
    await conn.run(
      `INSERT OR REPLACE INTO ${PV_INGEST_LEDGER.name} (${PV_INGEST_LEDGER.columns.map((c) => quoteIdent(c.name)).join(', ')})
       SELECT ${values.join(', ')} FROM temp.pv_ledger_rows`,
    );
    await conn.run('DROP TABLE temp.pv_ledger_rows');
  }

  /** A reader on a connection of its own to the database file (its tables are the warehouse). */
  async openReader(options: ReaderOptions = {}): Promise<WarehouseReader> {
    if (!this.#instance) throw new PermanentError(`${this.url}: sink used before init()`);
    const conn = await this.#instance.connect();
    await conn.run("SET TimeZone = 'UTC'");
    if (options.memoryLimit) await conn.run(`SET memory_limit = ${sqlString(options.memoryLimit)}`);
    return duckdbReader(this.url, conn, async () => conn.closeSync());
  }

  async #transaction<T>(fn: (conn: DuckDBConnection) => Promise<T>): Promise<T> {
    const conn = this.connection;
    return this.#inFlight.run(async () => {
      await conn.run('BEGIN TRANSACTION');
      try {
        const out = await fn(conn);
        await conn.run('COMMIT');
        return out;
      } catch (err) {
        await conn.run('ROLLBACK').catch(() => undefined);
        throw err;
      }
    });
  }

  /** Closes the database once the transactions in flight have ended (a commit is never cut short). */
  async close(): Promise<void> {
    await this.#inFlight.settled();
    this.#conn?.closeSync();
    this.#conn = null;
    this.#instance?.closeSync();
    this.#instance = null;
  }
}

/**
 * SQL of a batch's staged rows as `pv_reading_rows` stores them, with the
 * precedence columns of each row's object (`ss_id, timestamp, measured_on,
 * channel_id, value, object_id, rank, ord, pos, grp`), from the batch tables
 * (writeBatchTables). Files with the names join `pv_channels` on them; files
 * without text (layout `channel_index`) join their channel positions. A row
 * whose channel is not numbered, or whose system is not its manifest's, drops
 * out, so that the caller's row check fails.
 */
async function incomingReadings(conn: DuckDBConnection, files: readonly StagedManifest[]): Promise<string> {
  const fileList = (of: readonly StagedManifest[]) => of.map((m) => sqlString(m.staged!)).join(', ');
  const parts: string[] = [];
  const named = files.filter((m) => m.layout !== 'channel_index');
  if (named.length > 0) {
    parts.push(`SELECT n.ss_id, n.timestamp, n.measured_on, c.channel_id, n.value, n.object_id, n.rank, n.ord, n.pos, n.grp
      FROM (SELECT CAST(r.ss_id AS BIGINT) AS ss_id, r.timestamp, r.measured_on, CAST(r.sensor AS VARCHAR) AS sensor,
                   CAST(r.metric_id AS BIGINT) AS metric_id, CAST(r.units AS VARCHAR) AS units, r.value,
                   CAST(k.object_id AS INTEGER) AS object_id, k.rank, k.ord, k.pos, k.grp
            FROM read_parquet([${fileList(named)}], filename = true) r
            JOIN ${BATCH_FILES} k ON r.filename = k.file) n
      JOIN pv_channels c ON ${channelMatch('c', 'n')}`);
  }
  const indexed = files.filter((m) => m.layout === 'channel_index');
  if (indexed.length > 0) {
    await conn.run(`CREATE OR REPLACE TEMP TABLE pv_staged_channels AS
      SELECT b.file, b.channel, b.ss_id, c.channel_id, CAST(k.object_id AS INTEGER) AS object_id, k.rank, k.ord, k.pos, k.grp
      FROM ${BATCH_CHANNELS} b
      JOIN ${BATCH_FILES} k ON k.file = b.file AND k.indexed
      JOIN pv_channels c ON ${channelMatch('c', 'b')}`);
    parts.push(`SELECT CAST(r.ss_id AS BIGINT) AS ss_id, r.timestamp, r.measured_on, p.channel_id, r.value, p.object_id,
             p.rank, p.ord, p.pos, p.grp
      FROM read_parquet([${fileList(indexed)}], filename = true) r
      JOIN temp.pv_staged_channels p ON p.file = r.filename AND p.channel = r.channel AND p.ss_id = r.ss_id`);
  }
  return parts.join(' UNION ALL ');
}

/** Whether the time ranges of two objects of one system in the batch meet (their keys may collide). */
function rangesMeet(batch: readonly StagedManifest[]): boolean {
  const sorted = [...batch].sort((a, b) => a.ss_id - b.ss_id || Number(a.minTimestamp) - Number(b.minTimestamp));
  for (let i = 1; i < sorted.length; i++) {
    const p = sorted[i - 1]!;
    const c = sorted[i]!;
    if (p.ss_id === c.ss_id && Number(c.minTimestamp) <= Number(p.maxTimestamp)) return true;
  }
  return false;
}

/**
 * Opens a DuckDB sink from its URL: `duckdb:///abs/file.duckdb`,
 * `duckdb://rel/file.duckdb` (relative to the working directory) or
 * `duckdb://:memory:`; parameters `memory_limit` and `threads`. Call `init()` before use.
 *
 * @param from where the URL came from (`--sink`, `PV_SINK`), named in errors
 */
export function openDuckDbSink(url: string, from: SinkUrlSource = '--sink'): DuckDbSink {
  const p = parseSinkUrl(
    url,
    'duckdb',
    ['memory_limit', 'threads'],
    'duckdb:///abs/file.duckdb?memory_limit=48MB&threads=N',
    from,
  );
  const threads = threadsParam(p, from);
  const memoryLimit = memoryLimitParam(p, from);
  return new DuckDbSink({
    path: p.body === ':memory:' ? p.body : resolve(p.body),
    ...(memoryLimit ? { memoryLimit } : {}),
    ...(threads ? { threads } : {}),
  });
}
