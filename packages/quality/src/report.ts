import type { DuckDBConnection, DuckDBValue } from '@duckdb/node-api';
import { BadInputError, type DroppedCounts, noneDropped, READING_RULE_IDS } from '@pv-pipeline/core';
import type { QualityDailyRow } from '@pv-pipeline/schema';
import type { WarehouseReader } from '@pv-pipeline/sinks';
import { BUCKET_S, type CheckDb, dayOf, epochDay, loadBuckets, SLOTS } from './buckets.js';
import { createCadenceTables } from './cadence.js';
import { createSensorTable, createSpanTable, createSunTable } from './check-tables.js';
import { createFlagDayTable } from './checks/flag-days.js';
import { runMissingDaysCheck } from './checks/missing-days.js';
import { runOutlierCheck } from './checks/outliers.js';
import { runSunChecks } from './checks/sun-checks.js';
import {
  checkTimeShift,
  facesTheEquator,
  middayPoints,
  recordShiftDays,
  type TimeShiftResult,
} from './checks/time-shift.js';
import { runValueChecks } from './checks/value-checks.js';
import type { QualityJson, SystemQuality } from './quality-json.js';
import { type QualityRequest, type ReportScope, resolveScope } from './scope.js';
import { mainChannel } from './sensor-kinds.js';
import { systemQualities } from './system-quality.js';

/** A day × time-of-day raster of one channel's 10-minute means. */
export interface Heatmap {
  sensor: string;
  units: string | null;
  /** `days × 144` means, row by row from the first day; NaN where no reading (a reading of a slower channel fills the slots until its next is due). */
  values: Float64Array;
}

/** What a system page draws, beyond its {@link SystemQuality}. */
export interface SystemDetail {
  quality: SystemQuality;
  /** First local day of its span (epoch days) and the number of days. */
  firstDay: number;
  days: number;
  /** Sunrise and sunset per day, minutes of the local standard day; null without coordinates or when the sun does not cross. */
  sun: Array<{ sunrise: number | null; sunset: number | null }> | null;
  /** The main AC power channel's and the irradiance channel's rasters, where the system has them. */
  heatmaps: Heatmap[];
  /** Daily completeness per sensor: `sensors.length × days`, row by row. */
  completeness: { sensors: string[]; values: Float64Array };
  /** The time-shift check's points, when it ran. */
  midday: TimeShiftResult | null;
}

/** Mean daily completeness of every system over the report's days (NaN outside a system's span). */
export interface Availability {
  firstDay: number;
  days: number;
  systems: Array<{ ss_id: number; values: Float64Array }>;
}

/** Report options. */
export interface QualityReportOptions {
  /** The sink URL as the report names it. */
  sink: string;
  /** Clock for `generated_at`. @defaultValue the current time */
  now?: Date;
}

const round = (x: number, digits: number) => Math.round(x * 10 ** digits) / 10 ** digits;
const n = (v: unknown) => Number(v ?? 0);

async function rows(
  conn: DuckDBConnection,
  sql: string,
  params: DuckDBValue[] = [],
): Promise<Record<string, unknown>[]> {
  return (await conn.runAndReadAll(sql, params)).getRowObjectsJS() as Record<string, unknown>[];
}

/**
 * A computed quality report: its JSON, and per system what its page draws
 * and its `pv_quality_daily` rows, read on demand from the check tables so
 * that a large report never holds every system's rasters at once. Close it
 * when done.
 */
export class QualityReport {
  readonly #db: CheckDb;
  readonly #scope: ReportScope;
  readonly #shifts: Map<number, TimeShiftResult>;
  readonly #spans: Map<number, { first: number; last: number }>;
  readonly json: QualityJson;

  constructor(
    db: CheckDb,
    scope: ReportScope,
    json: QualityJson,
    shifts: Map<number, TimeShiftResult>,
    spans: Map<number, { first: number; last: number }>,
  ) {
    this.#db = db;
    this.#scope = scope;
    this.json = json;
    this.#shifts = shifts;
    this.#spans = spans;
  }

  /** The systems reported, in order. */
  get systemIds(): number[] {
    return this.json.systems.map((s) => s.ss_id);
  }

