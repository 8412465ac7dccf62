import { readFile, stat } from 'node:fs/promises';
import { type DuckDBConnection, DuckDBInstance } from '@duckdb/node-api';
import {
  bqTypeOfDuck,
  duckType,
  QueryError,
  type QueryParameter,
  quoteIdent,
  quoteString,
  splitStatements,
  statementType,
  translateStatement,
} from './googlesql.js';
import { checkRow, type RowError, type SchemaField } from './row-validation.js';

/** A dataset resource as the fake keeps it. */
export interface DatasetResource {
  kind: 'bigquery#dataset';
  id: string;
  datasetReference: { projectId: string; datasetId: string };
  location: string;
  creationTime: string;
  [k: string]: unknown;
}

/** A table resource as the fake keeps it (the request's fields, e.g. timePartitioning and clustering, included). */
export interface TableResource {
  kind: 'bigquery#table';
  id: string;
  tableReference: { projectId: string; datasetId: string; tableId: string };
  schema: { fields: SchemaField[] };
  timePartitioning?: { type: string; field?: string };
  clustering?: { fields: string[] };
  creationTime: string;
  location: string;
  [k: string]: unknown;
}

/** The result of a query or script: BigQuery's schema and f/v rows. */
export interface QueryOutput {
  statementType: string;
  schema: { fields: Array<{ name: string; type: string; mode: string }> };
  rows: Array<{ f: Array<{ v: string | null }> }>;
  numDmlAffectedRows: number | null;
  statements: number;
}

/** A load job's outcome. */
export interface LoadOutput {
  outputRows: number;
  inputFileBytes: number;
}

/** A BigQuery-style failure of a job or a request. */
export class BigQueryFailure extends Error {
  constructor(
    readonly reason: string,
    message: string,
    readonly status = 400,
  ) {
    super(message);
  }
}

const tableKey = (project: string, dataset: string, table: string) => `${project}:${dataset}.${table}`;

/**
 * The data side of the fake: one in-memory DuckDB, one schema per dataset,
 * one table per BigQuery table, every operation serialized (so a script's
 * transaction is isolated like BigQuery's). Loads, insertAll, MERGE/DELETE/
 * INSERT scripts and row counts are real; table and dataset resources are
 * kept as they were created, so tests can assert partitioning and clustering.
 */
export class FakeEngine {
  readonly datasets = new Map<string, DatasetResource>();
  readonly tables = new Map<string, TableResource>();
  /** insertId → when it was accepted, per table (best-effort dedup window). */
  readonly #insertIds = new Map<string, Map<string, number>>();
  #instance: DuckDBInstance | null = null;
  #conn: DuckDBConnection | null = null;
  #chain: Promise<unknown> = Promise.resolve();

  /** Rows that insertAll skipped because their insertId was seen within the window. */
  dedupedRows = 0;
  /**
   * How long streamed rows stay in the streaming buffer, ms, where DML cannot
   * touch them (BigQuery: up to ~30 min). 0 (default) turns the check off.
   */
  streamingBufferMs = 0;
  /** Tables with rows recorded in a buffer table (`__fake_buffer`). */
  readonly #buffered = new Set<string>();

  constructor(readonly dedupWindowMs = 10 * 60_000) {}

  async open(): Promise<void> {
    this.#instance = await DuckDBInstance.create(':memory:', { threads: '2' });
    this.#conn = await this.#instance.connect();
    await this.#conn.run("SET TimeZone = 'UTC'");
    // GoogleSQL functions DuckDB lacks, as the documented semantics (INT64 results)
    await this.#conn.run('CREATE MACRO unix_seconds(t) AS CAST(floor(epoch_us(t) / 1000000) AS BIGINT)');
    await this.#conn.run('CREATE MACRO div(a, b) AS CAST(trunc(a / b) AS BIGINT)');
  }

  close(): void {
    this.#conn?.closeSync();
    this.#instance?.closeSync();
    this.#conn = null;
    this.#instance = null;
  }

  get connection(): DuckDBConnection {
    if (!this.#conn) throw new Error('fake engine not open');
    return this.#conn;
  }

  /** Runs `fn` alone on the connection. */
  serial<T>(fn: (conn: DuckDBConnection) => Promise<T>): Promise<T> {
    const p = this.#chain.then(() => fn(this.connection));
    this.#chain = p.catch(() => undefined);
    return p;
  }

  /** Rows of a read-only SQL query on the fake's DuckDB (BIGINT as number), for tests. */
  async sql(query: string): Promise<Array<Record<string, unknown>>> {
    return this.serial(async (conn) => {
      const res = await conn.runAndReadAll(query);
      return res
        .getRowObjectsJS()
        .map((r) => Object.fromEntries(Object.entries(r).map(([k, v]) => [k, typeof v === 'bigint' ? Number(v) : v])));
    });
  }

  dataset(project: string, dataset: string): DatasetResource | undefined {
    return this.datasets.get(`${project}:${dataset}`);
  }

  table(project: string, dataset: string, table: string): TableResource | undefined {
    return this.tables.get(tableKey(project, dataset, table));
  }

  #requireDataset(project: string, dataset: string): DatasetResource {
    const d = this.dataset(project, dataset);
    if (!d) throw new BigQueryFailure('notFound', `Not found: Dataset ${project}:${dataset}`, 404);
    return d;
  }

