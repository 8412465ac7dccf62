import { Readable } from 'node:stream';
import type { ObjectInfo } from '@pv-pipeline/core';
import { type ObjectStore, pvdataRootPrefix } from '@pv-pipeline/pvdaq';

/** The shape of a {@link SyntheticStore}'s archive. */
export interface SyntheticArchive {
  /** Systems, numbered from 1. */
  systems: number;
  /** Daily objects per system, one per day from `firstDay`. */
  daysPerSystem: number;
  /** @defaultValue '2015-01-01' */
  firstDay?: string;
}

const DAY_MS = 86_400_000;

/**
 * A test double of the ObjectStore interface only: a daily-Parquet archive of
 * `systems × daysPerSystem` keys in the exact PVDAQ layout, generated on the
 * fly (nothing is held), so that planning can be driven over a million keys.
 * Its objects cannot be read: planning lists, it never reads.
 */
export class SyntheticStore implements ObjectStore {
  readonly url = 'synthetic://pvdaq';
  readonly #archive: Required<SyntheticArchive>;
  /** LIST calls served, for the figures. */
  listCalls = 0;

  constructor(archive: SyntheticArchive) {
    this.#archive = { firstDay: '2015-01-01', ...archive };
  }

  /** How many keys the archive has. */
  get size(): number {
    return this.#archive.systems * this.#archive.daysPerSystem;
  }

  /** The archive's last day. */
  get lastDay(): string {
    const t = Date.parse(`${this.#archive.firstDay}T00:00:00Z`) + (this.#archive.daysPerSystem - 1) * DAY_MS;
    return new Date(t).toISOString().slice(0, 10);
  }

  async *listObjects(prefix: string): AsyncIterable<ObjectInfo> {
    this.listCalls++;
    const m = /^parquet\/pvdata\/system_id=(\d+)\/(?:year=(\d{4})\/(?:month=(\d{1,2})\/)?)?$/.exec(prefix);
    if (!m) return;
    const ssId = Number(m[1]);
    if (ssId < 1 || ssId > this.#archive.systems) return;
    const first = Date.parse(`${this.#archive.firstDay}T00:00:00Z`);
    const out: ObjectInfo[] = [];
    for (let i = 0; i < this.#archive.daysPerSystem; i++) {
      const d = new Date(first + i * DAY_MS);
      const y = d.getUTCFullYear();
      const mo = d.getUTCMonth() + 1;
      if (m[2] && y !== Number(m[2])) continue;
      if (m[3] && mo !== Number(m[3])) continue;
      const day = d.getUTCDate();
      const iso = d.toISOString().slice(0, 10).replace(/-/g, '_');
      out.push({
        key: `parquet/pvdata/system_id=${ssId}/year=${y}/month=${mo}/day=${day}/system_${ssId}__date_${iso}.snappy.000.parquet`,
        etag: `"${ssId.toString(16)}${(i + 1).toString(16).padStart(8, '0')}"`,
        size: 40_000,
      });
    }
    // key order, as S3 lists (day=10 before day=2)
    out.sort((a, b) => (a.key < b.key ? -1 : 1));
    yield* out;
  }

  async listChildren(prefix: string): Promise<{ prefixes: string[]; objects: ObjectInfo[] }> {
    this.listCalls++;
    if (prefix !== pvdataRootPrefix('parquet')) return { prefixes: [], objects: [] };
    const prefixes = Array.from({ length: this.#archive.systems }, (_, i) => `${prefix}system_id=${i + 1}/`);
    return { prefixes, objects: [] };
  }

  async head(): Promise<ObjectInfo | null> {
    return null;
  }

  async getStream(key: string): Promise<Readable> {
    return Readable.from([]).destroy(new Error(`${key}: a synthetic object has no bytes`));
  }

  async getBytes(key: string): Promise<Uint8Array> {
    throw new Error(`${key}: a synthetic object has no bytes`);
  }

  async close(): Promise<void> {}
}
