import { access, copyFile, constants as fsConstants, link, mkdir, readdir, rename, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import {
  BadInputError,
  derivedId,
  exists,
  fsyncDir,
  fsyncFile,
  mapConcurrent,
  type StagedManifest,
} from '@pv-pipeline/core';
import {
  PV_INGEST_LEDGER,
  PV_QUALITY_DAILY,
  PV_READINGS,
  PV_RUNS,
  PV_SENSORS,
  PV_SYSTEMS,
  type RunRow,
  type SensorEntry,
  type SystemRow,
  type TableDef,
} from '@pv-pipeline/schema';
import { ledgerFieldsOf } from '../ledger-fields.js';
import { batchPrecedence, committedKeeps, outranks } from '../precedence.js';
import type { CommitResult, DerivedSlice, LedgerFilter, ReaderOptions, Sink, SinkInitOptions } from '../sink.js';
import { memoryLimitParam, parseSinkUrl, type SinkUrlSource, threadsParam } from '../sink-url.js';
import { sqlString } from '../sql-literal.js';
import { assertNamedStagedFiles } from '../staged-layout.js';
import type { WarehouseReader } from '../warehouse-reader.js';
import { openDatasetReader } from './dataset-reader.js';
import { type LedgerEntry, LedgerIndex } from './ledger-index.js';
import { type MemoryEngine, openMemoryEngine } from './memory-engine.js';
import { writeWithout } from './overlap-rows.js';
import { checkReadingsFiles, parquetFileRows, parquetFilesShape, writeReadingsFile } from './readings-file.js';
import { CommitClock, DAY, lastManifestPerKey, usToIso } from './staged-objects.js';
import { checkTableFile, writeTableFile } from './table-files.js';
import { field } from './table-rows.js';

/** Options of {@link ParquetDatasetSink}. */
export interface ParquetDatasetSinkOptions {
  /** Root directory of the dataset; resolved against the working directory when relative. Created by `init()`. */
  root: string;
  /** The URL reported by {@link ParquetDatasetSink.url}. @defaultValue `parquet://` + the absolute root */
  url?: string;
  /** DuckDB worker threads used to rewrite files. @defaultValue DuckDB's own (one per core) */
  threads?: number;
  /**
   * DuckDB `memory_limit` for rewriting files.
   * @defaultValue `256MB`: sorting a large
   * object (a prize part of millions of rows) spills to `ROOT/.spill/` beyond it
   * instead of holding the whole object in memory.
   */
  memoryLimit?: string;
  /**
   * Told as a commit passes each of its steps ({@link PARQUET_COMMIT_STEPS}); a throw there
   * stands for a crash at that point (the sink contract suite's fault hook).
   * @defaultValue none
   */
  onCommitStep?: (step: string) => void;
}

/**
 * The steps of a Parquet dataset commit: every new file written to a temp
 * name; the readings files published (renamed); the files of other objects
 * that lose keys published; the ledger file published (the batch is in).
 */
export const PARQUET_COMMIT_STEPS = [
  'files-written',
  'readings-published',
  'others-trimmed',
  'ledger-written',
] as const;

/** Directory under the root where DuckDB spills sorts larger than its memory limit. */
const SPILL_DIR = '.spill';
/** Files of a batch linked, synced or looked up at once (libuv's pool runs 4 file operations at a time). */
const FILE_CONCURRENCY = 8;

/** A file written to a temporary name, waiting to be renamed over its final name. */
interface PendingFile {
  tmp: string;
  final: string;
}

/** What one object of a batch will do to its readings file. */
interface ObjectPlan {
  manifest: StagedManifest;
  /** Final path of the object's readings file. */
  file: string;
  /** Temporary file holding its new rows; null when the object has no rows (delete) or once published. */
  tmp: string | null;
  /** Rows written to `tmp`. */
  rows: number;
  /** Rows of the files it replaces (0 when absent). */
  replaced: number;
  /** Files of the same object in other partitions, deleted when the batch is published. */
  stale: string[];
}

/** Another object's readings file losing the keys a batch delivers again. */
interface TrimPlan {
  file: string;
  /** Its rewritten rows at a temp name; null when none are left (the file is deleted) or once published. */
  tmp: string | null;
  /** Rows it loses. */
  removed: number;
}

/** The tables of the dataset, one directory each. */
const TABLES: readonly TableDef[] = [PV_READINGS, PV_INGEST_LEDGER, PV_SYSTEMS, PV_SENSORS, PV_RUNS];
const GLOB_CHARS = /[*?[\]{}]/;

/**
 * A {@link Sink} writing the star schema as a Parquet dataset for ML training,
 * readable as one dataset by DuckDB, Arrow, Spark or pandas with hive partitioning:
 *
 * ```
 * ROOT/pv_readings/ss_id={id}/year={YYYY}/month={M}/part-{derivedId(source_key)}.parquet
 * ROOT/pv_ingest_ledger/ledger-{derivedId(runId, …source keys)}.parquet
 * ROOT/pv_systems/pv_systems.parquet
 * ROOT/pv_sensors/pv_sensors.parquet
 * ```
 *
 * Each readings file holds every row of ONE source object (the columns of
 * `PV_READINGS`, ZSTD, sorted by timestamp and sensor), in the partition of the
 * object's day; `ss_id` is both a column and a path segment, with the same value,
 * so hive-partitioned readers show it once. The ledger is append-only: one file
 * per committed batch, the latest `loaded_at` per source key wins.
 *
 * Every file is written by DuckDB to a `*.tmp` name in its final directory,
 * fsync'd, then renamed over its final name, so readers see a file whole or not
 * at all. A readings file a worker wrote is hard-linked to its `*.tmp` name
 * instead (or copied across volumes), and synced unless its manifest says the
 * staging area synced it (`synced`) and it was linked.
 *
 * Crash safety: a readings file is named after its source object alone, so writing
 * it again replaces it instead of adding to it (idempotent by name), and the
 * ledger file of a batch is written only after every readings file of the batch is
 * in place. A crash at any point therefore leaves at worst readings files whose
 * ledger row is missing (or still names the previous ETag): the planner sees the
 * object as new or changed, plans it again, and its file is rewritten under the
 * same name — never duplicated (an earlier object whose file was still to lose
 * the keys the batch delivers holds them too until that redo trims it). `*.tmp` files left by a crash are invisible to
 * `*.parquet` globs and are removed by {@link ParquetDatasetSink.init}.
 *
 * A batch is published in two phases: every new file is first written to its temp
 * name (an unusable staged file fails the batch with nothing visible), then all are
 * renamed (and emptied objects deleted) before the ledger. Rows are replaced per
 * source object; two objects delivering the same `(ss_id, timestamp, sensor)`
 * do not both keep them: as in the other sinks the later object wins, and the
 * earlier object's file is rewritten without those keys (found through the
 * ledger's time ranges, published with the batch). A prize part is filed under the month of its first
 * reading, which may change: its file in any other month is deleted with the
 * batch. Parts a prize file no longer has are retired by the planner as empty
 * objects, which deletes their files.
 *
 * Calls are serialized: the sink holds one in-memory DuckDB connection.
 */
export class ParquetDatasetSink implements Sink {
  /** The sink URL, e.g. `parquet:///data/pvdaq`. */
  readonly url: string;
  /** Absolute root directory of the dataset. */
  readonly root: string;

  private readonly threads: number | undefined;
  private readonly memoryLimit: string;
  private readonly onCommitStep: ((step: string) => void) | undefined;
  /** The DuckDB engine of the sink; the sink awaits it once per call. */
  private engine: Promise<MemoryEngine> | null = null;
  /** Tail of the call queue (see {@link serial}). */
  private queue: Promise<unknown> = Promise.resolve();
  private tmpSeq = 0;
  private readonly clock = new CommitClock();
  /** The ledger's latest row per source key, by system. */
  private readonly ledger: LedgerIndex;

  constructor(options: ParquetDatasetSinkOptions) {
    this.root = path.resolve(options.root);
    this.url = options.url ?? `parquet://${this.root}`;
    this.threads = options.threads;
    this.memoryLimit = options.memoryLimit ?? '256MB';
    this.onCommitStep = options.onCommitStep;
    this.ledger = new LedgerIndex(this.dir(PV_INGEST_LEDGER));
  }

  /** Directory of a table. */
  private dir(table: TableDef): string {
    return path.join(this.root, table.name);
  }

  /**
   * Checks the root (a writable directory, or absent), creates the table
   * directories, removes `*.tmp` files left by a crash, starts DuckDB, and checks
   * the columns of existing `pv_systems` / `pv_sensors` files against the schema.
   *
   * @throws BadInputError `--sink` when the root is not a directory, not writable,
   *   cannot be created, or holds a dimension file of another schema.
   */
  init(options: SinkInitOptions = {}): Promise<void> {
    return this.serial(async () => {
      if (GLOB_CHARS.test(this.root)) {
        throw new BadInputError('--sink', `${this.root}: the directory name must not contain * ? [ ] { }`);
      }
      const st = await stat(this.root).catch((err: NodeJS.ErrnoException) => {
        if (err.code === 'ENOENT') return null;
        throw new BadInputError('--sink', `${this.root}: ${err.code ?? err.message}`, err);
      });
      if (st && !st.isDirectory()) throw new BadInputError('--sink', `${this.root} exists and is not a directory`);
      if (options.create === false) {
        // as it is, for reading: a dataset this sink wrote before
        if (!st || !(await exists(this.dir(PV_READINGS)))) {
          throw new BadInputError('--sink', `${this.url} has no ${PV_READINGS.name} folder: not a pv-pipeline dataset`);
        }
        return;
      }
      for (const table of TABLES) {
        await mkdir(this.dir(table), { recursive: true }).catch((err: NodeJS.ErrnoException) => {
          throw new BadInputError('--sink', `cannot create ${this.dir(table)}: ${err.code ?? err.message}`, err);
        });
      }
      for (const dir of [this.root, ...TABLES.map((t) => this.dir(t))]) {
        await access(dir, fsConstants.W_OK).catch((err: NodeJS.ErrnoException) => {
          throw new BadInputError('--sink', `${dir} is not writable`, err);
        });
      }
      await this.removeStaleTmp();
      await this.db();
      const { conn } = await this.db();
      for (const table of [PV_SYSTEMS, PV_SENSORS, PV_RUNS]) {
        await checkTableFile(conn, table, path.join(this.dir(table), `${table.name}.parquet`));
      }
    });
  }

  /**
   * Source key → ETag of the latest ledger row of every object in the filter's
   * systems and days (inclusive). Empty when nothing was committed yet.
   */
  ledgerEtags(filter: LedgerFilter): Promise<Map<string, string>> {
    return this.serial(async () => {
      await this.ledger.refresh((await this.db()).conn);
      return this.ledger.etags(filter);
    });
  }

  /** Merges rows into `pv_systems.parquet` by `ss_id` (new rows win) and rewrites it atomically. */
  upsertSystems(rows: readonly SystemRow[]): Promise<void> {
    return this.serial(() => this.upsertWholeTable(PV_SYSTEMS, rows));
  }

  /** Merges rows into `pv_sensors.parquet` by `(ss_id, sensor)` (new rows win) and rewrites it atomically. */
  upsertSensors(rows: readonly SensorEntry[]): Promise<void> {
    return this.serial(() => this.upsertWholeTable(PV_SENSORS, rows));
  }

  /** Rewrites a derived table's file without the slice's old rows and with `rows`, atomically. */
  replaceDerived(table: TableDef, rows: readonly object[], slice: DerivedSlice): Promise<void> {
    return this.serial(async () => {
      await mkdir(this.dir(table), { recursive: true });
      const keep =
        slice.ssIds.length === 0
          ? 'true'
          : `NOT (e.ss_id IN (${slice.ssIds.map(Number).join(', ')}) AND e."day" BETWEEN DATE ${sqlString(slice.from)} AND DATE ${sqlString(slice.to)})`;
      await this.upsertWholeTable(table, rows, keep);
    });
  }

  /** Merges a finished run into `pv_runs.parquet` by `run_id` and rewrites it atomically. */
  recordRun(run: RunRow): Promise<void> {
    return this.serial(() => this.upsertWholeTable(PV_RUNS, [run]));
  }

  /**
   * Writes one readings file per object of the batch (replacing the object's
   * previous file, or deleting it when the manifest has 0 rows), then one ledger
   * file for the batch. When a key occurs twice in a batch, its last manifest wins.
   *
   * @returns `rows`: rows written; `replaced`: rows of the files overwritten or deleted.
   * @throws BadInputError naming the object when a manifest or its staged file is
   *   unusable; nothing of the batch is then published.
   */
  commit(batch: readonly StagedManifest[], runId: string): Promise<CommitResult> {
    return this.serial(async () => {
      assertNamedStagedFiles(this.url, batch);
      const byKey = lastManifestPerKey(batch);
      if (byKey.size === 0) return { rows: 0, replaced: 0 };

      // Phase 1: every new file to its temp name; nothing visible yet.
      const { plans, created } = await this.prepareObjects([...byKey.values()]);

      // Phase 1b: rows of other objects holding the keys this batch delivers (the
      // other archive format of the same day, a prize part cut elsewhere): the later
      // object wins, as in the other sinks. Rewritten to temp names; nothing visible yet.
      let trims: TrimPlan[] = [];
      try {
        trims = await this.trimOverlaps(plans, new Set(byKey.keys()));
      } catch (err) {
        await Promise.all(plans.map((p) => (p.tmp ? rm(p.tmp, { force: true }) : undefined)));
        throw err;
      }

      this.onCommitStep?.('files-written');
      // Phase 2: publish the readings files. A failure here leaves objects without
      // their ledger row, which the next plan redoes (see the class comment).
      const touched = new Set<string>();
      try {
        // each object's files are its own: published several at a time
        await mapConcurrent(plans, FILE_CONCURRENCY, async (p) => {
          if (p.tmp) {
            await rename(p.tmp, p.file);
            // a rename between two links of one file (a redo that linked the file it published) keeps both
            await rm(p.tmp, { force: true });
            touched.add(path.dirname(p.file));
          } else if (await exists(p.file)) {
            await rm(p.file, { force: true });
            touched.add(path.dirname(p.file));
          }
          p.tmp = null;
          for (const f of p.stale) {
            await rm(f, { force: true });
            touched.add(path.dirname(f));
          }
        });
        this.onCommitStep?.('readings-published');
        // the other objects lose the keys last: a crash in between leaves a key twice
        // until the batch is redone (no ledger row yet), never a reading missing
        for (const t of trims) {
          if (t.tmp) await rename(t.tmp, t.file);
          else await rm(t.file, { force: true });
          t.tmp = null;
          touched.add(path.dirname(t.file));
        }
      } catch (err) {
        await Promise.all([...plans, ...trims].map((p) => (p.tmp ? rm(p.tmp, { force: true }) : undefined)));
        throw err;
      }
      await mapConcurrent([...touched, ...created], FILE_CONCURRENCY, fsyncDir);
      this.onCommitStep?.('others-trimmed');

      // Phase 3: the ledger, last.
      const loadedAt = this.clock.next(this.ledger.latestLoadedAtUs);
      const ledgerRows = plans.map((p) => {
        const fields = ledgerFieldsOf(p.manifest);
        return {
          ...fields,
          rows: p.rows,
          run_id: runId,
          loaded_at: loadedAt,
          min_timestamp: usToIso(p.manifest.minTimestamp),
          max_timestamp: usToIso(p.manifest.maxTimestamp),
        };
      });
      const keys = [...byKey.keys()].sort();
      const ledgerFile = path.join(this.dir(PV_INGEST_LEDGER), `ledger-${derivedId(runId, ...keys)}.parquet`);
      const ledgerTmp = this.tmpName(ledgerFile);
      await writeTableFile((await this.db()).conn, PV_INGEST_LEDGER, ledgerRows, ledgerFile, null, ledgerTmp);
      await this.publish({ tmp: ledgerTmp, final: ledgerFile });
      this.onCommitStep?.('ledger-written');

      return {
        rows: plans.reduce((n, p) => n + p.rows, 0),
        replaced: plans.reduce((n, p) => n + p.replaced, 0) + trims.reduce((n, t) => n + t.removed, 0),
      };
    });
  }

  /**
   * A reader over the dataset as it stands: an in-memory DuckDB whose views
   * read the files (see openDatasetReader).
   */
  openReader(options: ReaderOptions = {}): Promise<WarehouseReader> {
    return openDatasetReader({
      url: this.url,
      tables: [...TABLES, PV_QUALITY_DAILY],
      dir: (t) => this.dir(t),
      memoryLimit: options.memoryLimit ?? this.memoryLimit,
      threads: this.threads,
      spillDir: path.join(this.root, SPILL_DIR),
    });
  }

  /** Waits for pending calls and closes the DuckDB instance. Idempotent. */
  close(): Promise<void> {
    return this.serial(async () => {
      const engine = this.engine;
      this.engine = null;
      if (!engine) return;
      const { conn, instance } = await engine.catch(() => ({ conn: null, instance: null }));
      conn?.closeSync();
      instance?.closeSync();
    });
  }

  // ── internals ──────────────────────────────────────────────────────────────

  /** Runs calls one at a time, in call order. */
  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.queue.then(fn, fn);
    this.queue = run.catch(() => undefined);
    return run;
  }

  /** The DuckDB engine, started on first use. */
  private db(): Promise<MemoryEngine> {
    if (!this.engine) {
      this.engine = openMemoryEngine({
        memoryLimit: this.memoryLimit,
        spillDir: path.join(this.root, SPILL_DIR),
        threads: this.threads,
      });
      this.engine.catch(() => {
        this.engine = null;
      });
    }
    return this.engine;
  }

  /** Path of the readings file of an object. */
  private readingsFile(m: StagedManifest): string {
    const [, year, month] = DAY.exec(m.day)!;
    return path.join(
      this.dir(PV_READINGS),
      `ss_id=${m.ss_id}`,
      `year=${year}`,
      `month=${Number(month)}`,
      `part-${derivedId(m.key)}.parquet`,
    );
  }

  /** A fresh temp name beside `final` (never matched by `*.parquet`). */
  private tmpName(final: string): string {
    return `${final}.${process.pid}-${++this.tmpSeq}.tmp`;
  }

  /**
   * Phase 1: for each object, the rows of the files it replaces and its new file at a temp name.
   * The footers of a batch's files are read in one query each; a worker-written file is linked
   * into place, several at a time; a staged file is rewritten by DuckDB, one at a time. On
   * failure, no temp file is left.
   */
  private async prepareObjects(
    manifests: readonly StagedManifest[],
  ): Promise<{ plans: ObjectPlan[]; created: Set<string> }> {
    const { conn } = await this.db();
    await this.ledger.refresh(conn);
    const targets = await mapConcurrent(manifests, FILE_CONCURRENCY, async (m) => {
      const file = this.readingsFile(m);
      if (m.rows > 0 && !(await exists(m.staged!))) {
        throw new BadInputError(m.key, `staged file ${m.staged} is missing`);
      }
      const stale = await this.previousPartitionFiles(m, file);
      return { m, file, stale, replacing: (await exists(file)) ? [file, ...stale] : stale };
    });
    const counts = await this.parquetRowCounts(targets.flatMap((t) => t.replacing));
    const placed = targets.filter((t) => t.m.rows > 0 && t.m.layout === 'pv_readings');
    // worker-written files, in their final form: checked, then moved into place, not rewritten
    await checkReadingsFiles(
      conn,
      placed.map((t) => ({ m: t.m, staged: t.m.staged! })),
    );
    const created = new Set<string>();
    const plans: ObjectPlan[] = targets.map((t) => ({
      manifest: t.m,
      file: t.file,
      tmp: null,
      rows: 0,
      replaced: t.replacing.reduce((n, f) => n + (counts.get(f) ?? 0), 0),
      stale: t.stale,
    }));
    try {
      const withRows = plans.filter((p) => p.manifest.rows > 0);
      await mapConcurrent([...new Set(withRows.map((p) => path.dirname(p.file)))], FILE_CONCURRENCY, async (dir) => {
        // a new partition: the folders holding each new folder are synced with the batch
        const first = await mkdir(dir, { recursive: true });
        for (let d = dir; first !== undefined && d.length >= first.length; d = path.dirname(d)) {
          created.add(path.dirname(d));
        }
      });
      await mapConcurrent(
        withRows.filter((p) => p.manifest.layout === 'pv_readings'),
        FILE_CONCURRENCY,
        async (p) => {
          p.tmp = this.tmpName(p.file);
          // a link to a file the staging area synced shares its synced data; anything else is synced here
          if ((await linkOrCopy(p.manifest.staged!, p.tmp)) === 'copied' || !p.manifest.synced) await fsyncFile(p.tmp);
          p.rows = p.manifest.rows;
        },
      );
      for (const p of withRows.filter((x) => x.manifest.layout !== 'pv_readings')) {
        const m = p.manifest;
        const tmp = this.tmpName(p.file);
        const rows = await writeReadingsFile(conn, m, m.staged!, tmp);
        p.tmp = tmp;
        if (rows !== m.rows) {
          throw new BadInputError(m.key, `staged file ${m.staged} has ${rows} rows, its manifest says ${m.rows}`);
        }
        p.rows = rows;
      }
    } catch (err) {
      await Promise.all(plans.map((p) => (p.tmp ? rm(p.tmp, { force: true }) : undefined)));
      throw err;
    }
    return { plans, created };
  }

  /**
   * Keys delivered by two objects: an object of the batch loses those a later
   * object of the batch delivers too, and the files of objects committed before
   * (found through the ledger's time ranges) lose those the batch delivers. The
   * rewritten files go to temp names; `plans` are updated in place.
   */
  private async trimOverlaps(plans: ObjectPlan[], batchKeys: ReadonlySet<string>): Promise<TrimPlan[]> {
    const withRows = plans.filter((p) => p.tmp && p.manifest.minTimestamp !== null && p.manifest.maxTimestamp !== null);
    if (withRows.length === 0) return [];
    const meets = (a: StagedManifest, lo: bigint, hi: bigint) =>
      BigInt(a.minTimestamp!) <= hi && BigInt(a.maxTimestamp!) >= lo;
    const overlaps = (a: StagedManifest, b: StagedManifest) =>
      a.ss_id === b.ss_id && meets(a, BigInt(b.minTimestamp!), BigInt(b.maxTimestamp!));
    // within the batch: an object loses the keys of every object that outranks it (precedence.ts)
    const precedence = batchPrecedence(withRows.map((p) => p.manifest));
    for (let i = 0; i < withRows.length; i++) {
      const a = withRows[i]!;
      const stronger = withRows.filter(
        (b, j) => j !== i && outranks(precedence[j]!, precedence[i]!) && overlaps(a.manifest, b.manifest),
      );
      await this.dropKeysOf(
        a,
        stronger.flatMap((b) => (b.tmp ? [b.tmp] : [])), // one emptied earlier has no file left
      );
    }
    // against objects committed before: the ledger's latest row per key gives their ranges
    await this.ledger.refresh((await this.db()).conn);
    const others = new Map<string, { entry: LedgerEntry; losers: ObjectPlan[] }>();
    for (const p of withRows.filter((x) => x.tmp)) {
      const lo = BigInt(p.manifest.minTimestamp!);
      const hi = BigInt(p.manifest.maxTimestamp!);
      const keptBy: string[] = [];
      for (const e of this.ledger.entriesOf(p.manifest.ss_id)) {
        if (e.rows === 0 || batchKeys.has(e.key)) continue;
        // ledger ranges are kept to the millisecond: widen by one
        if (!(e.minUs === null || e.maxUs === null || (e.minUs <= hi && e.maxUs + 1000n >= lo))) continue;
        const file = this.readingsFile({ key: e.key, ss_id: e.ssId, day: e.day } as StagedManifest);
        if (committedKeeps(e, p.manifest)) {
          // a committed object later in the same group keeps its keys: the incoming one loses them
          if (await exists(file)) keptBy.push(file);
        } else {
          const o = others.get(e.key) ?? { entry: e, losers: [] };
          o.losers.push(p);
          others.set(e.key, o);
        }
      }
      if (keptBy.length > 0) await this.dropKeysOf(p, keptBy);
    }
    const trims: TrimPlan[] = [];
    try {
      for (const { entry: e, losers } of others.values()) {
        const file = this.readingsFile({ key: e.key, ss_id: e.ssId, day: e.day } as StagedManifest);
        const against = losers.filter((p) => p.tmp).map((p) => p.tmp!);
        if (against.length === 0 || !(await exists(file))) continue;
        const before = (await this.parquetRowCounts([file])).get(file) ?? 0;
        const tmp = this.tmpName(file);
        const rows = await writeWithout((await this.db()).conn, file, against, tmp);
        if (rows === before) {
          await rm(tmp, { force: true });
          continue;
        }
        if (rows === 0) await rm(tmp, { force: true });
        trims.push({ file, tmp: rows === 0 ? null : tmp, removed: before - rows });
      }
    } catch (err) {
      await Promise.all(trims.map((t) => (t.tmp ? rm(t.tmp, { force: true }) : undefined)));
      throw err;
    }
    return trims;
  }

  /** Rewrites an object's new file (at its temp name) without the keys `files` hold; none left: it has no file. */
  private async dropKeysOf(plan: ObjectPlan, files: readonly string[]): Promise<void> {
    if (files.length === 0 || !plan.tmp) return;
    const tmp = this.tmpName(plan.file);
    const rows = await writeWithout((await this.db()).conn, plan.tmp, files, tmp);
    await rm(plan.tmp, { force: true });
    if (rows === 0) await rm(tmp, { force: true });
    plan.tmp = rows === 0 ? null : tmp; // none left: its earlier file is deleted
    plan.rows = rows;
  }

  /**
   * The object's file in the partition the ledger last filed it under, when
   * that is another one: an object filed by the day of its first reading (a
   * prize part) moves when its content does, and a retired part (no rows, no
   * day) leaves. Found through the ledger, so the sink needs to know nothing
   * of source formats.
   */
  private async previousPartitionFiles(m: StagedManifest, file: string): Promise<string[]> {
    const previous = this.ledger.get(m.ss_id, m.key);
    if (!previous || previous.rows === 0) return [];
    const earlier = this.readingsFile({ ...m, day: previous.day });
    return earlier !== file && (await exists(earlier)) ? [earlier] : [];
  }

  /** Row counts of existing Parquet files from their footers; 0 for an unreadable one (a damaged file is simply overwritten). */
  private async parquetRowCounts(files: readonly string[]): Promise<Map<string, number>> {
    const { conn } = await this.db();
    const shapes = files.length > 0 ? await parquetFilesShape(conn, files).catch(() => null) : null;
    const counts = new Map<string, number>();
    // a file the query did not answer for (no row groups, or one file is damaged so the query failed): on its own
    for (const f of files) counts.set(f, shapes?.get(f)?.rows ?? (await parquetFileRows(conn, f).catch(() => 0)));
    return counts;
  }

  /** Renames a temp file over its final name and syncs the directory. */
  private async publish(f: PendingFile): Promise<void> {
    await rename(f.tmp, f.final);
    await fsyncDir(path.dirname(f.final));
  }

  /** Upsert of a whole-table dimension file; the new rows win, last one per key. */
  private async upsertWholeTable(table: TableDef, rows: readonly object[], keepOld?: string): Promise<void> {
    if (rows.length === 0 && keepOld === undefined) return;
    const byKey = new Map<string, object>();
    for (const r of rows) byKey.set(JSON.stringify(table.key.map((k) => field(r, k))), r);
    const final = path.join(this.dir(table), `${table.name}.parquet`);
    const mergeFrom = (await exists(final)) ? final : null;
    const tmp = this.tmpName(final);
    await writeTableFile((await this.db()).conn, table, [...byKey.values()], final, mergeFrom, tmp, keepOld);
    await this.publish({ tmp, final });
  }

  /** Removes `*.tmp` files left in the table directories by a crashed writer. */
  private async removeStaleTmp(): Promise<void> {
    for (const table of TABLES) {
      const dir = this.dir(table);
      const names = await readdir(dir, { recursive: true });
      await Promise.all(names.filter((n) => n.endsWith('.tmp')).map((n) => rm(path.join(dir, n), { force: true })));
    }
  }
}

