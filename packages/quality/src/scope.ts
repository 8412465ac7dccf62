import { assertDayRange, BadInputError } from '@pv-pipeline/core';
import { parseTimeZone, ZoneClock } from '@pv-pipeline/pvdaq/time-zones';
import type { WarehouseReader } from '@pv-pipeline/sinks';
import { physicalLimits, type SensorInfo, sensorKind, wattsPerUnit } from './sensor-kinds.js';

/** What to report on. */
export interface QualityRequest {
  /** System ids, or every system with readings. @defaultValue 'all' */
  systems?: number[] | 'all';
  /** First and last local day, `YYYY-MM-DD`. @defaultValue the first and last day with readings */
  from?: string;
  to?: string;
}

/** A system in scope, with what its checks need. */
export interface SystemScope {
  ss_id: number;
  name: string | null;
  timezone: string | null;
  /** The standard-time offset of its local clock (local − UTC), minutes; 0 without a zone. */
  offsetMinutes: number;
  latitude: number | null;
  longitude: number | null;
  elevation: number | null;
  /** DC capacity, kW, when pv_systems has it. */
  capacityKw: number | null;
  mountAzimuth: number | null;
  tracking: string | null;
  sensors: SensorScope[];
  notes: string[];
}

/** A sensor in scope, with its thresholds in its own units. */
export interface SensorScope extends SensorInfo {
  /** The system's capacity in this channel's units (power channels with a known capacity). */
  capacity: number | null;
  /** A reading above this at night is generation: 1 % of capacity, else 0. */
  nightThreshold: number;
  /** A reading above this is over capacity: 1.2 × capacity; null without one. */
  overThreshold: number | null;
  /** Physical limits; null where none apply. */
  limits: [number, number] | null;
}

/** The scope of a report: its systems and its inclusive range of local days. */
export interface ReportScope {
  systems: SystemScope[];
  from: string;
  to: string;
}

/** The standard-time offset of a zone label (minutes), the smaller of its January and July offsets. */
export function standardOffsetMinutes(label: string, year = 2020): number {
  const spec = parseTimeZone(label, 'pv_systems.timezone');
  if (spec.kind === 'fixed') return spec.offsetMinutes;
  const clock = new ZoneClock(spec);
  const offset = (ms: number) => (clock.wallTime(ms * 1000) - ms * 1000) / 60_000_000;
  return Math.min(offset(Date.UTC(year, 0, 15)), offset(Date.UTC(year, 6, 15)));
}

const num = (v: unknown): number | null => (typeof v === 'number' && Number.isFinite(v) ? v : null);
const str = (v: unknown): string | null => (typeof v === 'string' && v.trim() !== '' ? v : null);

/**
 * Resolves what to report on from the warehouse: the requested systems (an
 * unknown id is a BadInputError naming it), their zones, locations and
 * capacities, their sensors and thresholds, and the day range (by default
 * the first to the last day with readings). A warehouse with no readings in
 * range is a BadInputError too.
 */
