import type { SourceFormat } from '@pv-pipeline/core';
import { type ObjectStore, parseSystemFolder, pvdataRootPrefix, type SystemCatalog } from '@pv-pipeline/pvdaq';
import { listPrizeSystems } from './plan-prize.js';

/** A system as `pv-pipeline systems` and `GET /api/systems` list it. */
export interface SystemListing {
  ss_id: number;
  /** Public name. */
  name: string | null;
  /** The zone of its local times, as the systems index gives it. */
  timezone: string | null;
  latitude: number | null;
  longitude: number | null;
  /** DC capacity, kW. */
  capacity_kw: number | null;
  /** First and last day of its record (the systems index), `YYYY-MM-DD`. */
  first_day: string | null;
  last_day: string | null;
  /** The formats the source holds data of it in. */
  formats: SourceFormat[];
  /** Sensor channels, per the systems index. */
  channels: number | null;
}

const day = (v: unknown): string | null => {
  if (v === null || v === undefined) return null;
  const d = v instanceof Date ? v : new Date(String(v));
  return Number.isNaN(d.getTime()) ? null : d.toISOString().slice(0, 10);
};

/**
 * Every system the source knows: the catalog's, and any with a data folder
 * (daily Parquet, daily CSV, prize), with the formats it has data in. Three
 * listings of folder names, whatever the archive's size.
 */
export async function listSourceSystems(store: ObjectStore, catalog: SystemCatalog): Promise<SystemListing[]> {
  const folders = async (format: 'parquet' | 'csv') =>
    new Set(
      (await store.listChildren(pvdataRootPrefix(format))).prefixes
        .map(parseSystemFolder)
        .filter((id): id is number => id !== null),
    );
  const [parquet, csv, prize] = await Promise.all([folders('parquet'), folders('csv'), listPrizeSystems(store)]);
  const prizeIds = new Set(prize);
  const rows = new Map(catalog.systems().map((r) => [r.ss_id, r]));
  const ids = [...new Set([...rows.keys(), ...parquet, ...csv, ...prizeIds])].sort((a, b) => a - b);
  return ids.map((id) => {
    const r = rows.get(id);
    const formats: SourceFormat[] = [];
    if (parquet.has(id)) formats.push('parquet');
    if (csv.has(id)) formats.push('csv');
    if (prizeIds.has(id)) formats.push('prize');
    return {
      ss_id: id,
      name: r?.public_name ?? null,
      timezone: r?.timezone ?? null,
      latitude: r?.latitude ?? null,
      longitude: r?.longitude ?? null,
      capacity_kw: r?.dc_capacity_kw ?? null,
      first_day: day(r?.started_on),
      last_day: day(r?.ended_on),
      formats,
      channels: r?.available_sensor_channels ?? null,
    };
  });
}
