import { BadInputError, describeError, type Logger, mapConcurrent } from '@pv-pipeline/core';
import type { SensorEntry, SystemRow } from '@pv-pipeline/schema';
import { listPrizeFolders, type PrizeFolder, prizeDataPrefix, prizeMetadataPrefix } from '../layout/prize-layout.js';
import {
  METADATA_TABLE_PREFIXES,
  metricsKey,
  newestSystemsIndexKey,
  pvdataSystemPrefix,
  SYSTEMS_INDEX_PREFIX,
  systemMetadataKey,
} from '../layout/pvdata-layout.js';
import { firstCsvLine } from '../readers/csv-lines.js';
import { decodeParquet, tableToObjects } from '../readers/parquet-decode.js';
import { prizeSensorEntries } from '../readers/prize-columns.js';
import { readFirstLine, readPrizeHeader } from '../readers/prize-header.js';
import { residentialColumns } from '../readers/residential-csv.js';
import type { ObjectStore } from '../store/object-store.js';
import { dictionaryOf, type MetricsDictionary, readMetricsDictionary } from './metrics-dictionary.js';
import { type PrizeMetadata, readPrizeMetadata } from './prize-metadata.js';
import { uniqueSensorNames } from './sensor-names.js';
import { mergeSystemRow } from './system-row.js';
import { type IndexRow, readSystemsIndex } from './systems-index.js';
import { parseTimeZone, type TimeZoneSpec } from './time-zone.js';

/** Options of {@link SystemCatalog.load}. */
export interface SystemCatalogOptions {
  /** Largest metadata object read, bytes. @defaultValue 64 MiB */
  maxObjectBytes?: number;
  logger?: Logger;
}

