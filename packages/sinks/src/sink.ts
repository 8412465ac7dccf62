import type { StagedManifest } from '@pv-pipeline/core';
import type { RunRow, SensorEntry, SystemRow } from '@pv-pipeline/schema';
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
  /** A reader of what the sink holds (see {@link WarehouseReader}); the sink must be initialized. */
  openReader(): Promise<WarehouseReader>;
  /** Flushes and releases the destination. */
  close(): Promise<void>;
}