  #requireTable(project: string, dataset: string, table: string): TableResource {
    this.#requireDataset(project, dataset);
    const t = this.table(project, dataset, table);
    if (!t) throw new BigQueryFailure('notFound', `Not found: Table ${project}:${dataset}.${table}`, 404);
    return t;
  }

  async createDataset(project: string, body: Record<string, unknown>): Promise<DatasetResource> {
    const ref = body.datasetReference as { datasetId?: string } | undefined;
    const id = ref?.datasetId;
    if (!id || !/^[A-Za-z0-9_]{1,1024}$/.test(id)) throw new BigQueryFailure('invalid', `Invalid dataset ID "${id}"`);
    if (this.dataset(project, id))
      throw new BigQueryFailure('duplicate', `Already Exists: Dataset ${project}:${id}`, 409);
    await this.serial((c) => c.run(`CREATE SCHEMA IF NOT EXISTS ${quoteIdent(id)}`));
    const resource: DatasetResource = {
      ...body,
      kind: 'bigquery#dataset',
      id: `${project}:${id}`,
      datasetReference: { projectId: project, datasetId: id },
      location: String(body.location ?? 'US'),
      creationTime: String(Date.now()),
    };
    this.datasets.set(`${project}:${id}`, resource);
    return resource;
  }

  async createTable(project: string, dataset: string, body: Record<string, unknown>): Promise<TableResource> {
    const ds = this.#requireDataset(project, dataset);
    const ref = body.tableReference as { tableId?: string } | undefined;
    const id = ref?.tableId;
    if (!id || !/^[\p{L}\p{N}_-]{1,1024}$/u.test(id)) throw new BigQueryFailure('invalid', `Invalid table ID "${id}"`);
    if (this.table(project, dataset, id)) {
      throw new BigQueryFailure('duplicate', `Already Exists: Table ${project}:${dataset}.${id}`, 409);
    }
    const fields = ((body.schema as { fields?: SchemaField[] } | undefined)?.fields ?? []).map(normalizeField);
    validateLayout(fields, body);
    await this.serial((c) => c.run(createTableSql(dataset, id, fields)));
    const resource: TableResource = {
      ...body,
      kind: 'bigquery#table',
      id: `${project}:${dataset}.${id}`,
      tableReference: { projectId: project, datasetId: dataset, tableId: id },
      schema: { fields },
      creationTime: String(Date.now()),
      location: ds.location,
    } as TableResource;
    this.tables.set(tableKey(project, dataset, id), resource);
    return resource;
  }

  /**
   * tables.patch of the schema, as BigQuery allows it: the given schema must
   * repeat every existing field unchanged (name, type, mode) and may only
   * append NULLABLE (or REPEATED) fields; anything else is a 400. Other
   * resource fields (description, …) are merged.
   */
  async patchTable(
    project: string,
    dataset: string,
    table: string,
    body: Record<string, unknown>,
  ): Promise<TableResource> {
    const t = this.#requireTable(project, dataset, table);
    const given = (body.schema as { fields?: SchemaField[] } | undefined)?.fields;
    let fields = (t.schema?.fields ?? []) as SchemaField[];
    if (given) {
      const next = given.map(normalizeField);
      const byName = new Map(next.map((f) => [f.name.toLowerCase(), f]));
      for (const f of fields) {
        const g = byName.get(f.name.toLowerCase());
        if (!g)
          throw new BigQueryFailure(
            'invalid',
            `Provided Schema does not match Table ${project}:${dataset}.${table}. Field ${f.name} is missing in new schema`,
          );
        if (g.type !== f.type || g.mode !== f.mode) {
          throw new BigQueryFailure(
            'invalid',
            `Provided Schema does not match Table ${project}:${dataset}.${table}. Field ${f.name} has changed type from ${f.mode} ${f.type} to ${g.mode} ${g.type}`,
          );
        }
      }
      const known = new Set(fields.map((f) => f.name.toLowerCase()));
      const added = next.filter((f) => !known.has(f.name.toLowerCase()));
      for (const f of added) {
        if (f.mode === 'REQUIRED') {
          throw new BigQueryFailure(
            'invalid',
            `Provided Schema does not match Table ${project}:${dataset}.${table}. Cannot add required fields to an existing schema. (field: ${f.name})`,
          );
        }
      }
      await this.serial(async (c) => {
        for (const f of added) {
          await c.run(
            `ALTER TABLE ${quoteIdent(dataset)}.${quoteIdent(table)} ADD COLUMN ${quoteIdent(f.name)} ${duckType(f.type)}`,
          );
        }
      });
      fields = [...fields, ...added];
    }
    const resource = { ...t, ...body, schema: { fields } } as TableResource;
    this.tables.set(tableKey(project, dataset, table), resource);
    return resource;
  }

  /** The table resource with its current row count. */
  async getTable(project: string, dataset: string, table: string): Promise<TableResource & { numRows: string }> {
    const t = this.#requireTable(project, dataset, table);
    const rows = await this.serial(async (c) => {
      const r = await c.runAndReadAll(`SELECT count(*) FROM ${quoteIdent(dataset)}.${quoteIdent(table)}`);
      return String(r.getRows()[0]?.[0] ?? 0);
    });
    return { ...t, numRows: rows, type: 'TABLE' };
  }

  async deleteTable(project: string, dataset: string, table: string): Promise<void> {
    this.#requireTable(project, dataset, table);
    await this.serial((c) => c.run(`DROP TABLE ${quoteIdent(dataset)}.${quoteIdent(table)}`));
    this.tables.delete(tableKey(project, dataset, table));
    this.#insertIds.delete(tableKey(project, dataset, table));
  }

  /**
   * insertAll: rows checked one by one; with an invalid row (and no
   * skipInvalidRows) nothing is inserted and every other row is `stopped`.
   * `transient` marks rows that fail with a backendError (a fault injected by
   * the server). Rows whose insertId was accepted within the window are
   * skipped (BigQuery's best-effort dedup).
   */
  async insertAll(
    project: string,
    dataset: string,
    table: string,
    body: {
      rows?: Array<{ insertId?: string; json?: unknown }>;
      skipInvalidRows?: boolean;
      ignoreUnknownValues?: boolean;
    },
    transient: (index: number) => boolean = () => false,
  ): Promise<{ insertErrors: Array<{ index: number; errors: RowError[] }>; inserted: number; deduped: number }> {
    const t = this.#requireTable(project, dataset, table);
    const rows = body.rows ?? [];
    if (rows.length === 0) throw new BigQueryFailure('invalid', 'No rows present in the request.');
    if (rows.length > 50_000)
      throw new BigQueryFailure('invalid', 'too many rows present in the request, limit: 50000');
    const checked = rows.map((r) =>
      checkRow(r.json, t.schema.fields, { ignoreUnknownValues: Boolean(body.ignoreUnknownValues) }),
    );
    const insertErrors: Array<{ index: number; errors: RowError[] }> = [];
    const anyInvalid = checked.some((c) => !c.ok);
    checked.forEach((c, index) => {
      if (!c.ok) insertErrors.push({ index, errors: c.errors });
    });
    if (anyInvalid && !body.skipInvalidRows) {
      checked.forEach((c, index) => {
        if (c.ok) insertErrors.push({ index, errors: [{ reason: 'stopped', location: '', message: '' }] });
      });
      insertErrors.sort((a, b) => a.index - b.index);
      return { insertErrors, inserted: 0, deduped: 0 };
    }
    const key = tableKey(project, dataset, table);
    const seen = this.#insertIds.get(key) ?? new Map<string, number>();
    this.#insertIds.set(key, seen);
    const now = Date.now();
    const accepted: unknown[][] = [];
    let deduped = 0;
    checked.forEach((c, index) => {
      if (!c.ok) return;
      if (transient(index)) {
        insertErrors.push({
          index,
          errors: [{ reason: 'backendError', location: '', message: 'Backend error, injected by the fake.' }],
        });
        return;
      }
      const id = rows[index]!.insertId;
      if (id) {
        const at = seen.get(id);
        if (at !== undefined && now - at <= this.dedupWindowMs) {
          deduped++;
          return;
        }
        seen.set(id, now);
      }
      accepted.push(c.values);
    });
    await this.serial(async (c) => {
      await insertValues(c, dataset, table, t.schema.fields, accepted);
      if (this.streamingBufferMs > 0 && accepted.length > 0)
        await this.#buffer(c, dataset, table, t.schema.fields, accepted);
    });
    this.dedupedRows += deduped;
    insertErrors.sort((a, b) => a.index - b.index);
    return { insertErrors, inserted: accepted.length, deduped };
  }

  /** Keeps a copy of streamed rows, stamped, in `__fake_buffer."dataset__table"`. */
  async #buffer(
    conn: DuckDBConnection,
    dataset: string,
    table: string,
    fields: readonly SchemaField[],
    rows: readonly unknown[][],
  ): Promise<void> {
    const name = `${dataset}__${table}`;
    if (!this.#buffered.has(name)) {
      await conn.run('CREATE SCHEMA IF NOT EXISTS __fake_buffer');
      const cols = fields.map((f) => `${quoteIdent(f.name)} ${duckType(f.type)}`);
      await conn.run(
        `CREATE TABLE IF NOT EXISTS __fake_buffer.${quoteIdent(name)} (${cols.join(', ')}, _streamed_at TIMESTAMPTZ DEFAULT current_timestamp)`,
      );
      this.#buffered.add(name);
    }
    await insertValues(conn, '__fake_buffer', name, fields, rows);
  }

  /**
   * BigQuery refuses UPDATE/DELETE/MERGE that would touch rows still in the
   * streaming buffer. DELETE is checked row by row (its WHERE on the buffered
   * rows); UPDATE and MERGE on a table with buffered rows are refused.
   */
  async #checkStreamingBuffer(
    conn: DuckDBConnection,
    project: string,
    statement: string,
    kind: string,
    params: ReadonlyMap<string, QueryParameter>,
  ): Promise<void> {
    if (this.streamingBufferMs <= 0 || !['DELETE', 'UPDATE', 'MERGE'].includes(kind)) return;
    const target = /^\s*(?:DELETE\s+(?:FROM\s+)?|UPDATE\s+|MERGE\s+(?:INTO\s+)?)`([^`]+)`(?:\s+(?:AS\s+)?(\w+))?/i.exec(
      statement,
    );
    if (!target) return;
    const segs = target[1]!.split('.');
    const [p, d, t] = segs.length === 3 ? segs : [project, segs[0]!, segs[1]!];
    const name = `${d}__${t}`;
    if (!this.#buffered.has(name)) return;
    const buffer = `__fake_buffer.${quoteIdent(name)}`;
    await conn.run(
      `DELETE FROM ${buffer} WHERE _streamed_at < current_timestamp - to_milliseconds(${this.streamingBufferMs})`,
    );
    let hit: number;
    if (kind === 'DELETE') {
      const alias = target[2] && !/^WHERE$/i.test(target[2]) ? target[2] : t!;
      const where = /\bWHERE\b([\s\S]*)$/i.exec(statement)?.[1] ?? 'TRUE';
      const cond = translateStatement(where, params);
      const r = await conn.runAndReadAll(`SELECT count(*) FROM ${buffer} AS ${quoteIdent(alias)} WHERE ${cond}`);
      hit = Number(r.getRows()[0]?.[0] ?? 0);
    } else {
      const r = await conn.runAndReadAll(`SELECT count(*) FROM ${buffer}`);
      hit = Number(r.getRows()[0]?.[0] ?? 0);
    }
    if (hit > 0) {
      throw new QueryError(
        'invalidQuery',
        `UPDATE or DELETE statement over table ${p}.${d}.${t} would affect rows in the streaming buffer, which is not supported`,
      );
    }
  }

  /**
   * A load job from an uploaded file or the files of `sourceUris` (PARQUET,
   * several read as one by column name; or NEWLINE_DELIMITED_JSON, one file):
   * CREATE_IF_NEEDED / CREATE_NEVER, WRITE_APPEND / WRITE_TRUNCATE /
   * WRITE_EMPTY, and the schema rules of BigQuery: a file column the table
   * does not have, a type that does not convert, or a REQUIRED column that is
   * missing or NULL rejects the whole job (nothing is written).
   */
  async load(
    project: string,
    config: Record<string, unknown>,
    source: string | readonly string[],
  ): Promise<LoadOutput> {
    const files = typeof source === 'string' ? [source] : source;
    if (files.length === 0) throw new BigQueryFailure('invalid', 'Load configuration has no source files');
    const file = files[0]!;
    // several Parquet files are one source, their columns matched by name (a file without one: NULLs)
    const from =
      files.length === 1
        ? `read_parquet(${quoteString(file)})`
        : `read_parquet([${files.map(quoteString).join(', ')}], union_by_name = true)`;
    const dest = config.destinationTable as { projectId?: string; datasetId?: string; tableId?: string } | undefined;
    if (!dest?.datasetId || !dest.tableId)
      throw new BigQueryFailure('invalid', 'Load configuration has no destinationTable');
    const destProject = dest.projectId ?? project;
    const { datasetId: dataset, tableId: table } = dest;
    this.#requireDataset(destProject, dataset);
    const format = String(config.sourceFormat ?? 'CSV').toUpperCase();
    if (format !== 'PARQUET' && format !== 'NEWLINE_DELIMITED_JSON') {
      throw new BigQueryFailure('invalid', `The fake does not load ${format} files`);
    }
    const write = String(config.writeDisposition ?? 'WRITE_APPEND');
    const create = String(config.createDisposition ?? 'CREATE_IF_NEEDED');
    const given = (config.schema as { fields?: SchemaField[] } | undefined)?.fields?.map(normalizeField);
    let t = this.table(destProject, dataset, table);
    let bytes = 0;
    for (const f of files) bytes += (await stat(f)).size;
    if (format !== 'PARQUET' && files.length > 1) {
      throw new BigQueryFailure('invalid', `The fake loads ${format} from one file only`);
    }
    return this.serial(async (conn) => {
      let fields: SchemaField[];
      let fileColumns: Array<{ name: string; type: string }> = [];
      if (format === 'PARQUET') {
        const desc = await conn.runAndReadAll(`DESCRIBE SELECT * FROM ${from}`);
        fileColumns = desc.getRowObjectsJS().map((r) => ({ name: String(r.column_name), type: String(r.column_type) }));
      }
      if (!t) {
        if (create === 'CREATE_NEVER') {
          throw new BigQueryFailure('notFound', `Not found: Table ${destProject}:${dataset}.${table}`, 404);
        }
        fields =
          given ??
          fileColumns.map((c) => ({ name: c.name, type: bqTypeOfDuck(c.type), mode: 'NULLABLE' }) as SchemaField);
        if (fields.length === 0) throw new BigQueryFailure('invalid', 'No schema specified on job or table.');
      } else if (given && write === 'WRITE_TRUNCATE') {
        fields = given; // WRITE_TRUNCATE replaces the schema too
      } else {
        fields = t.schema.fields;
        if (given) {
          const wrong = schemaDifferences(fields, given);
          if (wrong.length) {
            throw new BigQueryFailure(
              'invalid',
              `Provided Schema does not match Table ${destProject}:${dataset}.${table}. ${wrong.join('; ')}`,
            );
          }
        }
      }
      if (format === 'PARQUET') checkParquetColumns(fileColumns, fields, `${destProject}:${dataset}.${table}`);
      let rowsSql: string;
      let jsonRows: unknown[][] | null = null;
      if (format === 'PARQUET') {
        const present = new Set(fileColumns.map((c) => c.name.toLowerCase()));
        const select = fields
          .map((f) =>
            present.has(f.name.toLowerCase())
              ? `CAST(${quoteIdent(fileColumns.find((c) => c.name.toLowerCase() === f.name.toLowerCase())!.name)} AS ${duckType(f.type)})`
              : `CAST(NULL AS ${duckType(f.type)})`,
          )
          .join(', ');
        rowsSql = `SELECT ${select} FROM ${from}`;
        // every REQUIRED column's NULLs in one scan of the files (a column the files lack: all rows)
        const required = fields.filter((x) => (x.mode ?? '').toUpperCase() === 'REQUIRED');
        if (required.length > 0) {
          const counts = required
            .map((f) =>
              present.has(f.name.toLowerCase()) ? `count(*) FILTER (WHERE ${quoteIdent(f.name)} IS NULL)` : 'count(*)',
            )
            .join(', ');
          const nulls = (await conn.runAndReadAll(`SELECT ${counts} FROM ${from}`)).getRows()[0] ?? [];
          const first = required.findIndex((_f, i) => Number(nulls[i] ?? 0) > 0);
          if (first >= 0) {
            throw new BigQueryFailure(
              'invalid',
              `Error while reading data, error message: Required field ${required[first]!.name} cannot be null`,
            );
          }
        }
      } else {
        const lines = (await readFile(file, 'utf8')).split('\n').filter((l) => l.trim() !== '');
        jsonRows = lines.map((line, i) => {
          let parsed: unknown;
          try {
            parsed = JSON.parse(line);
          } catch {
            throw new BigQueryFailure(
              'invalid',
              `Error while reading data, error message: JSON parsing error in row starting at position ${i}`,
            );
          }
          const c = checkRow(parsed, fields, { ignoreUnknownValues: Boolean(config.ignoreUnknownValues) });
          if (!c.ok) {
            throw new BigQueryFailure(
              'invalid',
              `Error while reading data, error message: row ${i + 1}: ${c.errors[0]!.message}`,
            );
          }
          return c.values;
        });
        rowsSql = '';
      }
      await conn.run('BEGIN TRANSACTION');
      try {
        const target = `${quoteIdent(dataset)}.${quoteIdent(table)}`;
        if (!t) {
          await conn.run(createTableSql(dataset, table, fields));
        } else if (write === 'WRITE_TRUNCATE') {
          await conn.run(`DROP TABLE ${target}`);
          await conn.run(createTableSql(dataset, table, fields));
        } else if (write === 'WRITE_EMPTY') {
          const n = await conn.runAndReadAll(`SELECT count(*) FROM ${target}`);
          if (Number(n.getRows()[0]?.[0] ?? 0) > 0) {
            throw new BigQueryFailure('duplicate', `Already Exists: Table ${destProject}:${dataset}.${table}`);
          }
        }
        let outputRows: number;
        if (jsonRows) {
          await insertValues(conn, dataset, table, fields, jsonRows);
          outputRows = jsonRows.length;
        } else {
          const r = await conn.runAndReadAll(`INSERT INTO ${target} ${rowsSql}`);
          outputRows = Number(r.getRows()[0]?.[0] ?? 0);
        }
        await conn.run('COMMIT');
        if (!t) {
          t = {
            kind: 'bigquery#table',
            id: `${destProject}:${dataset}.${table}`,
            tableReference: { projectId: destProject, datasetId: dataset, tableId: table },
            schema: { fields },
            creationTime: String(Date.now()),
            location: this.dataset(destProject, dataset)!.location,
          };
          this.tables.set(tableKey(destProject, dataset, table), t);
        } else if (write === 'WRITE_TRUNCATE') {
          t.schema = { fields };
        }
        return { outputRows, inputFileBytes: bytes };
      } catch (err) {
        await conn.run('ROLLBACK').catch(() => undefined);
        throw err;
      }
    });
  }

  /** Distinct values of a column in an uploaded Parquet file (for fault predicates), or [] when absent. */
  async parquetValues(file: string, column: string): Promise<string[]> {
    return this.serial(async (conn) => {
      const desc = await conn.runAndReadAll(`DESCRIBE SELECT * FROM read_parquet(${quoteString(file)})`);
      if (!desc.getRowObjectsJS().some((r) => String(r.column_name) === column)) return [];
      const r = await conn.runAndReadAll(
        `SELECT DISTINCT CAST(${quoteIdent(column)} AS VARCHAR) FROM read_parquet(${quoteString(file)})`,
      );
      return r.getRows().map((x) => String(x[0]));
    });
  }

  /**
   * Runs a query or a script. Statements run in order; BEGIN/COMMIT
   * TRANSACTION wrap the DML in a DuckDB transaction; an error rolls it back
   * and fails the whole job (as BigQuery does). DDL on permanent tables inside
   * a transaction and DELETE without WHERE are refused as BigQuery refuses
   * them. The output is the last SELECT's rows. `afterCommit` is asked before
   * the statement that follows a COMMIT TRANSACTION: an error it returns fails
   * the script there (what was committed stays committed).
   */
  async query(
    project: string,
    sql: string,
    parameters: readonly QueryParameter[],
    options: {
      useInt64Timestamp?: boolean;
      afterCommit?: () => { reason: string; message: string } | null | undefined;
    } = {},
  ): Promise<QueryOutput> {
    const params = new Map(parameters.map((p) => [String(p.name ?? '').toLowerCase(), p]));
    const statements = splitStatements(sql);
    if (statements.length === 0) throw new QueryError('invalidQuery', 'Syntax error: empty query');
    return this.serial(async (conn) => {
      let inTx = false;
      const temps: string[] = [];
      let output: QueryOutput | null = null;
      let dml: number | null = null;
      let committed = false;
      try {
        for (const statement of statements) {
          const kind = statementType(statement);
          if (committed) {
            const injected = options.afterCommit?.();
            if (injected) throw new BigQueryFailure(injected.reason, injected.message);
          }
          committed = kind === 'COMMIT_TRANSACTION';
          if (kind === 'DELETE' && !/\bWHERE\b/i.test(statement)) {
            throw new QueryError('invalidQuery', 'DELETE must have a WHERE clause');
          }
          if (inTx && (kind === 'CREATE_TABLE' || kind === 'DROP_TABLE')) {
            throw new QueryError(
              'invalidQuery',
              'Transaction control statements and DDL statements on permanent tables are not supported inside a multi-statement transaction',
            );
          }
          this.#checkTablesExist(project, statement);
          await this.#checkStreamingBuffer(conn, project, statement, kind, params);
          const duck = translateStatement(statement, params);
          if (kind === 'BEGIN_TRANSACTION') inTx = true;
          if (kind === 'COMMIT_TRANSACTION' || kind === 'ROLLBACK_TRANSACTION') inTx = false;
          if (kind === 'CREATE_TEMP_TABLE') {
            const m = /TABLE\s+(?:IF\s+NOT\s+EXISTS\s+)?("?[\w]+"?)/i.exec(duck);
            if (m) temps.push(m[1]!);
          }
          if (kind === 'SELECT') {
            output = await selectOutput(conn, duck, options.useInt64Timestamp ?? true);
            continue;
          }
          const res = await conn.runAndReadAll(duck);
          if (['INSERT', 'DELETE', 'UPDATE', 'MERGE'].includes(kind)) dml = Number(res.getRows()[0]?.[0] ?? 0);
          if (kind === 'DROP_TABLE') this.#forgetDropped(project, statement);
        }
        if (inTx) throw new QueryError('invalidQuery', 'Transaction was never committed');
      } catch (err) {
        if (inTx) await conn.run('ROLLBACK').catch(() => undefined);
        throw toFailure(err);
      } finally {
        for (const t of temps) await conn.run(`DROP TABLE IF EXISTS ${t}`).catch(() => undefined);
      }
      const single = statements.length === 1;
      return {
        statementType: single ? statementType(statements[0]!) : 'SCRIPT',
        schema: output?.schema ?? { fields: [] },
        rows: output?.rows ?? [],
        numDmlAffectedRows: single ? dml : null,
        statements: statements.length,
      };
    });
  }

  /** Backticked dataset.table names must exist (BigQuery answers notFound naming the table). */
  #checkTablesExist(project: string, statement: string): void {
    if (/^\s*DROP\s+TABLE\s+IF\s+EXISTS/i.test(statement)) return;
    for (const m of statement.matchAll(/`([^`]+)`/g)) {
      const segs = m[1]!.split('.');
      if (segs.length < 2) continue;
      const [p, d, t] = segs.length === 3 ? segs : [project, segs[0]!, segs[1]!];
      if (!this.dataset(p!, d!)) throw new QueryError('notFound', `Not found: Dataset ${p}:${d}`, 404);
      if (!this.table(p!, d!, t!)) throw new QueryError('notFound', `Not found: Table ${p}:${d}.${t}`, 404);
    }
  }

  #forgetDropped(project: string, statement: string): void {
    const m = /DROP\s+TABLE\s+(?:IF\s+EXISTS\s+)?`([^`]+)`/i.exec(statement);
    if (!m) return;
    const segs = m[1]!.split('.');
    const [p, d, t] = segs.length === 3 ? segs : [project, segs[0]!, segs[1]!];
    this.tables.delete(tableKey(p!, d!, t!));
  }
}

function toFailure(err: unknown): Error {
  if (err instanceof QueryError) return new BigQueryFailure(err.reason, err.message, err.status);
  if (err instanceof BigQueryFailure) return err;
  const message = (err as Error).message ?? String(err);
  return new BigQueryFailure('invalidQuery', message.split('\n')[0] ?? message);
}

function normalizeField(f: SchemaField): SchemaField {
  const type = f.type.toUpperCase();
  const canonical = type === 'INT64' ? 'INTEGER' : type === 'FLOAT64' ? 'FLOAT' : type === 'BOOL' ? 'BOOLEAN' : type;
  duckType(canonical); // throws on an unsupported type
  return { ...f, type: canonical, mode: (f.mode ?? 'NULLABLE').toUpperCase() };
}

/** Partitioning and clustering fields must exist with a suitable type, as BigQuery checks. */
function validateLayout(fields: readonly SchemaField[], body: Record<string, unknown>): void {
  const byName = new Map(fields.map((f) => [f.name.toLowerCase(), f]));
  const tp = body.timePartitioning as { type?: string; field?: string } | undefined;
  if (tp) {
    if (!['DAY', 'HOUR', 'MONTH', 'YEAR'].includes(String(tp.type))) {
      throw new BigQueryFailure('invalid', `Invalid time partitioning type ${tp.type}`);
    }
    if (tp.field) {
      const f = byName.get(tp.field.toLowerCase());
      if (!f || !['TIMESTAMP', 'DATE', 'DATETIME'].includes(f.type)) {
        throw new BigQueryFailure(
          'invalid',
          `The field specified for time partitioning can only be of type TIMESTAMP, DATE or DATETIME: ${tp.field}`,
        );
      }
    }
  }
  const cl = body.clustering as { fields?: string[] } | undefined;
  if (cl?.fields) {
    if (cl.fields.length > 4) throw new BigQueryFailure('invalid', 'Too many clustering fields (at most 4)');
    for (const name of cl.fields) {
      if (!byName.has(name.toLowerCase()))
        throw new BigQueryFailure(
          'invalid',
          `The field specified for clustering cannot be found in the schema: ${name}`,
        );
    }
  }
}

function createTableSql(dataset: string, table: string, fields: readonly SchemaField[]): string {
  const cols = fields.map(
    (f) => `${quoteIdent(f.name)} ${duckType(f.type)}${(f.mode ?? '').toUpperCase() === 'REQUIRED' ? ' NOT NULL' : ''}`,
  );
  return `CREATE TABLE ${quoteIdent(dataset)}.${quoteIdent(table)} (${cols.join(', ')})`;
}

/** Differences between a table's schema and a load's schema, one per column. */
function schemaDifferences(table: readonly SchemaField[], given: readonly SchemaField[]): string[] {
  const have = new Map(table.map((f) => [f.name.toLowerCase(), f]));
  const out: string[] = [];
  for (const g of given) {
    const f = have.get(g.name.toLowerCase());
    if (!f) out.push(`Cannot add fields (field: ${g.name})`);
    else if (f.type !== g.type) out.push(`Field ${g.name} has changed type from ${f.type} to ${g.type}`);
    else if (f.mode !== g.mode) out.push(`Field ${g.name} has changed mode from ${f.mode} to ${g.mode}`);
  }
  return out;
}

/** Parquet column type (DuckDB's name) → the BigQuery column types it loads into. */
function loadsInto(duck: string): string[] {
  const t = bqTypeOfDuck(duck);
  if (t === 'DATETIME') return ['DATETIME', 'TIMESTAMP'];
  if (t === 'INTEGER') return ['INTEGER', 'NUMERIC', 'FLOAT'];
  return [t];
}

function checkParquetColumns(
  columns: ReadonlyArray<{ name: string; type: string }>,
  fields: readonly SchemaField[],
  table: string,
): void {
  const byName = new Map(fields.map((f) => [f.name.toLowerCase(), f]));
  const wrong: string[] = [];
  for (const c of columns) {
    const f = byName.get(c.name.toLowerCase());
    if (!f) wrong.push(`Cannot add fields (field: ${c.name})`);
    else if (!loadsInto(c.type).includes(f.type)) {
      wrong.push(`Field ${c.name} has type ${bqTypeOfDuck(c.type)} in the file, ${f.type} in the table`);
    }
  }
  const present = new Set(columns.map((c) => c.name.toLowerCase()));
  for (const f of fields) {
    if ((f.mode ?? '').toUpperCase() === 'REQUIRED' && !present.has(f.name.toLowerCase())) {
      wrong.push(`Required field ${f.name} is missing from the file`);
    }
  }
  if (wrong.length)
    throw new BigQueryFailure('invalid', `Provided Schema does not match Table ${table}. ${wrong.join('; ')}`);
}

/** Inserts checked rows (values in schema order): one VALUES list of text literals, cast to the column types. */
async function insertValues(
  conn: DuckDBConnection,
  dataset: string,
  table: string,
  fields: readonly SchemaField[],
  rows: readonly unknown[][],
): Promise<void> {
  if (rows.length === 0) return;
  const cols = fields.map((f) => quoteIdent(f.name)).join(', ');
  const casts = fields.map((f, j) => `CAST(v.c${j} AS ${duckType(f.type)})`).join(', ');
  const names = fields.map((_f, j) => `c${j}`).join(', ');
  const chunk = 5000;
  for (let i = 0; i < rows.length; i += chunk) {
    const tuples = rows
      .slice(i, i + chunk)
      .map(
        (row) => `(${row.map((v) => (v === null || v === undefined ? 'NULL' : quoteString(String(v)))).join(', ')})`,
      );
    await conn.run(
      `INSERT INTO ${quoteIdent(dataset)}.${quoteIdent(table)} (${cols}) SELECT ${casts} FROM (VALUES ${tuples.join(', ')}) v(${names})`,
    );
  }
}

/** Runs a SELECT and returns BigQuery's schema and f/v rows (TIMESTAMP as epoch µs when asked). */
async function selectOutput(conn: DuckDBConnection, duck: string, int64Timestamp: boolean): Promise<QueryOutput> {
  const desc = await conn.runAndReadAll(`DESCRIBE ${duck}`);
  const cols = desc.getRowObjectsJS().map((r) => ({ name: String(r.column_name), type: String(r.column_type) }));
  const render = cols.map((c, i) => {
    const ref = `__q.${quoteIdent(c.name)}`;
    const bq = bqTypeOfDuck(c.type);
    let expr: string;
    if (bq === 'TIMESTAMP') {
      expr = int64Timestamp ? `CAST(epoch_us(${ref}) AS VARCHAR)` : `CAST(epoch_us(${ref}) / 1000000.0 AS VARCHAR)`;
    } else if (bq === 'DATETIME') expr = `strftime(${ref}, '%Y-%m-%dT%H:%M:%S.%f')`;
    else if (bq === 'BOOLEAN') expr = `CASE WHEN ${ref} THEN 'true' ELSE 'false' END`;
    else if (bq === 'FLOAT') {
      expr = `CASE WHEN isnan(${ref}) THEN 'NaN' WHEN isinf(${ref}) AND ${ref} > 0 THEN 'Infinity' WHEN isinf(${ref}) THEN '-Infinity' ELSE CAST(${ref} AS VARCHAR) END`;
    } else expr = `CAST(${ref} AS VARCHAR)`;
    return `CASE WHEN ${ref} IS NULL THEN NULL ELSE ${expr} END AS c${i}`;
  });
  const res = await conn.runAndReadAll(`SELECT ${render.join(', ')} FROM (${duck}) AS __q`);
  const rows = res.getRows().map((r) => ({ f: r.map((v) => ({ v: v === null ? null : String(v) })) }));
  return {
    statementType: 'SELECT',
    schema: { fields: cols.map((c) => ({ name: c.name, type: bqTypeOfDuck(c.type), mode: 'NULLABLE' })) },
    rows,
    numDmlAffectedRows: null,
    statements: 1,
  };
}
