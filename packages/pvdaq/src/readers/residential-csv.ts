import type { SensorEntry } from '@pv-pipeline/schema';
import type { MetricsDictionary } from '../catalog/metrics-dictionary.js';
import { CHANNEL_SOURCE_TYPES } from './prize-columns.js';

/**
 * The residential feed under `csv/pvdata/` (PVOutput / PVDB systems, ids ≥
 * 10000, docs/pvdaq-data.md §2.4) has its own schema: an unnamed date
 * column, then `ac_power_inv_<id>_daily_max`, `…_daily_mean`,
 * `ac_energy_inv_<id>_daily_sum` (daily aggregates, power in kW, energy in
 * kWh), or sub-daily `ac_power_inv_<id>`, `dc_voltage_inv_<id>` channels. It
 * has no `__<metric_id>` columns and no metrics dictionary: the channels and
 * their units come from the names.
 */

/** A column of the residential schema, with its sensor entry. */
export interface ResidentialColumn {
  index: number;
  /** Key of the column in raw readings (unique per column; several columns share a metric id). */
  rawId: number;
  entry: SensorEntry;
}

const CHANNEL = /^(.+?)_(inv|o|meter)_(\d+)(?:_daily_(max|mean|min|sum))?$/i;

/** Units from a residential channel name (the feed documents kW and kWh). */
function unitsOf(base: string, aggregate: string | undefined): string | null {
  const b = base.toLowerCase();
  if (b.includes('energy')) return 'kWh';
  if (b.includes('power')) return aggregate === 'sum' ? 'kWh' : 'kW';
  if (b.includes('voltage')) return 'V';
  if (b.includes('current')) return 'A';
  if (b.includes('temperature')) return 'C';
  return null;
}

/**
 * Classifies a header as the residential schema, or returns null when it is
 * not (it has a `__<metric_id>` column, or no residential channel at all).
 */
export function residentialColumns(ssId: number, header: readonly string[]): ResidentialColumn[] | null {
  const names = header.map((h) => h.trim());
  if (names.some((n) => /__\d+$/.test(n))) return null;
  const out: ResidentialColumn[] = [];
  names.forEach((name, index) => {
    const m = CHANNEL.exec(name);
    if (!m) return;
    const aggregate = m[4]?.toLowerCase();
    out.push({
      index,
      rawId: index + 1,
      entry: {
        ss_id: ssId,
        metric_id: Number(m[3]),
        sensor: name,
        common_name: null,
        standard_name: null,
        raw_units: null,
        units: unitsOf(m[1]!, aggregate),
        calc_scale: null,
        calc_offset: null,
        aggregation_type: aggregate ?? null,
        source_type: CHANNEL_SOURCE_TYPES[m[2]!.toLowerCase()]!,
        source_column: name,
        interval_s: null,
      },
    });
  });
  return out.length > 0 ? out : null;
}

/** A dictionary over the residential columns, keyed by their raw ids. */
export function residentialDictionary(
  ssId: number,
  key: string,
  columns: readonly ResidentialColumn[],
): MetricsDictionary {
  return {
    ssId,
    key: `${key} (channels named in its header)`,
    entries: columns.map((c) => c.entry),
    byMetricId: new Map(columns.map((c) => [c.rawId, c.entry])),
  };
}