  /** The inferred cadence of every sensor with readings, seconds, by `[ss_id, sensor]` JSON key. */
  async intervals(): Promise<Array<{ ss_id: number; sensor: string; interval_s: number }>> {
    return (await rows(this.#db.conn, 'SELECT ss_id, sensor, interval_s FROM q_interval ORDER BY ALL')).map((r) => ({
      ss_id: n(r.ss_id),
      sensor: String(r.sensor),
      interval_s: n(r.interval_s),
    }));
  }

  /** One system's page data. */
  async detail(ssId: number): Promise<SystemDetail> {
    const quality = this.json.systems.find((s) => s.ss_id === ssId);
    const sys = this.#scope.systems.find((s) => s.ss_id === ssId);
    if (!quality || !sys) throw new Error(`system ${ssId} is not in the report`);
    const span = this.#spans.get(ssId);
    const firstDay = span?.first ?? epochDay(this.json.from);
    const days = span ? span.last - span.first + 1 : 0;
    const conn = this.#db.conn;
    const heatmaps: Heatmap[] = [];
    for (const channel of [mainChannel(sys.sensors, 'ac_power'), mainChannel(sys.sensors, 'irradiance')]) {
      if (!channel || !quality.sensors.some((s) => s.sensor === channel.sensor)) continue;
      const values = new Float64Array(days * SLOTS).fill(Number.NaN);
      const res = await conn.runAndReadAll('SELECT d, slot, m FROM q_heat WHERE ss_id = $1 AND sensor = $2', [
        ssId,
        channel.sensor,
      ]);
      const [d, slot, m] = res.getColumnsJS() as [Array<number | bigint>, Array<number | bigint>, number[]];
      for (let i = 0; i < m.length; i++) values[(Number(d[i]) - firstDay) * SLOTS + Number(slot[i])] = m[i]!;
      // a channel logged less often than every 10 minutes: each reading holds until the next is due
      const interval = quality.sensors.find((s) => s.sensor === channel.sensor)?.interval_s ?? BUCKET_S;
      const hold = Math.ceil(interval / BUCKET_S) - 1;
      for (let at = 0, held = 0; hold > 0 && at < values.length; at++) {
        if (!Number.isNaN(values[at]!)) held = 0;
        else if (at % SLOTS > 0 && held < hold && !Number.isNaN(values[at - 1]!)) {
          values[at] = values[at - 1]!;
          held++;
        } else held = hold;
      }
      heatmaps.push({ sensor: channel.sensor, units: channel.units, values });
    }
    let sun: SystemDetail['sun'] = null;
    if (quality.sun_checks) {
      sun = Array.from({ length: days }, () => ({ sunrise: null, sunset: null }));
      for (const r of await rows(conn, 'SELECT d, sunrise, sunset FROM q_sun WHERE ss_id = $1', [ssId])) {
        sun[n(r.d) - firstDay] = {
          sunrise: r.sunrise === null ? null : n(r.sunrise),
          sunset: r.sunset === null ? null : n(r.sunset),
        };
      }
    }
    const sensors = quality.sensors.map((s) => s.sensor);
    const completeness = new Float64Array(sensors.length * days).fill(Number.NaN);
    for (const r of await rows(conn, 'SELECT sensor, d, completeness FROM q_sensor_day WHERE ss_id = $1', [ssId])) {
      const i = sensors.indexOf(String(r.sensor));
      if (i >= 0) completeness[i * days + n(r.d) - firstDay] = n(r.completeness);
    }
    return {
      quality,
      firstDay,
      days,
      sun,
      heatmaps,
      completeness: { sensors, values: completeness },
      midday: this.#shifts.get(ssId) ?? null,
    };
  }

  /** Every system's mean daily completeness over a range of days. @defaultValue the report's range */
  async availability(from = this.json.from, to = this.json.to): Promise<Availability> {
    const firstDay = epochDay(from);
    const days = epochDay(to) - firstDay + 1;
    const bySystem = new Map(this.systemIds.map((id) => [id, new Float64Array(days).fill(Number.NaN)]));
    for (const r of await rows(
      this.#db.conn,
      'SELECT ss_id, d, avg(completeness) AS c FROM q_sensor_day GROUP BY ALL',
    )) {
      const at = n(r.d) - firstDay;
      if (at >= 0 && at < days) bySystem.get(n(r.ss_id))![at] = n(r.c);
    }
    return { firstDay, days, systems: [...bySystem.entries()].map(([ss_id, values]) => ({ ss_id, values })) };
  }

  /** A system's `pv_quality_daily` rows: every sensor-day of its span, with the flags touching it. */
  async dailyRows(ssId: number): Promise<QualityDailyRow[]> {
    const generated = this.json.generated_at;
    return (
      await rows(
        this.#db.conn,
        `WITH f AS (
           SELECT d, sensor, string_agg(DISTINCT kind, ',' ORDER BY kind) AS kinds FROM q_flag_day WHERE ss_id = $1 GROUP BY ALL
         )
         SELECT s.sensor, s.d, i.interval_s, s.expected, s.present, s.completeness,
                nullif(concat_ws(',', fs.kinds, fa.kinds), '') AS flags
         FROM q_sensor_day s JOIN q_interval i USING (ss_id, sensor)
         LEFT JOIN f fs ON fs.d = s.d AND fs.sensor = s.sensor
         LEFT JOIN f fa ON fa.d = s.d AND fa.sensor = '*'
         WHERE s.ss_id = $1 ORDER BY s.sensor, s.d`,
        [ssId],
      )
    ).map((r) => ({
      ss_id: ssId,
      sensor: String(r.sensor),
      day: dayOf(n(r.d)),
      interval_s: n(r.interval_s),
      expected: n(r.expected),
      present: n(r.present),
      completeness: round(n(r.completeness), 6),
      flags: r.flags === null ? null : String(r.flags),
      generated_at: generated,
    }));
  }

  /** Releases the check tables. */
  async close(): Promise<void> {
    await this.#db.close();
  }
}