export async function resolveScope(reader: WarehouseReader, request: QualityRequest): Promise<ReportScope> {
  assertDayRange(request.from, request.to);
  const t = (name: string) => reader.table(name);
  if (!(await reader.hasTable('pv_readings'))) {
    throw new BadInputError('--sink', `${reader.url} has no pv_readings table: not a pv-pipeline warehouse`);
  }
  // what is loaded, from the ledger (one row per object): far cheaper than a pass over the readings
  const loaded = await reader.query(
    `SELECT ss_id, min(min_timestamp) AS lo, max(max_timestamp) AS hi FROM ${t('pv_ingest_ledger')}
     WHERE ${reader.dialect === 'bigquery' ? '`rows`' : '"rows"'} > 0 GROUP BY ss_id`,
  );
  if (loaded.length === 0) throw new BadInputError('--sink', `${reader.url} holds no readings`);
  const withReadings = new Map(loaded.map((r) => [Number(r.ss_id), r]));
  const wanted =
    request.systems === undefined || request.systems === 'all' ? [...withReadings.keys()] : request.systems;
  const unknown = wanted.filter((id) => !withReadings.has(id));
  if (unknown.length > 0) {
    throw new BadInputError(
      '--systems',
      `no readings of system${unknown.length > 1 ? 's' : ''} ${unknown.join(', ')} in ${reader.url} (it has ${[...withReadings.keys()].sort((a, b) => a - b).join(', ')})`,
    );
  }
  const ids = [...new Set(wanted)].sort((a, b) => a - b);
  const idList = ids.join(', ');
  const systemRows = new Map(
    (await reader.query(`SELECT * FROM ${t('pv_systems')} WHERE ss_id IN (${idList})`)).map((r) => [
      Number(r.ss_id),
      r,
    ]),
  );
  const sensorRows = await reader.query(
    `SELECT ss_id, sensor, units, common_name FROM ${t('pv_sensors')} WHERE ss_id IN (${idList})`,
  );
  const systems = ids.map((id): SystemScope => {
    const row = systemRows.get(id) ?? {};
    const notes: string[] = [];
    const timezone = str(row.timezone);
    let offsetMinutes = 0;
    if (timezone) {
      try {
        offsetMinutes = standardOffsetMinutes(timezone);
      } catch (err) {
        notes.push(`its zone "${timezone}" is unusable (${(err as Error).message}): local days are UTC days`);
      }
    } else notes.push('no time zone in pv_systems: local days are UTC days');
    const latitude = num(row.latitude);
    const longitude = num(row.longitude);
    if (latitude === null || longitude === null) {
      notes.push(
        'no latitude/longitude in pv_systems: the sun-dependent checks (time shift, night generation, negative daylight power, stuck in daylight) and the sunrise/sunset lines are skipped',
      );
    }
    const capacityKw = num(row.dc_capacity_kw);
    // one entry per sensor: the dictionary's (pv_sensors) over the readings' own name and units
    const bySensor = new Map<string, { units: string | null; common: string | null }>();
    for (const r of sensorRows) {
      if (Number(r.ss_id) !== id) continue;
      const name = String(r.sensor);
      const known = bySensor.get(name);
      if (!known || (known.common === null && r.common_name !== null)) {
        bySensor.set(name, { units: str(r.units) ?? known?.units ?? null, common: str(r.common_name) });
      }
    }
    const sensors = [...bySensor.entries()]
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([sensor, s]): SensorScope => {
        const kind = sensorKind(sensor, s.common, s.units);
        const perWatt = wattsPerUnit(s.units);
        const capacity =
          (kind === 'ac_power' || kind === 'dc_power') && capacityKw !== null && capacityKw > 0 && perWatt !== null
            ? (capacityKw * 1000) / perWatt
            : null;
        return {
          ss_id: id,
          sensor,
          units: s.units,
          common_name: s.common,
          kind,
          capacity,
          nightThreshold: capacity === null ? 0 : 0.01 * capacity,
          overThreshold: kind === 'ac_power' && capacity !== null ? 1.2 * capacity : null,
          limits: physicalLimits(kind, s.units),
        };
      });
    if (capacityKw === null)
      notes.push('no dc_capacity_kw in pv_systems: over-capacity and unit checks of power are skipped');
    return {
      ss_id: id,
      name: str(row.public_name),
      timezone,
      offsetMinutes,
      latitude,
      longitude,
      elevation: num(row.elevation),
      capacityKw,
      mountAzimuth: num(row.mount_azimuth),
      tracking: str(row.tracking),
      sensors,
      notes,
    };
  });
  let { from, to } = request;
  if (!from || !to) {
    // the widest local days: the earliest clock ahead of UTC and the latest behind it
    const offsets = systems.map((s) => s.offsetMinutes);
    const instants = ids.map((id) => withReadings.get(id)!);
    const lo = Math.min(...instants.map((r) => Date.parse(String(r.lo))));
    const hi = Math.max(...instants.map((r) => Date.parse(String(r.hi))));
    const day = (ms: number, offset: number) => new Date(ms + offset * 60_000).toISOString().slice(0, 10);
    from ??= day(lo, Math.min(...offsets));
    to ??= day(hi, Math.max(...offsets));
  }
  return { systems, from, to };
}
