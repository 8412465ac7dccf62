import { DEFAULTS, type StagedManifest } from '@pv-pipeline/core';
import type { RunRow, SensorEntry, SystemRow, TableDef } from '@pv-pipeline/schema';
import type { WarehouseReader } from './warehouse-reader.js';

/** Which ledger rows a planner needs: the systems and days of a run. */
export interface LedgerFilter {
  /** System ids, or 'all'. */
  ssIds: readonly number[] | 'all';
  /** Inclusive day range, `YYYY-MM-DD`. */
  from: string;
  to: string;
}

/** Options of {@link Sink.init}. */
export interface SinkInitOptions {
  /**
   * Create what is missing (the database file or folder, the dataset, the
   * tables) and bring older tables up to the schema. False: open an existing
   * warehouse as it is, for reading (a missing one, or one without
   * `pv_readings`, is a BadInputError naming the sink). @defaultValue true
   */
  create?: boolean;
}

/** The rows of a derived table a write replaces: its systems' rows over an inclusive day range. */
export interface DerivedSlice {
  ssIds: readonly number[];
  /** `YYYY-MM-DD`, inclusive, compared with the table's `day` column. */
  from: string;
  to: string;
}

/** How a reader may use the engine. */
export interface ReaderOptions {
  /**
   * DuckDB `memory_limit` for the reader's queries (the DuckDB file sink
   * shares its instance, so the limit holds for the sink too); beyond it
   * DuckDB spills to disk. Ignored by BigQuery.
   * @defaultValue the sink's own (`memory_limit` of its URL)
   */
  memoryLimit?: string;
}

/** The result of committing one batch. */
export interface CommitResult {
  /** Fact rows inserted. */
  rows: number;
  /** Rows removed because their object changed or another object re-delivered their key. */
  replaced: number;
}

/**
 * A destination of the star schema. Implementations: DuckDB (the embedded
 * default), a Parquet dataset, BigQuery.
 *
 * Contract: `commit` is atomic for its batch. Every object of the batch has
 * its old rows (by source key) replaced by its staged rows and its ledger row
 * written, or nothing of the batch is visible. After `commit` the staged files
 * may be deleted.
 */
export interface Sink {
  /** The sink URL, without credentials. */
  readonly url: string;
  /**
   * Fact rows per commit this sink is best fed, where the user sets none (`--batch-rows`,
   * `PV_LOAD_BATCH_ROWS`). @defaultValue none: `DEFAULTS.batchRows`
   */
  readonly preferredBatchRows?: number;
  /**
   * Whether `commit` reads staged files without text (manifest layout
   * `channel_index`), which are far cheaper to write and read: the transform
   * then stages them for this sink. Every sink reads the staged files with the
   * names. @defaultValue none: the staged files with the names
   */
  readonly readsChannelIndex?: boolean;
  /**
   * Whether the sink reads this staged file where it is staged (a BigQuery load
   * job lists a readings file's `gs://` URI), so that the loader hands it the
   * reference rather than a local copy. @defaultValue none: every staged file is made local
   */
  readsStagedInPlace?(m: StagedManifest): boolean;
  /** Creates the tables when absent; checks the schema of existing ones (see {@link SinkInitOptions}). */
  init(options?: SinkInitOptions): Promise<void>;
  /** Source key → ETag of every ledger row in the filter's systems and days. */
  ledgerEtags(filter: LedgerFilter): Promise<Map<string, string>>;
  /** Inserts or replaces pv_systems rows by ss_id. */
  upsertSystems(rows: readonly SystemRow[]): Promise<void>;
  /** Inserts or replaces pv_sensors rows by (ss_id, sensor). */
  upsertSensors(rows: readonly SensorEntry[]): Promise<void>;
  /** Inserts or replaces the pv_runs row of a finished run. */
  recordRun(run: RunRow): Promise<void>;
  /** Loads a batch of staged objects, atomically, with their ledger rows. */
  commit(batch: readonly StagedManifest[], runId: string): Promise<CommitResult>;
  /**
   * Replaces a slice of a derived table (the quality report's
   * `pv_quality_daily`) with `rows`, atomically, creating the table when absent.
   */
  replaceDerived(table: TableDef, rows: readonly object[], slice: DerivedSlice): Promise<void>;
  /** A reader of what the sink holds (see {@link WarehouseReader}); the sink must be initialized. */
  openReader(options?: ReaderOptions): Promise<WarehouseReader>;
  /** Flushes and releases the destination. */
  close(): Promise<void>;
}

/**
 * Fact rows per commit for `sink`: what the user set (`--batch-rows`, `PV_LOAD_BATCH_ROWS`),
 * else the sink's preference, else `DEFAULTS.batchRows`.
 */
export function commitBatchRows(sink: Sink, configured?: number): number {
  return configured ?? sink.preferredBatchRows ?? DEFAULTS.batchRows;
}