/** Readings ingest dropped per system and sensor, from the ledger rows of the objects in range. */
async function droppedBySensor(reader: WarehouseReader, scope: ReportScope): Promise<Map<string, DroppedCounts>> {
  const out = new Map<string, DroppedCounts>();
  // a ledger written before the per-sensor counts has none to give
  if (!(await reader.columns('pv_ingest_ledger')).includes('dropped_by_sensor')) return out;
  const ids = scope.systems.map((s) => s.ss_id).join(', ');
  const lo = `TIMESTAMP '${scope.from} 00:00:00+00'`;
  const hi = `TIMESTAMP '${dayOf(epochDay(scope.to) + 1)} 00:00:00+00'`;
  const ledger = await reader.query(
    `SELECT ss_id, dropped_by_sensor FROM ${reader.table('pv_ingest_ledger')}
     WHERE ss_id IN (${ids}) AND dropped_by_sensor IS NOT NULL
       AND ((day BETWEEN DATE '${scope.from}' AND DATE '${scope.to}')
         OR (day IS NULL AND min_timestamp < ${hi} AND max_timestamp >= ${lo}))`,
  );
  for (const row of ledger) {
    let parsed: Record<string, Partial<DroppedCounts>>;
    try {
      parsed = JSON.parse(String(row.dropped_by_sensor)) as Record<string, Partial<DroppedCounts>>;
    } catch {
      continue; // a ledger row written by hand; its counts are not readable
    }
    for (const [sensor, counts] of Object.entries(parsed)) {
      const key = JSON.stringify([Number(row.ss_id), sensor]);
      const into = out.get(key) ?? noneDropped();
      for (const id of READING_RULE_IDS) into[id] += Number(counts[id] ?? 0);
      out.set(key, into);
    }
  }
  return out;
}

/**
 * The days each system has a daily object with readings for, from the
 * ledger (objects of the daily formats carry their day; prize files do not):
 * what `missing_days` counts against. Systems without any are absent.
 */
