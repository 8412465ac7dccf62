import { mkdir, mkdtemp, readdir, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { BadInputError, exists, mapConcurrent, type StagedManifest } from '@pv-pipeline/core';
import {
  duckdbType,
  PV_INGEST_LEDGER,
  PV_QUALITY_DAILY,
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
import { ledgerFieldsOf } from '../ledger-fields.js';
import { openDatasetReader } from '../parquet/dataset-reader.js';
import { isLedgerFile, type LedgerEntry, LedgerIndex } from '../parquet/ledger-index.js';
import { type MemoryEngine, openMemoryEngine } from '../parquet/memory-engine.js';
import { writeWithout } from '../parquet/overlap-rows.js';
import { checkReadingsFile, writeReadingsFile } from '../parquet/readings-file.js';
import { CommitClock, lastManifestPerKey, usToIso } from '../parquet/staged-objects.js';
import { writeTableFile } from '../parquet/table-files.js';
import { field } from '../parquet/table-rows.js';
import { batchPrecedence, committedKeeps, outranks } from '../precedence.js';
import type { CommitResult, DerivedSlice, LedgerFilter, ReaderOptions, Sink, SinkInitOptions } from '../sink.js';
import { memoryLimitParam, parseSinkUrl, type SinkUrlSource, threadsParam } from '../sink-url.js';
import { sqlString } from '../sql-literal.js';
import { assertNamedStagedFiles } from '../staged-layout.js';
import type { WarehouseReader } from '../warehouse-reader.js';
import { DatasetBucket, type DatasetBucketOptions } from './dataset-bucket.js';
import {
  DATASET_MARKER,
  ledgerFileKey,
  OBJECT_LEDGER,
  readingsFileKey,
  tableFileKey,
  tableFolder,
} from './object-dataset-layout.js';

/** Options of {@link ObjectParquetSink}. */
export interface ObjectParquetSinkOptions extends DatasetBucketOptions {
  /** The URL reported by {@link ObjectParquetSink.url}. @defaultValue `parquet+s3://bucket/prefix` */
  url?: string;
  /** DuckDB threads used to write files. @defaultValue DuckDB's own (one per core) */
  threads?: number;
  /** DuckDB `memory_limit`; larger sorts spill to the local work folder. @defaultValue `256MB` */
  memoryLimit?: string;
  /** Local folder for the sink's copies of ledger and data files (one sub-folder per sink, removed by `close()`). @defaultValue the OS temp folder */
  workDir?: string;
  /** Requests in flight while uploading or downloading a batch's files. @defaultValue 16 */
  concurrency?: number;
  /**
   * Told as a commit passes each of its steps ({@link OBJECT_PARQUET_COMMIT_STEPS}); a throw
   * there stands for a crash at that point (the sink contract suite's fault hook). @defaultValue none
   */
  onCommitStep?: (step: string) => void;
}

/**
 * The steps of a commit to a dataset on object storage: every new file written
 * locally; every new file uploaded under its own new name (still referenced by
 * nothing); the ledger file uploaded (the batch is in).
 */
export const OBJECT_PARQUET_COMMIT_STEPS = ['files-written', 'files-uploaded', 'ledger-written'] as const;

/** Whole-table files of the dataset. */
const WHOLE_TABLES: readonly TableDef[] = [PV_SYSTEMS, PV_SENSORS, PV_RUNS, PV_QUALITY_DAILY];

/** What one object of a batch will commit. */
interface ObjectPlan {
  manifest: StagedManifest;
  /** A local file of its new rows, or null (no rows, or placed by a worker and not rewritten). */
  local: string | null;
  /** Its readings file in the dataset once uploaded (or as a worker placed it); null before, or without rows. */
  remote: string | null;
  /** Rows it keeps. */
  rows: number;
  /** Rows of its previous file (0 when none). */
  replaced: number;
}

/** A committed object losing the readings a batch delivers again: its new file replaces its ledger row's. */
interface TrimPlan {
  entry: LedgerEntry;
  local: string | null;
  remote: string | null;
  rows: number;
  removed: number;
}

/**
 * The Parquet dataset on S3 or any S3-compatible store
 * (`parquet+s3://bucket/prefix`), for a cluster whose nodes share no folder.
 * The layout is {@link ObjectDatasetLayout}'s: `pv_readings` in the same hive
 * partitions as a local dataset, but every readings file under a name of its
 * own, and each batch's ledger file as its commit point: its rows name the
 * file of every object of the batch. A reader resolves the latest ledger row
 * per source key and reads the files those rows name (the read recipe in the
 * README), so it never sees half a batch, nor a file a batch replaced.
 *
 * A crash at any point leaves the dataset as the last ledger file says, plus
 * files no ledger row references: the redo uploads new ones, and
 * {@link ObjectParquetSink.vacuum} deletes the unreferenced ones. Readings files
 * may be placed in the dataset by the workers (a manifest with `placed`); the
 * loader then only checks their size (one listing per partition folder of the
 * batch) and writes the ledger.
 *
 * DuckDB works on local copies: the ledger files (kept in the sink's work
 * folder), and the readings files a commit must rewrite (when two objects
 * deliver the same reading, the later keeps it, as in every sink) or a reader
 * reads, copied for that commit or reader and removed after it. One writer
 * per dataset: the loader. Calls are serialized.
 */
export class ObjectParquetSink implements Sink {
  /** `parquet+s3://bucket/prefix`. */
  readonly url: string;
  readonly bucket: DatasetBucket;

  readonly #o: ObjectParquetSinkOptions;
  #work: string | null = null;
  #engine: Promise<MemoryEngine> | null = null;
  #queue: Promise<unknown> = Promise.resolve();
  #ledger: LedgerIndex | null = null;
  /** The last ledger file copied locally (names sort by commit time). */
  #lastLedger: string | undefined;
  readonly #clock = new CommitClock();
  #seq = 0;

  constructor(options: ObjectParquetSinkOptions) {
    this.#o = options;
    this.bucket = new DatasetBucket(options);
    this.url = options.url ?? `parquet+s3://${options.bucket}${options.prefix ? `/${options.prefix}` : ''}`;
  }

  /**
   * Checks that the bucket answers; when creating, writes the dataset marker
   * and empty `pv_systems` / `pv_sensors` files where there are none; when
   * opening for reading, requires the marker.
   *
   * @throws BadInputError `--sink` when the bucket cannot be reached, or (with
   *   `create: false`) when the prefix holds no pv-pipeline dataset.
   */
  init(options: SinkInitOptions = {}): Promise<void> {
    return this.#serial(async () => {
      await this.bucket.check();
      const marked = (await this.bucket.size(DATASET_MARKER)) !== null;
      if (!marked) {
        if (options.create === false) {
          throw new BadInputError('--sink', `${this.url} has no ${DATASET_MARKER}: not a pv-pipeline dataset`);
        }
        const work = await this.#workDir();
        const marker = path.join(work, DATASET_MARKER);
        await writeFile(marker, `${JSON.stringify({ format: 'pv-pipeline parquet dataset', layout: 1 })}\n`);
        await this.bucket.put(DATASET_MARKER, marker);
      }
      await this.#db();
      if (options.create === false) return;
      // empty dimension files from the start, so that a reader's views always have something to read
      for (const table of [PV_SYSTEMS, PV_SENSORS]) {
        if ((await this.bucket.size(tableFileKey(table))) === null) await this.#upsertWholeTable(table, [], 'true');
      }
    });
  }

  /** Source key → ETag of the latest ledger row of every object in the filter's systems and days. */
  ledgerEtags(filter: LedgerFilter): Promise<Map<string, string>> {
    return this.#serial(async () => {
      await this.#syncLedger();
      return this.#index.etags(filter);
    });
  }

  /** Merges rows into `pv_systems.parquet` by `ss_id` (new rows win) and replaces it with one PUT. */
  upsertSystems(rows: readonly SystemRow[]): Promise<void> {
    return this.#serial(() => this.#upsertWholeTable(PV_SYSTEMS, rows));
  }

  /** Merges rows into `pv_sensors.parquet` by `(ss_id, sensor)` (new rows win) and replaces it with one PUT. */
  upsertSensors(rows: readonly SensorEntry[]): Promise<void> {
    return this.#serial(() => this.#upsertWholeTable(PV_SENSORS, rows));
  }

  /** Merges a finished run into `pv_runs.parquet` by `run_id`. */
  recordRun(run: RunRow): Promise<void> {
    return this.#serial(() => this.#upsertWholeTable(PV_RUNS, [run]));
  }

  /** Replaces a derived table's slice with `rows` (one PUT of its whole file). */
  replaceDerived(table: TableDef, rows: readonly object[], slice: DerivedSlice): Promise<void> {
    return this.#serial(async () => {
      const keep =
        slice.ssIds.length === 0
          ? 'true'
          : `NOT (e.ss_id IN (${slice.ssIds.map(Number).join(', ')}) AND e."day" BETWEEN DATE ${sqlString(slice.from)} AND DATE ${sqlString(slice.to)})`;
      await this.#upsertWholeTable(table, rows, keep);
    });
  }

  /**
   * Uploads a new readings file per object of the batch (unless a worker placed
   * it), rewrites the files of objects that lose readings to it, then uploads
   * the batch's ledger file: until that PUT, nothing of the batch is referenced.
   *
   * @returns `rows`: rows the batch's objects hold; `replaced`: rows of the files they replace or trim.
   * @throws BadInputError naming the object when a manifest, its staged file or
   *   its placed file is unusable; nothing of the batch is then referenced.
   */
  commit(batch: readonly StagedManifest[], runId: string): Promise<CommitResult> {
    return this.#serial(async () => {
      assertNamedStagedFiles(this.url, batch);
      const byKey = lastManifestPerKey(batch);
      if (byKey.size === 0) return { rows: 0, replaced: 0 };
      await this.#syncLedger();
      const scratch = await mkdtemp(path.join(await this.#workDir(), 'commit-'));
      try {
        const placed = await this.#placedSizes([...byKey.values()]);
        const plans = await mapConcurrent([...byKey.values()], this.#concurrency, (m) =>
          this.#prepare(m, scratch, placed),
        );
        const trims = await this.#trimOverlaps(plans, new Set(byKey.keys()), scratch);
        this.#o.onCommitStep?.('files-written');

        // every new file under a name of its own: referenced by nothing yet
        const uploads = [
          ...plans.filter((p) => p.local && !p.remote).map((p) => ({ item: p, m: p.manifest as StagedManifest })),
          ...trims
            .filter((t) => t.local)
            .map((t) => ({ item: t, m: { key: t.entry.key, ss_id: t.entry.ssId, day: t.entry.day } })),
        ];
        await mapConcurrent(uploads, this.#concurrency, async ({ item, m }) => {
          const key = readingsFileKey(m);
          await this.bucket.put(key, item.local!);
          item.remote = key;
        });
        this.#o.onCommitStep?.('files-uploaded');

        const loadedAt = this.#clock.next(this.#index.latestLoadedAtUs);
        const local = path.join(scratch, 'ledger.parquet');
        await this.#writeLedgerFile(plans, trims, runId, loadedAt, local, scratch);
        const key = ledgerFileKey(loadedAt, runId, [...byKey.keys()].sort());
        await this.bucket.put(key, local);
        // the sink's own copy, so that the next commit need not download it
        await rename(local, path.join(await this.#ledgerDir(), path.posix.basename(key)));
        this.#o.onCommitStep?.('ledger-written');
        return {
          rows: plans.reduce((n, p) => n + p.rows, 0),
          replaced: plans.reduce((n, p) => n + p.replaced, 0) + trims.reduce((n, t) => n + t.removed, 0),
        };
      } finally {
        await rm(scratch, { recursive: true, force: true });
      }
    });
  }

  /**
   * A reader over the dataset as its latest ledger rows say: the files they
   * reference and the whole-table files, copied to a folder of the reader's
   * own (removed when it closes) at the time it opens, then read
   * by an in-memory DuckDB. For a large dataset, read it in place with the
   * read recipe instead.
   */
  openReader(options: ReaderOptions = {}): Promise<WarehouseReader> {
    return this.#serial(async () => {
      await this.#syncLedger();
      const work = await this.#workDir();
      // the reader's own copies, removed when it closes: the work folder does not grow with readers
      const snapshot = await mkdtemp(path.join(work, 'reader-'));
      const files = new Map<TableDef, string[]>();
      try {
        const referenced: string[] = [];
        for (const e of this.#index.all()) if (e.file) referenced.push(e.file);
        files.set(
          PV_READINGS,
          await mapConcurrent(referenced.sort(), this.#concurrency, (f) => this.#localCopy(f, snapshot)),
        );
        files.set(
          PV_INGEST_LEDGER,
          (await this.#ledgerFiles()).map((n) => path.join(work, 'ledger', n)),
        );
        for (const table of WHOLE_TABLES) {
          const copy = await this.#tableCopy(table, snapshot);
          files.set(table, copy ? [copy] : []);
        }
      } catch (err) {
        await rm(snapshot, { recursive: true, force: true });
        throw err;
      }
      return openDatasetReader({
        url: this.url,
        tables: [PV_READINGS, PV_INGEST_LEDGER, ...WHOLE_TABLES],
        dir: (t) => path.join(work, t.name),
        files: (t) => files.get(t) ?? [],
        memoryLimit: options.memoryLimit ?? this.#memoryLimit,
        threads: this.#o.threads,
        spillDir: path.join(work, 'spill'),
        onClose: () => rm(snapshot, { recursive: true, force: true }),
      });
    });
  }

  /**
   * Deletes the readings files no latest ledger row references, once they
   * have been unreferenced for longer than `olderThanMs`: a file a later
   * commit replaced counts from that commit (a reader may still read the
   * ledger it resolved before), a file no ledger row ever named (a crash, a
   * failed batch, a redone transform, a placed file whose batch is on its way)
   * from its upload. Ledger and whole-table files are kept.
   */
  vacuum(options: VacuumOptions = {}): Promise<VacuumResult> {
    return this.#serial(async () => {
      await this.#syncLedger();
      const referenced = new Set<string>();
      for (const e of this.#index.all()) if (e.file) referenced.add(e.file);
      const replacedAt = await this.#replacementTimes();
      const cutoffMs = (options.now ?? Date.now()) - (options.olderThanMs ?? DEFAULT_VACUUM_AGE_MS);
      const listed = await this.bucket.list(tableFolder(PV_READINGS));
      const unreferenced = listed.filter((o) => !referenced.has(o.key));
      const old = unreferenced.filter((o) => (replacedAt.get(o.key) ?? o.lastModified.getTime()) <= cutoffMs);
      if (!options.dryRun) await this.bucket.delete(old.map((o) => o.key));
      return {
        files: listed.length,
        referenced: listed.length - unreferenced.length,
        deleted: old.map((o) => o.key),
        deletedBytes: old.reduce((n, o) => n + o.size, 0),
        keptRecent: unreferenced.length - old.length,
      };
    });
  }

  /** File → when a later ledger row of its object replaced the row naming it (epoch ms), from the whole ledger. */
  async #replacementTimes(): Promise<Map<string, number>> {
    const dir = await this.#ledgerDir();
    const files = await this.#ledgerFiles();
    const out = new Map<string, number>();
    if (files.length === 0) return out;
    const list = files.map((n) => sqlString(path.join(dir, n))).join(', ');
    const reader = await (await this.#db()).conn.runAndReadAll(
      `SELECT file, max(epoch_ms(replaced_at)) FROM (
         SELECT file, lead(loaded_at) OVER (PARTITION BY source_key ORDER BY loaded_at) AS replaced_at
         FROM read_parquet([${list}], union_by_name = true)
       ) WHERE file IS NOT NULL AND replaced_at IS NOT NULL GROUP BY file`,
    );
    for (const [file, ms] of reader.getRowsJS()) out.set(String(file), Number(ms));
    return out;
  }

  /** Waits for pending calls, closes DuckDB and removes the work folder. Idempotent. */
  close(): Promise<void> {
    return this.#serial(async () => {
      const engine = this.#engine;
      this.#engine = null;
      if (engine) {
        const { conn, instance } = await engine.catch(() => ({ conn: null, instance: null }));
        conn?.closeSync();
        instance?.closeSync();
      }
      if (this.#work) await rm(this.#work, { recursive: true, force: true });
      this.#work = null;
      this.#ledger = null;
      this.#lastLedger = undefined;
    });
  }

  // ── internals ──────────────────────────────────────────────────────────────

  get #concurrency(): number {
    return this.#o.concurrency ?? 16;
  }

  get #memoryLimit(): string {
    return this.#o.memoryLimit ?? '256MB';
  }

  get #index(): LedgerIndex {
    if (!this.#ledger) throw new Error('the ledger was not read');
    return this.#ledger;
  }

  #serial<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.#queue.then(fn, fn);
    this.#queue = run.catch(() => undefined);
    return run;
  }

  async #workDir(): Promise<string> {
    if (!this.#work) {
      const parent = this.#o.workDir ?? tmpdir();
      await mkdir(parent, { recursive: true });
      this.#work = await mkdtemp(path.join(parent, 'pv-parquet-s3-'));
    }
    return this.#work;
  }

  async #ledgerDir(): Promise<string> {
    const dir = path.join(await this.#workDir(), 'ledger');
    await mkdir(dir, { recursive: true });
    return dir;
  }

  async #ledgerFiles(): Promise<string[]> {
    return (await readdir(await this.#ledgerDir())).filter(isLedgerFile).sort();
  }

  #db(): Promise<MemoryEngine> {
    if (!this.#engine) {
      this.#engine = this.#workDir().then((work) =>
        openMemoryEngine({
          memoryLimit: this.#memoryLimit,
          spillDir: path.join(work, 'spill'),
          threads: this.#o.threads,
        }),
      );
      this.#engine.catch(() => {
        this.#engine = null;
      });
    }
    return this.#engine;
  }

  /** Copies the ledger files committed since the last look (by anyone) and reads them into the index. */
  async #syncLedger(): Promise<void> {
    const dir = await this.#ledgerDir();
    this.#ledger ??= new LedgerIndex(dir);
    const after = this.#lastLedger ? `${tableFolder(PV_INGEST_LEDGER)}${this.#lastLedger}` : undefined;
    const fresh = (await this.bucket.list(tableFolder(PV_INGEST_LEDGER), after)).filter((o) =>
      isLedgerFile(path.posix.basename(o.key)),
    );
    await mapConcurrent(fresh, this.#concurrency, async (o) => {
      const file = path.join(dir, path.posix.basename(o.key));
      if (!(await exists(file))) await this.bucket.get(o.key, file);
    });
    const names = await this.#ledgerFiles();
    this.#lastLedger = names.at(-1);
    await this.#ledger.refresh((await this.#db()).conn);
  }

  /** A local copy of a readings file of the dataset in `dir` (made once there: files never change under their name). */
  async #localCopy(key: string, dir: string): Promise<string> {
    const file = path.join(dir, ...key.split('/'));
    if (!(await exists(file))) await this.bucket.get(key, file);
    return file;
  }

  /** A fresh local copy of a whole-table file, or null when the dataset has none. */
  async #tableCopy(table: TableDef, dir: string): Promise<string | null> {
    const key = tableFileKey(table);
    if ((await this.bucket.size(key)) === null) return null;
    const file = path.join(dir, `${table.name}.parquet`);
    await this.bucket.get(key, file);
    return file;
  }

  #scratchFile(scratch: string): string {
    return path.join(scratch, `f${++this.#seq}.parquet`);
  }

  /**
   * The sizes of the files placed in the dataset for a batch, by key: one
   * listing per partition folder (a batch's objects share few), not a
   * request per object.
   */
  async #placedSizes(batch: readonly StagedManifest[]): Promise<Map<string, number>> {
    const folders = new Set<string>();
    for (const m of batch) {
      const key = m.placed && m.staged ? this.bucket.keyOf(m.staged) : null;
      if (key !== null) folders.add(key.slice(0, key.lastIndexOf('/') + 1));
    }
    const sizes = new Map<string, number>();
    await mapConcurrent([...folders], this.#concurrency, async (folder) => {
      for (const o of await this.bucket.list(folder)) sizes.set(o.key, o.size);
    });
    return sizes;
  }

  /** What one object commits: its new rows as a local file, or its placed file after a size check. */
  async #prepare(m: StagedManifest, scratch: string, placedSizes: ReadonlyMap<string, number>): Promise<ObjectPlan> {
    const previous = this.#index.get(m.ss_id, m.key);
    const replaced = previous?.file ? (previous.fileRows ?? previous.rows) : 0;
    if (m.rows === 0) return { manifest: m, local: null, remote: null, rows: 0, replaced };
    const staged = m.staged!;
    if (m.placed) {
      const key = this.bucket.keyOf(staged);
      if (key === null) throw new BadInputError(m.key, `placed file ${staged} is not in ${this.url}`);
      const size = placedSizes.get(key);
      if (size === undefined) throw new BadInputError(m.key, `placed file ${staged} is missing`);
      if (size !== m.bytes) {
        throw new BadInputError(m.key, `placed file ${staged} has ${size} bytes, its manifest says ${m.bytes}`);
      }
      return { manifest: m, local: null, remote: key, rows: m.rows, replaced };
    }
    if (!(await exists(staged))) throw new BadInputError(m.key, `staged file ${staged} is missing`);
    const { conn } = await this.#db();
    if (m.layout === 'pv_readings') {
      // already a readings file: checked, then uploaded as it is
      await checkReadingsFile(conn, m, staged);
      return { manifest: m, local: staged, remote: null, rows: m.rows, replaced };
    }
    const out = this.#scratchFile(scratch);
    const rows = await writeReadingsFile(conn, m, staged, out);
    if (rows !== m.rows)
      throw new BadInputError(m.key, `staged file ${staged} has ${rows} rows, its manifest says ${m.rows}`);
    return { manifest: m, local: out, remote: null, rows, replaced };
  }

  /** A local file of a plan's rows (a placed file is copied down only when it must be read). */
  async #planFile(p: ObjectPlan, scratch: string): Promise<string> {
    return p.local ?? this.#localCopy(p.remote!, scratch);
  }

  /**
   * Readings two objects deliver: as the local sink does (parquet-sink.ts), an
   * object of the batch loses those a stronger object of the batch delivers,
   * and committed objects lose those the batch delivers (or keep them, when
   * later in the same file); a committed object's new file comes with a new
   * ledger row.
   */
  async #trimOverlaps(plans: ObjectPlan[], batchKeys: ReadonlySet<string>, scratch: string): Promise<TrimPlan[]> {
    const hasRows = (p: ObjectPlan) =>
      p.rows > 0 && p.manifest.minTimestamp !== null && p.manifest.maxTimestamp !== null;
    const withRows = plans.filter(hasRows);
    if (withRows.length === 0) return [];
    const { conn } = await this.#db();
    const overlaps = (a: StagedManifest, b: StagedManifest) =>
      a.ss_id === b.ss_id &&
      BigInt(a.minTimestamp!) <= BigInt(b.maxTimestamp!) &&
      BigInt(a.maxTimestamp!) >= BigInt(b.minTimestamp!);
    const dropKeys = async (p: ObjectPlan, files: string[]) => {
      if (files.length === 0 || p.rows === 0) return;
      const out = this.#scratchFile(scratch);
      const rows = await writeWithout(conn, await this.#planFile(p, scratch), files, out);
      p.local = rows === 0 ? null : out;
      p.remote = null;
      p.rows = rows;
    };
    const precedence = batchPrecedence(withRows.map((p) => p.manifest));
    for (let i = 0; i < withRows.length; i++) {
      const a = withRows[i]!;
      const stronger = withRows.filter(
        (b, j) => j !== i && b.rows > 0 && outranks(precedence[j]!, precedence[i]!) && overlaps(a.manifest, b.manifest),
      );
      await dropKeys(a, await Promise.all(stronger.map((b) => this.#planFile(b, scratch))));
    }
    const others = new Map<string, { entry: LedgerEntry; losers: ObjectPlan[] }>();
    for (const p of withRows.filter((x) => x.rows > 0)) {
      const lo = BigInt(p.manifest.minTimestamp!);
      const hi = BigInt(p.manifest.maxTimestamp!);
      const keptBy: string[] = [];
      for (const e of this.#index.entriesOf(p.manifest.ss_id)) {
        if (!e.file || batchKeys.has(e.key)) continue;
        // ledger ranges are kept to the millisecond: widen by one
        if (!(e.minUs === null || e.maxUs === null || (e.minUs <= hi && e.maxUs + 1000n >= lo))) continue;
        if (committedKeeps(e, p.manifest)) keptBy.push(await this.#localCopy(e.file, scratch));
        else {
          const o = others.get(e.key) ?? { entry: e, losers: [] };
          o.losers.push(p);
          others.set(e.key, o);
        }
      }
      await dropKeys(p, keptBy);
    }
    const trims: TrimPlan[] = [];
    for (const { entry: e, losers } of others.values()) {
      const against = await Promise.all(losers.filter((p) => p.rows > 0).map((p) => this.#planFile(p, scratch)));
      if (against.length === 0) continue;
      const before = e.fileRows ?? e.rows;
      const out = this.#scratchFile(scratch);
      const rows = await writeWithout(conn, await this.#localCopy(e.file!, scratch), against, out);
      if (rows === before) continue;
      trims.push({ entry: e, local: rows === 0 ? null : out, remote: null, rows, removed: before - rows });
    }
    return trims;
  }

  /**
   * The batch's ledger file: a row per object of the batch, then, for each
   * committed object that lost readings, its latest row again with its new
   * file (all else as it was, `loaded_at` but for).
   */
  async #writeLedgerFile(
    plans: readonly ObjectPlan[],
    trims: readonly TrimPlan[],
    runId: string,
    loadedAt: string,
    out: string,
    scratch: string,
  ): Promise<void> {
    const { conn } = await this.#db();
    const rows = plans.map((p) => ({
      ...ledgerFieldsOf(p.manifest),
      rows: p.rows,
      run_id: runId,
      loaded_at: loadedAt,
      min_timestamp: usToIso(p.manifest.minTimestamp),
      max_timestamp: usToIso(p.manifest.maxTimestamp),
      file: p.remote,
      file_rows: p.remote ? p.rows : null,
    }));
    const target = trims.length === 0 ? out : this.#scratchFile(scratch);
    await writeTableFile(conn, OBJECT_LEDGER, rows, target, null, target);
    if (trims.length === 0) return;
    const dir = await this.#ledgerDir();
    const ledgers = (await this.#ledgerFiles()).map((n) => sqlString(path.join(dir, n))).join(', ');
    const values = trims
      .map(
        (t) => `(${sqlString(t.entry.key)}, ${t.remote ? sqlString(t.remote) : 'NULL'}, ${t.remote ? t.rows : 'NULL'})`,
      )
      .join(', ');
    const cols = OBJECT_LEDGER.columns.map((c) => quoteIdent(c.name)).join(', ');
    await conn.run(
      `COPY (
         SELECT ${cols} FROM read_parquet(${sqlString(target)})
         UNION ALL BY NAME
         SELECT l.* REPLACE (CAST(${sqlString(loadedAt)} AS ${duckdbType('TIMESTAMP')}) AS loaded_at),
                CAST(t.f AS VARCHAR) AS file, CAST(t.r AS BIGINT) AS file_rows
         FROM (SELECT * EXCLUDE (file, file_rows) FROM read_parquet([${ledgers}], union_by_name = true)
               QUALIFY row_number() OVER (PARTITION BY source_key ORDER BY loaded_at DESC) = 1) l
         JOIN (VALUES ${values}) t(k, f, r) ON l.source_key = t.k
       ) TO ${sqlString(out)} (FORMAT parquet, COMPRESSION zstd)`,
    );
  }

  /** Upsert of a whole-table file: the stored file merged with the new rows (the new win), one PUT. */
  async #upsertWholeTable(table: TableDef, rows: readonly object[], keepOld?: string): Promise<void> {
    if (rows.length === 0 && keepOld === undefined) return;
    const byKey = new Map<string, object>();
    for (const r of rows) byKey.set(JSON.stringify(table.key.map((k) => field(r, k))), r);
    const scratch = await mkdtemp(path.join(await this.#workDir(), 'table-'));
    try {
      const mergeFrom = await this.#tableCopy(table, scratch);
      const out = path.join(scratch, 'new.parquet');
      await writeTableFile((await this.#db()).conn, table, [...byKey.values()], out, mergeFrom, out, keepOld);
      await this.bucket.put(tableFileKey(table), out);
    } finally {
      await rm(scratch, { recursive: true, force: true });
    }
  }
}

/** Unreferenced files younger than this are kept by default: a day. */
export const DEFAULT_VACUUM_AGE_MS = 24 * 3600 * 1000;

/** Options of {@link ObjectParquetSink.vacuum}. */
export interface VacuumOptions {
  /** Only unreferenced files older than this are deleted. @defaultValue {@link DEFAULT_VACUUM_AGE_MS} */
  olderThanMs?: number;
  /** Report what would be deleted, delete nothing. @defaultValue false */
  dryRun?: boolean;
  /** The current time, epoch ms. @defaultValue `Date.now()` */
  now?: number;
}

/** What a vacuum found and did. */
export interface VacuumResult {
  /** Readings files listed. */
  files: number;
  /** Of them, referenced by a latest ledger row. */
  referenced: number;
  /** Keys deleted (or, in a dry run, that would be). */
  deleted: string[];
  deletedBytes: number;
  /** Unreferenced files kept because they are younger than the age limit. */
  keptRecent: number;
}

/** Lenient S3-compatible bucket names: lowercase letters, digits, `.`, `-`, `_`, 3–63 characters. */
const BUCKET = /^[a-z0-9][a-z0-9._-]{1,61}[a-z0-9]$/;

/** How an object-storage dataset is reached besides its URL: the source's endpoint and region. */
export interface ObjectStorageAccess {
  /** S3-compatible endpoint (path-style); AWS when absent. @defaultValue AWS S3 */
  s3Endpoint?: string;
  /** Region. @defaultValue `AWS_REGION`, else `us-west-2` */
  region?: string;
}

/**
 * Opens a Parquet dataset on object storage from its URL:
 * `parquet+s3://bucket/prefix?memory_limit=256MB&threads=N`, with the endpoint
 * and region of the source (`S3_ENDPOINT`, `--s3-endpoint`) and the AWS
 * credential chain. Call `init()` before use.
 *
 * @param from where the URL came from (`--sink`, `PV_SINK`), named in errors
 */
export function openObjectParquetSink(
  url: string,
  access: ObjectStorageAccess = {},
  from: SinkUrlSource = '--sink',
): ObjectParquetSink {
  const usage = 'parquet+s3://BUCKET/PREFIX?memory_limit=256MB&threads=N';
  const p = parseSinkUrl(url, 'parquet+s3', ['memory_limit', 'threads'], usage, from);
  const [bucket = '', ...rest] = p.body.split('/');
  if (bucket.includes('@')) {
    throw new BadInputError(from, 'credentials must not be put in the sink URL (use the AWS environment or config)');
  }
  if (!BUCKET.test(bucket)) {
    throw new BadInputError(
      from,
      `"${bucket}" is not a valid bucket name (3–63 lowercase letters, digits, ".", "-", "_"; ${usage})`,
    );
  }
  const prefix = rest.join('/').replace(/^\/+|\/+$/g, '');
  if (prefix.split('/').includes('') && prefix !== '') {
    throw new BadInputError(from, `the prefix "${prefix}" has an empty path segment ("//")`);
  }
  const threads = threadsParam(p, from);
  const memoryLimit = memoryLimitParam(p, from);
  return new ObjectParquetSink({
    bucket,
    prefix,
    url: `parquet+s3://${bucket}${prefix ? `/${prefix}` : ''}`,
    ...(access.s3Endpoint ? { endpoint: access.s3Endpoint } : {}),
    ...(access.region ? { region: access.region } : {}),
    ...(threads ? { threads } : {}),
    ...(memoryLimit ? { memoryLimit } : {}),
  });
}
