import type { DroppedCounts } from './reading-rule-ids.js';

/** The two encodings of the daily pvdata archive. */
export type PvdataFormat = 'parquet' | 'csv';

/** What a run reads: the daily archive in one encoding, or the 2023 Solar Data Prize CSVs. */
export type SourceFormat = PvdataFormat | 'prize';

/** One object in a source, as listed or headed. */
export interface ObjectInfo {
  /** Key relative to the source root, e.g. `parquet/pvdata/system_id=4/year=2020/month=1/day=23/…`. */
  key: string;
  /** Entity tag without quotes; for `file://` the MD5 of the content (as S3 gives a single-part upload). */
  etag: string;
  /** Size in bytes. */
  size: number;
  /** Last modification time. */
  lastModified?: Date;
  /**
   * `file://` only: the file's device, inode, size and modification time when
   * its ETag was hashed. A read pinned to the ETag passes it on (`listedVersion` of the
   * store's read options), so that a process that did not list the file (a
   * queue worker) trusts the ETag without hashing the file again, as long as
   * the file still has them. @defaultValue none (other stores)
   */
  fileVersion?: string;
}

/** One channel of a staged file, as its rows carry it (see {@link StagedManifest.channels}). */
export interface StagedChannel {
  /** Channel name, unique in the system (`pv_readings.sensor`). */
  sensor: string;
  metric_id: number;
  /** Units of the stored values; null when the dictionary gives none. */
  units: string | null;
}

/**
 * What a transform returns for one object: where its normalized rows were
 * staged and what they span. Small enough to travel in a job payload.
 */
export interface StagedManifest {
  /** Source key (relative to the source root). */
  key: string;
  etag: string;
  ss_id: number;
  /**
   * The object's day, `YYYY-MM-DD`, from its key; for a prize part (not split
   * by day) the UTC day of its first reading, `1970-01-01` when it has none.
   */
  day: string;
  format: SourceFormat;
  /** Fact rows in the staged file. */
  rows: number;
  /** Absolute path of the staged Parquet file, or null when `rows` is 0. */
  staged: string | null;
  /** Size of the staged file in bytes. */
  bytes: number;
  /** Smallest and largest UTC timestamp, epoch microseconds as decimal strings (null when empty). */
  minTimestamp: string | null;
  maxTimestamp: string | null;
  /**
   * The channels the staged file's rows carry (every row's sensor, metric id and
   * units are one of these; a channel with no row left may be listed too). A
   * DuckDB sink numbers them without reading the file for them. Absent from a
   * manifest written before this field: the sink then reads them from the file.
   */
  channels?: StagedChannel[];
  /** Readings the reading rules dropped, by rule. */
  dropped: DroppedCounts;
  /** The same, by sensor (only the sensors that had any), for the quality report. */
  droppedBySensor: Record<string, DroppedCounts>;
  /**
   * Objects cut from one version of one file (the byte ranges of a prize CSV
   * at one ETag) share a group, and their `order` (the byte offset) decides
   * which keeps a reading both deliver: the later in the file. Null for a
   * whole object: then the object committed last keeps it.
   */
  group: string | null;
  /** Position of the object within its group (see {@link StagedManifest.group}); null without a group. */
  order: number | null;
  /**
   * `pv_readings`: the staged file is already a Parquet dataset's readings
   * file (its columns, `source_key` included, sorted by timestamp and sensor,
   * ZSTD), written by a worker for a `parquet://` sink, which then moves it
   * into place instead of rewriting it. Absent: the staged columns, which
   * every sink rewrites.
   *
   * `channel_index`: the staged file carries no text; its `channel` column
   * is a row's position in {@link StagedManifest.channels} (see
   * STAGED_CHANNEL_INDEX_COLUMNS). Written for a DuckDB sink, whose loader
   * maps the positions to its channel numbers; the other sinks refuse it.
   */
  layout?: 'pv_readings' | 'channel_index';
  /**
   * The readings file (`layout: 'pv_readings'`) is already in a dataset on
   * object storage, under its final name of its own (`staged` is its
   * `s3://` URI), put there by the worker: the loader checks its size and
   * records it in the ledger, and never removes it as a staged file.
   */
  placed?: boolean;
  /**
   * The staged file's data is on disk already (a durable staging folder synced
   * it), so a sink that hard-links it into place need not sync it again. Set by
   * the loader from its staging area, never by a worker.
   */
  synced?: boolean;
}