/**
 * Opens a Parquet dataset sink from its URL: `parquet:///abs/dir`, or
 * `parquet://./rel` / `parquet://rel/dir` (relative to the working directory);
 * parameters `memory_limit` and `threads`. Call `init()` before use.
 *
 * @param from where the URL came from (`--sink`, `PV_SINK`), named in errors
 */
export function openParquetSink(url: string, from: SinkUrlSource = '--sink'): ParquetDatasetSink {
  const p = parseSinkUrl(
    url,
    'parquet',
    ['memory_limit', 'threads'],
    'parquet:///abs/dir?memory_limit=256MB&threads=N',
    from,
  );
  const threads = threadsParam(p, from);
  const memoryLimit = memoryLimitParam(p, from);
  return new ParquetDatasetSink({
    root: p.body,
    url: p.url,
    ...(threads ? { threads } : {}),
    ...(memoryLimit ? { memoryLimit } : {}),
  });
}

/** Errors of `link` that mean "not here" (another volume, or a file system without hard links): copy instead. */
const NO_LINK = new Set(['EXDEV', 'EPERM', 'ENOTSUP', 'EOPNOTSUPP', 'EMLINK', 'ENOSYS']);

/**
 * Puts `from`'s content at `to`: a hard link where the staging folder shares
 * the dataset's volume (no copy of the bytes), else a copy. A staged file is
 * never written again under its name (staging writes a temp file and renames
 * it), so the dataset's link cannot change under it. Resolves with which it did.
 */
async function linkOrCopy(from: string, to: string): Promise<'linked' | 'copied'> {
  try {
    await link(from, to);
    return 'linked';
  } catch (err) {
    if (!NO_LINK.has((err as NodeJS.ErrnoException).code ?? '')) throw err;
    await copyFile(from, to);
    return 'copied';
  }
}