/** Prize file headers read at once when listing a system's channels. */
const HEADER_CONCURRENCY = 8;

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
  readonly #channels = new Map<number, Promise<MetricsDictionary>>();
  readonly #prize: PrizeFolders;
  readonly #jsonZones = new Map<number, Promise<TimeZoneSpec | null>>();

  private constructor(
    store: ObjectStore,
    indexKey: string | null,
    rows: Map<number, SystemRow>,
    warnings: string[],
    maxBytes: number,
    prize: PrizeFolders,
  ) {
    this.#store = store;
    this.indexKey = indexKey;
    this.#rows = rows;
    this.warnings = warnings;
    this.#maxBytes = maxBytes;
    this.#prize = prize;
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

    const prize = await readPrizeMetadataFiles(store, maxBytes, warn);
    const ids = new Set<number>([
      ...indexRows.keys(),
      ...tables.system.keys(),
      ...tables.site.keys(),
      ...prize.metadata.keys(),
    ]);
    const rows = new Map<number, SystemRow>();
    for (const id of [...ids].sort((a, b) => a - b)) {
      // the tables first, a prize folder's metadata JSON where they have nothing
      const json = prize.metadata.get(id);
      const site = tables.site.get(id) ?? json?.site;
      const system = tables.system.get(id) ?? json?.system;
      const mount = tables.mount.get(id) ?? json?.mount;
      rows.set(
        id,
        mergeSystemRow({
          ssId: id,
          index: indexRows.get(id) ?? [],
          ...(site ? { site } : {}),
          ...(system ? { system } : {}),
          ...(mount ? { mount } : {}),
        }),
      );
    }
    return new SystemCatalog(store, indexKey, rows, warnings, maxBytes, prize);
  }

  /**
   * The channels of a prize system, from the headers of its data files (one
   * ranged GET each), merged by channel id: the pv_sensors rows of a system
   * that has no metrics dictionary.
   */
  async prizeSensors(ssId: number): Promise<SensorEntry[]> {
    const keys: string[] = [];
    for (const folder of this.#prize.folders) {
      if (folder.ssId !== ssId) continue;
      for await (const obj of this.#store.listObjects(prizeDataPrefix(folder))) {
        if (/\.csv$/i.test(obj.key) && obj.size > 0) keys.push(obj.key);
      }
    }
    // a system can have over a thousand files (9069): several header GETs in flight
    const headers = await mapConcurrent(keys, HEADER_CONCURRENCY, async (key) => {
      try {
        return await readPrizeHeader(this.#store, key, this.prizeUnits(ssId));
      } catch (err) {
        // that file fails on its own, with this reason, when it is transformed
        if (!(err instanceof BadInputError)) throw err;
        return null;
      }
    });
    const byId = new Map<number, SensorEntry>();
    for (const header of headers)
      if (header) for (const e of prizeSensorEntries(ssId, header)) byId.set(e.metric_id, e);
    return [...byId.values()];
  }

  /** Units by channel name from a prize system's metadata JSON (empty when it has none). */
  prizeUnits(ssId: number): ReadonlyMap<string, string> {
    return this.#prize.metadata.get(ssId)?.unitsByName ?? new Map();
  }

  /**
   * A system's channels: its metrics dictionary plus the channels of its
   * prize CSVs that the dictionary lacks (by channel id), every name unique in
   * the system (see uniqueSensorNames), so that every reader of the system
   * names a channel alike. Read once, then cached. Throws the dictionary's
   * error when neither gives any channel.
   */
  channels(ssId: number): Promise<MetricsDictionary> {
    return cachedOnce(this.#channels, ssId, async () => {
      const hasPrize = this.#prize.folders.some((f) => f.ssId === ssId);
      let dictionary: MetricsDictionary | null = null;
      try {
        dictionary = await this.dictionary(ssId);
      } catch (err) {
        if (!(err instanceof BadInputError) || !hasPrize) throw err;
      }
      if (!hasPrize) return dictionary!;
      const byId = new Map((dictionary?.entries ?? []).map((e) => [e.metric_id, e]));
      for (const e of await this.prizeSensors(ssId)) if (!byId.has(e.metric_id)) byId.set(e.metric_id, e);
      const key = dictionary
        ? `${dictionary.key} and the prize CSV headers`
        : `the prize CSV headers of system ${ssId}`;
      return dictionaryOf(ssId, key, uniqueSensorNames([...byId.values()]));
    });
  }

  /**
   * The pv_sensors rows of a system: its {@link channels}; without a
   * dictionary or prize files, the channels of its residential-feed CSVs.
   * Throws the dictionary's error when none gives any.
   */
  async sensors(ssId: number): Promise<SensorEntry[]> {
    try {
      return (await this.channels(ssId)).entries;
    } catch (err) {
      if (!(err instanceof BadInputError)) throw err;
      const residential = await this.residentialSensors(ssId);
      if (residential.length === 0) throw err;
      return residential;
    }
  }

  /**
   * The channels of a residential-feed system (no metrics dictionary; its CSV
   * headers name them, see residentialColumns), from the headers of its first
   * and last CSV objects (one ranged GET each), merged by sensor: the feed's
   * schema may change over the years. Empty when its CSVs are not that feed.
   */
  async residentialSensors(ssId: number): Promise<SensorEntry[]> {
    let first: string | null = null;
    let last: string | null = null;
    for await (const obj of this.#store.listObjects(pvdataSystemPrefix('csv', ssId))) {
      if (obj.size === 0 || !/\.csv$/i.test(obj.key)) continue;
      first ??= obj.key;
      last = obj.key;
    }
    const bySensor = new Map<string, SensorEntry>();
    for (const key of new Set([first, last])) {
      if (key === null) continue;
      try {
        const columns = residentialColumns(ssId, firstCsvLine(Buffer.from(await readFirstLine(this.#store, key))));
        for (const c of columns ?? []) bySensor.set(c.entry.sensor, c.entry);
      } catch (err) {
        // that object fails on its own, with this reason, when it is transformed
        if (!(err instanceof BadInputError)) throw err;
      }
    }
    return [...bySensor.values()];
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

  /**
   * The system's time zone: from the index and tables ({@link zone}), else
   * from `System.timezone_code` of its per-system JSON
   * (`csv/system_metadata/{id}_system_metadata.json`, read once, cached),
   * else null. A missing or unreadable JSON only means no zone.
   */
  async zoneOf(ssId: number): Promise<TimeZoneSpec | null> {
    const known = this.zone(ssId);
    if (known) return known;
    return cachedOnce(this.#jsonZones, ssId, () => this.#readJsonZone(ssId));
  }

  async #readJsonZone(ssId: number): Promise<TimeZoneSpec | null> {
    const key = systemMetadataKey(ssId);
    if (!(await this.#store.head(key))) return null;
    let tz: unknown;
    try {
      tz = readPrizeMetadata(key, await this.#store.getBytes(key, { maxBytes: this.#maxBytes })).system.timezone_code;
    } catch (err) {
      if (err instanceof BadInputError) return null;
      throw err;
    }
    const label = tz === null || tz === undefined ? '' : String(tz).trim();
    return label ? parseTimeZone(label, `${key}: System.timezone_code`) : null;
  }

  /** The system's metrics dictionary (read once, then cached). */
  dictionary(ssId: number): Promise<MetricsDictionary> {
    return cachedOnce(this.#dictionaries, ssId, () => this.#readDictionary(ssId));
  }

  async #readDictionary(ssId: number): Promise<MetricsDictionary> {
    const key = metricsKey(ssId);
    const head = await this.#store.head(key);
    if (!head) throw new BadInputError(key, `metrics dictionary of system ${ssId} not found`);
    return readMetricsDictionary(key, ssId, await this.#store.getBytes(key, { maxBytes: this.#maxBytes }));
  }
}

/** The prize system folders and their metadata JSONs. */
interface PrizeFolders {
  folders: PrizeFolder[];
  metadata: Map<number, PrizeMetadata>;
}

/**
 * The prize system folders and the metadata JSON of each
 * (`{id}_system_metadata.json` under `metadata/`; the folder is listed, not
 * assumed). Unreadable ones are warnings.
 */
async function readPrizeMetadataFiles(
  store: ObjectStore,
  maxBytes: number,
  warn: (msg: string) => void,
): Promise<PrizeFolders> {
  const metadata = new Map<number, PrizeMetadata>();
  const folders = await listPrizeFolders(store);
  for (const folder of folders) {
    const { objects } = await store.listChildren(prizeMetadataPrefix(folder));
    const json = objects.filter((o) => /system_metadata\.json$/i.test(o.key));
    const pick = json.find((o) => o.key.endsWith(`/${folder.ssId}_system_metadata.json`)) ?? json[0];
    if (!pick) continue;
    try {
      metadata.set(folder.ssId, readPrizeMetadata(pick.key, await store.getBytes(pick.key, { maxBytes })));
    } catch (err) {
      warn(describeError(err));
    }
  }
  return { folders, metadata };
}

/** The cached promise for `key`, or a fresh one from `read`; a failure is not cached (it may be transient). */
function cachedOnce<K, V>(cache: Map<K, Promise<V>>, key: K, read: () => Promise<V>): Promise<V> {
  let p = cache.get(key);
  if (!p) {
    p = read();
    cache.set(key, p);
    p.catch(() => cache.delete(key));
  }
  return p;
}

/** Where a system's time zone is looked for, for messages when it is unknown. */
export function zoneSourcesOf(ssId: number): string {
  return `the systems index (csv/systems_YYYYMMDD.csv timezone_or_utc_offset), the site/system tables and ${systemMetadataKey(ssId)} (System.timezone_code)`;
}
