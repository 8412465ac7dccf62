import { BadInputError, describeError, type Logger } from '@pv-pipeline/core';
import { METADATA_TABLE_PREFIXES, metricsKey, newestSystemsIndexKey, SYSTEMS_INDEX_PREFIX } from './layout.js';
import { type MetricsDictionary, readMetricsDictionary } from './metrics-dictionary.js';
import type { ObjectStore } from './object-store.js';
import { decodeParquet, tableToObjects } from './parquet-decode.js';
import { mergeSystemRow, type SystemRow } from './system-row.js';
import { type IndexRow, readSystemsIndex } from './systems-index.js';
import { parseTimeZone, type TimeZoneSpec } from './time-zone.js';

/** Options of {@link SystemCatalog.load}. */
export interface SystemCatalogOptions {
  /** Largest metadata object read, bytes. Default 64 MiB. */
  maxObjectBytes?: number;
  logger?: Logger;
}

/**
 * What the pipeline knows about systems: the newest systems index, the
 * site / system / mount tables and (lazily) each system's metrics dictionary.
 * Missing or unreadable metadata is logged and left out; it only fails the
 * objects that need it.
 */
export class SystemCatalog {
  /** The systems index key used, or null when none was found. */
  readonly indexKey: string | null;
  /** Problems met while loading metadata (each names the object). */
  readonly warnings: string[];
  readonly #rows: Map<number, SystemRow>;
  readonly #store: ObjectStore;
  readonly #maxBytes: number;
  readonly #dictionaries = new Map<number, Promise<MetricsDictionary>>();

  private constructor(
    store: ObjectStore,
    indexKey: string | null,
    rows: Map<number, SystemRow>,
    warnings: string[],
    maxBytes: number,
  ) {
    this.#store = store;
    this.indexKey = indexKey;
    this.#rows = rows;
    this.warnings = warnings;
    this.#maxBytes = maxBytes;
  }

  /** Reads the systems index and metadata tables under the store's root. */
  static async load(store: ObjectStore, options: SystemCatalogOptions = {}): Promise<SystemCatalog> {
    const maxBytes = options.maxObjectBytes ?? 64 * 1024 * 1024;
    const warnings: string[] = [];
    const warn = (msg: string) => {
      warnings.push(msg);
      options.logger?.warn({ msg: 'metadata problem', detail: msg });
    };

    const { objects } = await store.listChildren(SYSTEMS_INDEX_PREFIX);
    const indexKey = newestSystemsIndexKey(objects.map((o) => o.key));
    const indexRows = new Map<number, IndexRow[]>();
    if (indexKey) {
      try {
        for (const row of readSystemsIndex(indexKey, await store.getBytes(indexKey, { maxBytes }))) {
          const id = Number(row.system_id);
          const list = indexRows.get(id) ?? [];
          list.push(row);
          indexRows.set(id, list);
        }
      } catch (err) {
        warn(describeError(err));
      }
    } else {
      warn(`no systems index (systems_YYYYMMDD.csv or systems.csv) under ${store.url}/${SYSTEMS_INDEX_PREFIX}`);
    }

    const tables: Record<keyof typeof METADATA_TABLE_PREFIXES, Map<number, Record<string, unknown>>> = {
      site: new Map(),
      system: new Map(),
      mount: new Map(),
    };
    for (const [name, prefix] of Object.entries(METADATA_TABLE_PREFIXES) as Array<[keyof typeof tables, string]>) {
      for await (const obj of store.listObjects(prefix)) {
        if (!obj.key.endsWith('.parquet')) continue;
        try {
          const rows = tableToObjects(decodeParquet(obj.key, await store.getBytes(obj.key, { maxBytes })));
          for (const row of rows) {
            const id = Number(row.system_id);
            // first row per system wins (mount: the first orientation)
            if (Number.isInteger(id) && !tables[name].has(id)) tables[name].set(id, row);
          }
        } catch (err) {
          warn(describeError(err));
        }
      }
    }

    const ids = new Set<number>([...indexRows.keys(), ...tables.system.keys(), ...tables.site.keys()]);
    const rows = new Map<number, SystemRow>();
    for (const id of [...ids].sort((a, b) => a - b)) {
      rows.set(
        id,
        mergeSystemRow({
          ssId: id,
          index: indexRows.get(id) ?? [],
          ...(tables.site.has(id) ? { site: tables.site.get(id)! } : {}),
          ...(tables.system.has(id) ? { system: tables.system.get(id)! } : {}),
          ...(tables.mount.has(id) ? { mount: tables.mount.get(id)! } : {}),
        }),
      );
    }
    return new SystemCatalog(store, indexKey, rows, warnings, maxBytes);
  }

  /** Every known system, by id. */
  systems(): SystemRow[] {
    return [...this.#rows.values()];
  }

  /** One system's row, if known. */
  system(ssId: number): SystemRow | undefined {
    return this.#rows.get(ssId);
  }

  /**
   * The system's time zone, or null when the index gives none. An unparseable
   * zone is a BadInputError naming the system.
   */
  zone(ssId: number): TimeZoneSpec | null {
    const tz = this.#rows.get(ssId)?.timezone;
    return tz ? parseTimeZone(tz, `${this.indexKey ?? 'systems index'}: system ${ssId} timezone_or_utc_offset`) : null;
  }

  /** The system's metrics dictionary (read once, then cached). */
  dictionary(ssId: number): Promise<MetricsDictionary> {
    let p = this.#dictionaries.get(ssId);
    if (!p) {
      p = this.#readDictionary(ssId);
      this.#dictionaries.set(ssId, p);
      // a transient failure must not stick in the cache
      p.catch(() => this.#dictionaries.delete(ssId));
    }
    return p;
  }

  async #readDictionary(ssId: number): Promise<MetricsDictionary> {
    const key = metricsKey(ssId);
    const head = await this.#store.head(key);
    if (!head) throw new BadInputError(key, `metrics dictionary of system ${ssId} not found`);
    return readMetricsDictionary(key, ssId, await this.#store.getBytes(key, { maxBytes: this.#maxBytes }));
  }
}
