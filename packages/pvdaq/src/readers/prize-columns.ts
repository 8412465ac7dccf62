import { BadInputError } from '@pv-pipeline/core';
import type { SensorEntry } from '@pv-pipeline/schema';

/** Where a channel's id comes from, by its column suffix (prize and residential columns). */
export const CHANNEL_SOURCE_TYPES: Readonly<Record<string, string>> = {
  o: 'other instruments',
  inv: 'inverters',
  meter: 'meters',
};

/** Unit tokens written in parentheses in prize column names, lower-cased → as PVDAQ writes them. */
const UNIT_SPELLING: Readonly<Record<string, string>> = {
  w: 'W',
  kw: 'kW',
  mw: 'MW',
  wh: 'Wh',
  kwh: 'kWh',
  mwh: 'MWh',
  var: 'VAR',
  kvar: 'kVAR',
  kvarh: 'kVARh',
  va: 'VA',
  kva: 'kVA',
  a: 'A',
  ma: 'mA',
  v: 'V',
  kv: 'kV',
  mv: 'mV',
  hz: 'Hz',
  c: 'C',
  degc: 'C',
  f: 'F',
  '%': '%',
  pct: '%',
  'm/s': 'm/s',
  'w/m2': 'W/m^2',
  'w/m^2': 'W/m^2',
  deg: 'deg',
  pf: 'PF',
};

/** One value channel of a prize CSV header. */
export interface PrizeChannel {
  /** Column index. */
  index: number;
  /** The column name as written. */
  column: string;
  /** The sensor name: the column without its `_{o|inv|meter}_{id}` suffix and without a `(unit)` token. */
  sensor: string;
  /** The channel id from the suffix (a PVDAQ metric id). */
  metricId: number;
  /** Units from the name or the metadata, null when neither gives any. */
  units: string | null;
  /** `other instruments`, `inverters` or `meters`, from the suffix. */
  sourceType: string;
}

/** A classified prize CSV header. */
export interface PrizeHeader {
  /** Index of `measured_on`. */
  timeIndex: number;
  channels: PrizeChannel[];
  /** Columns that are neither the time nor a channel (left out). */
  ignored: string[];
}

const CHANNEL = /^(.+?)_(o|inv|meter)_(\d+)$/i;
const UNIT_TOKEN = /_?\(([^()]*)\)/;

/** The canonical spelling of a unit token (`kw` → `kW`); unknown tokens are kept as written. */
export function unitFromToken(token: string): string | null {
  const t = token.trim();
  if (t === '') return null;
  return UNIT_SPELLING[t.toLowerCase()] ?? t;
}

/**
 * Classifies a prize CSV header (`measured_on, <name>[_(unit)]_{o|inv|meter}_{id}, …`).
 * `unitsByName` (from the system's metadata JSON, keyed by column or sensor
 * name) supplies units where the name carries none. A header without
 * `measured_on`, without any channel, or with one channel id twice is a
 * BadInputError naming the key.
 */
export function classifyPrizeHeader(
  key: string,
  header: readonly string[],
  unitsByName: ReadonlyMap<string, string> = new Map(),
): PrizeHeader {
  const names = header.map((h, i) => (i === 0 ? h.replace(/^\uFEFF/, '') : h).trim());
  const lower = names.map((n) => n.toLowerCase());
  let timeIndex = lower.indexOf('measured_on');
  if (timeIndex < 0 && ['', 'unnamed: 0', 'timestamp', 'datetime'].includes(lower[0] ?? 'x')) timeIndex = 0;
  if (timeIndex < 0) {
    throw new BadInputError(key, `CSV header has no measured_on column (header: ${names.join(',').slice(0, 200)})`);
  }
  const channels: PrizeChannel[] = [];
  const ignored: string[] = [];
  const seen = new Map<number, string>();
  names.forEach((column, index) => {
    if (index === timeIndex) return;
    const m = CHANNEL.exec(column);
    if (!m) {
      ignored.push(column);
      return;
    }
    const metricId = Number(m[3]);
    const prev = seen.get(metricId);
    if (prev !== undefined) {
      throw new BadInputError(key, `duplicate column for channel id ${metricId} ("${prev}" and "${column}")`);
    }
    seen.set(metricId, column);
    const unitMatch = UNIT_TOKEN.exec(m[1]!);
    const sensor = m[1]!.replace(UNIT_TOKEN, '').replace(/__+/g, '_').replace(/^_|_$/g, '') || m[1]!;
    const units =
      (unitMatch ? unitFromToken(unitMatch[1]!) : null) ??
      unitsByName.get(column) ??
      unitsByName.get(sensor) ??
      unitsByName.get(m[1]!) ??
      null;
    channels.push({ index, column, sensor, metricId, units, sourceType: CHANNEL_SOURCE_TYPES[m[2]!.toLowerCase()]! });
  });
  if (channels.length === 0) {
    throw new BadInputError(
      key,
      `CSV header has no channel columns (expected <name>_{o|inv|meter}_<id>; header: ${names.join(',').slice(0, 200)})`,
    );
  }
  return { timeIndex, channels, ignored };
}

/**
 * The pv_sensors rows of a prize header's channels, named as in the file (a
 * system's names are made unique across all its files by the catalog).
 */
export function prizeSensorEntries(ssId: number, header: PrizeHeader): SensorEntry[] {
  return header.channels.map((c) => ({
    ss_id: ssId,
    metric_id: c.metricId,
    sensor: c.sensor,
    common_name: null,
    standard_name: null,
    raw_units: c.units,
    units: c.units,
    calc_scale: null,
    calc_offset: null,
    aggregation_type: null,
    source_type: c.sourceType,
    source_column: c.column,
    interval_s: null,
  }));
}
