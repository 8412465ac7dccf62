import { readdir } from 'node:fs/promises';
import path from 'node:path';
import type { DuckDBConnection } from '@duckdb/node-api';
import { BadInputError } from '@pv-pipeline/core';
import type { LedgerFilter } from '../sink.js';
import { sqlString } from '../sql-literal.js';
import { DAY } from './staged-objects.js';

/** Whether a file of the ledger folder is a ledger file (one per committed batch, `ledger-<id>.parquet`). */
export function isLedgerFile(name: string): boolean {
  return name.startsWith('ledger-') && name.endsWith('.parquet');
}

/** The latest ledger row of a source key: where its file is, what time range it holds, its group. */
export interface LedgerEntry {
  key: string;
  ssId: number;
  day: string;
  etag: string;
  rows: number;
  loadedAtUs: bigint;
  minUs: bigint | null;
  maxUs: bigint | null;
  /** Its group and order within it (precedence.ts); null for ledgers written before they existed. */
  group: string | null;
  order: number | null;
  /** Its readings file, relative to the dataset root (datasets on object storage); null without rows or before. */
  file: string | null;
  /** Rows of that file, fewer than `rows` once later objects took some of its keys; null: `rows`. */
  fileRows: number | null;
}

/** Checks a ledger filter: days as `YYYY-MM-DD`, systems as integers. */
function checkLedgerFilter(filter: LedgerFilter): void {
  for (const d of [filter.from, filter.to]) {
    if (!DAY.test(d)) throw new BadInputError('ledger filter', `day "${d}" is not YYYY-MM-DD`);
  }
  if (filter.ssIds === 'all') return;
  for (const id of filter.ssIds) {
    if (!Number.isSafeInteger(id)) throw new BadInputError('ledger filter', `ss_id ${id} is not an integer`);
  }
}

/**
 * The dataset's ledger in memory, by system: the latest row of every source
 * key. The ledger is append-only (a file per committed batch), so each file is
 * read once, those of another writer included.
 */
export class LedgerIndex {
  readonly #dir: string;
  readonly #bySystem = new Map<number, Map<string, LedgerEntry>>();
  readonly #read = new Set<string>();
  #latestUs = 0n;

  /** @param dir the ledger folder */
  constructor(dir: string) {
    this.#dir = dir;
  }

  /** The latest entries of one system. */
  entriesOf(ssId: number): Iterable<LedgerEntry> {
    return this.#bySystem.get(ssId)?.values() ?? [];
  }

  /** The latest `loaded_at` of every row read, epoch µs (0 when none). */
  get latestLoadedAtUs(): bigint {
    return this.#latestUs;
  }

  /** The latest entries of every system. */
  *all(): Iterable<LedgerEntry> {
    for (const bySystem of this.#bySystem.values()) yield* bySystem.values();
  }

  /** The latest entry of one object, if any. */
  get(ssId: number, key: string): LedgerEntry | undefined {
    return this.#bySystem.get(ssId)?.get(key);
  }

  /**
   * Source key → ETag of the latest ledger row of every object in the
   * filter's systems and days (inclusive), from the files read so far (call
   * {@link refresh} first). Empty when nothing was committed yet.
   */
  etags(filter: LedgerFilter): Map<string, string> {
    checkLedgerFilter(filter);
    const out = new Map<string, string>();
    const systems = filter.ssIds === 'all' ? [...this.#bySystem.keys()] : filter.ssIds;
    for (const id of systems) {
      for (const e of this.entriesOf(id)) if (e.day >= filter.from && e.day <= filter.to) out.set(e.key, e.etag);
    }
    return out;
  }

  /** Reads the ledger files not read before. */
  async refresh(conn: DuckDBConnection): Promise<void> {
    const dir = this.#dir;
    const fresh = (await readdir(dir).catch(() => [] as string[]))
      .filter((n) => isLedgerFile(n) && !this.#read.has(n))
      .sort();
    if (fresh.length === 0) return;
    const list = fresh.map((n) => sqlString(path.join(dir, n))).join(', ');
    const scan = `read_parquet([${list}], union_by_name = true)`;
    // ledger files written before the precedence columns existed lack them
    const have = new Set(
      (await conn.runAndReadAll(`DESCRIBE SELECT * FROM ${scan}`)).getRowObjectsJS().map((r) => String(r.column_name)),
    );
    const opt = (c: string, type: string) => (have.has(c) ? c : `CAST(NULL AS ${type})`);
    const reader = await conn.runAndReadAll(
      `SELECT source_key, ss_id, strftime("day", '%Y-%m-%d'), etag, "rows", epoch_us(loaded_at),
              epoch_us(min_timestamp), epoch_us(max_timestamp), ${opt('source_group', 'VARCHAR')}, ${opt('source_order', 'BIGINT')},
              ${opt('file', 'VARCHAR')}, ${opt('file_rows', 'BIGINT')}
       FROM ${scan}`,
    );
    for (const [key, ssId, day, etag, rows, loadedAt, lo, hi, group, order, file, fileRows] of reader.getRowsJS()) {
      const e: LedgerEntry = {
        key: String(key),
        ssId: Number(ssId),
        day: String(day),
        etag: String(etag),
        rows: Number(rows),
        loadedAtUs: BigInt(loadedAt as bigint),
        minUs: lo === null ? null : BigInt(lo as bigint),
        maxUs: hi === null ? null : BigInt(hi as bigint),
        group: group === null ? null : String(group),
        order: order === null ? null : Number(order),
        file: file === null ? null : String(file),
        fileRows: fileRows === null ? null : Number(fileRows),
      };
      if (e.loadedAtUs > this.#latestUs) this.#latestUs = e.loadedAtUs;
      let bySystem = this.#bySystem.get(e.ssId);
      if (!bySystem) this.#bySystem.set(e.ssId, (bySystem = new Map()));
      const known = bySystem.get(e.key);
      if (!known || known.loadedAtUs < e.loadedAtUs) bySystem.set(e.key, e);
    }
    for (const n of fresh) this.#read.add(n);
  }
}