async function objectDays(reader: WarehouseReader, scope: ReportScope): Promise<Map<number, Set<number>>> {
  const out = new Map<number, Set<number>>();
  const rowsCol = reader.dialect === 'bigquery' ? '`rows`' : '"rows"';
  const ledger = await reader.query(
    `SELECT ss_id, day, max(${rowsCol}) AS n FROM ${reader.table('pv_ingest_ledger')}
     WHERE ss_id IN (${scope.systems.map((s) => s.ss_id).join(', ')}) AND day IS NOT NULL
       AND day BETWEEN DATE '${scope.from}' AND DATE '${scope.to}'
     GROUP BY ss_id, day`,
  );
  for (const r of ledger) {
    const days = out.get(Number(r.ss_id)) ?? new Set<number>();
    if (Number(r.n) > 0) days.add(epochDay(String(r.day)));
    out.set(Number(r.ss_id), days);
  }
  return out;
}

/**
 * `q_heat`: the 10-minute means of each system's heatmap channels (main AC
 * power, irradiance), in system order, so that a page reads its own rows only.
 */
async function createHeatTable(conn: DuckDBConnection, scope: ReportScope): Promise<void> {
  const channels = scope.systems.flatMap((sys) =>
    [mainChannel(sys.sensors, 'ac_power'), mainChannel(sys.sensors, 'irradiance')]
      .filter((c) => c !== null)
      .map((c) => `(${sys.ss_id}, '${c.sensor.replaceAll("'", "''")}')`),
  );
  await conn.run(
    channels.length === 0
      ? 'CREATE OR REPLACE TEMP TABLE q_heat (ss_id BIGINT, sensor VARCHAR, d BIGINT, slot BIGINT, m DOUBLE)'
      : `CREATE OR REPLACE TEMP TABLE q_heat AS
         SELECT b.ss_id, b.sensor, b.d, b.slot, b.s / b.n AS m
         FROM q_buckets b JOIN (VALUES ${channels.join(', ')}) c(ss_id, sensor) USING (ss_id, sensor)
         ORDER BY b.ss_id, b.sensor`,
  );
}

/**
 * Computes the quality report of the warehouse a reader reads: one bucket pass
 * in the engine, then the checks over the buckets (see the modules of
 * `checks/`). A request naming a system without readings, a warehouse without
 * readings, or a range without any gives a {@link BadInputError}.
 */
export async function computeQualityReport(
  reader: WarehouseReader,
  request: QualityRequest,
  options: QualityReportOptions,
): Promise<QualityReport> {
  const scope = await resolveScope(reader, request);
  const db = await loadBuckets(reader, scope);
  try {
    const conn = db.conn;
    const spans = await createSpanTable(conn);
    if (spans.size === 0) {
      throw new BadInputError(
        request.from !== undefined ? '--from' : '--systems',
        `no readings of the systems asked for between ${scope.from} and ${scope.to} in ${reader.url}`,
      );
    }
    await createSensorTable(conn, scope);
    await createSunTable(conn, scope, spans);
    await createCadenceTables(conn);
    await createFlagDayTable(conn);
    await createHeatTable(conn, scope);
    await runValueChecks(conn);
    const shifts = new Map<number, TimeShiftResult>();
    const channels = new Map<number, string>();
    for (const sys of scope.systems) {
      if (!spans.has(sys.ss_id) || sys.latitude === null || sys.longitude === null) continue;
      const channel = mainChannel(sys.sensors, 'ac_power') ?? mainChannel(sys.sensors, 'irradiance');
      if (channel) channels.set(sys.ss_id, channel.sensor);
    }
    const points = await middayPoints(conn, channels);
    for (const sys of scope.systems) {
      const sensor = channels.get(sys.ss_id);
      if (sensor === undefined) continue;
      const facing = facesTheEquator(sys.mountAzimuth, sys.tracking, sys.latitude!);
      const result = checkTimeShift(sensor, points.get(sys.ss_id) ?? [], facing);
      shifts.set(sys.ss_id, result);
      await recordShiftDays(conn, sys.ss_id, result);
    }
    await runSunChecks(conn);
    await runOutlierCheck(conn);
    await runMissingDaysCheck(conn, await objectDays(reader, scope));
    const dropped = await droppedBySensor(reader, scope);
    const systems = await systemQualities(conn, scope, spans, shifts, dropped);
    const json: QualityJson = {
      generated_at: (options.now ?? new Date()).toISOString(),
      sink: options.sink,
      from: scope.from,
      to: scope.to,
      systems,
    };
    return new QualityReport(db, scope, json, shifts, spans);
  } catch (err) {
    await db.close();
    throw err;
  }
}
