import type { DuckDBConnection } from '@duckdb/node-api';
import { type DroppedCounts, noneDropped } from '@pv-pipeline/core';
import { dayOf } from './buckets.js';
import type { TimeShiftResult } from './checks/time-shift.js';
import { FLAG_KINDS, type QualityFlag, type SensorQuality, type SystemQuality } from './quality-json.js';
import type { ReportScope } from './scope.js';

const round = (x: number, digits: number) => Math.round(x * 10 ** digits) / 10 ** digits;
const n = (v: unknown) => Number(v ?? 0);

async function rows(conn: DuckDBConnection, sql: string): Promise<Record<string, unknown>[]> {
  return (await conn.runAndReadAll(sql)).getRowObjectsJS() as Record<string, unknown>[];
}

/** Groups rows by their `ss_id`. */
function bySystem(list: Record<string, unknown>[]): Map<number, Record<string, unknown>[]> {
  const out = new Map<number, Record<string, unknown>[]>();
  for (const r of list) {
    const id = n(r.ss_id);
    const into = out.get(id);
    if (into) into.push(r);
    else out.set(id, [r]);
  }
  return out;
}

/**
 * The JSON of every system from the check tables, a few queries for all
 * systems at once: its sensors (cadence, completeness, readings, what ingest
 * dropped), its flags (flagged days merged into ranges of consecutive days,
 * each with its share of the sensor's readings; the time shift's runs as the
 * check found them) and its score (the share of its days whose mean
 * completeness is at least 0.9 and that no flag touches).
 */
export async function systemQualities(
  conn: DuckDBConnection,
  scope: ReportScope,
  spans: ReadonlyMap<number, { first: number; last: number }>,
  shifts: ReadonlyMap<number, TimeShiftResult>,
  dropped: ReadonlyMap<string, DroppedCounts>,
): Promise<SystemQuality[]> {
  const sensorRows = bySystem(
    await rows(
      conn,
      `SELECT s.ss_id, s.sensor, any_value(i.interval_s) AS interval_s, avg(s.completeness) AS completeness,
              sum(s.present) AS readings
       FROM q_sensor_day s JOIN q_interval i USING (ss_id, sensor) GROUP BY s.ss_id, s.sensor ORDER BY s.ss_id, s.sensor`,
    ),
  );
  const rangeRows = bySystem(
    await rows(
      conn,
      `WITH g AS (
         SELECT *, d - row_number() OVER (PARTITION BY ss_id, sensor, kind ORDER BY d) AS grp
         FROM q_flag_day WHERE kind <> 'time_shift'
       )
       SELECT ss_id, kind, sensor, min(d) AS lo, max(d) AS hi, count(*) AS days, sum(n) AS n
       FROM g GROUP BY ss_id, sensor, kind, grp`,
    ),
  );
  const shiftRows = await rows(
    conn,
    `SELECT f.ss_id, f.d, f.n FROM q_flag_day f WHERE f.kind = 'time_shift' ORDER BY f.ss_id, f.d`,
  );
  const goodDays = new Map(
    (
      await rows(
        conn,
        `WITH day AS (SELECT ss_id, d, avg(completeness) AS c FROM q_sensor_day GROUP BY ss_id, d),
         flagged AS (SELECT DISTINCT ss_id, d FROM q_flag_day)
         SELECT day.ss_id, count(*) FILTER (WHERE day.c >= 0.9 AND flagged.d IS NULL) AS good
         FROM day LEFT JOIN flagged USING (ss_id, d) GROUP BY day.ss_id`,
      )
    ).map((r) => [n(r.ss_id), n(r.good)]),
  );
  return scope.systems.map((sys): SystemQuality => {
    const span = spans.get(sys.ss_id);
    const base = {
      ss_id: sys.ss_id,
      name: sys.name,
      timezone: sys.timezone,
      sun_checks: sys.latitude !== null && sys.longitude !== null,
    };
    if (!span) {
      return {
        ...base,
        score: 0,
        days: 0,
        notes: [...sys.notes, 'no readings in the range reported'],
        sensors: [],
        flags: [],
      };
    }
    const days = span.last - span.first + 1;
    const units = new Map(sys.sensors.map((s) => [s.sensor, s.units]));
    const sensors: SensorQuality[] = (sensorRows.get(sys.ss_id) ?? []).map((r) => ({
      sensor: String(r.sensor),
      units: units.get(String(r.sensor)) ?? null,
      interval_s: n(r.interval_s),
      completeness: round(n(r.completeness), 4),
      readings: n(r.readings),
      dropped: dropped.get(JSON.stringify([sys.ss_id, String(r.sensor)])) ?? noneDropped(),
    }));
    const readingsOf = new Map(sensors.map((s) => [s.sensor, s.readings]));
    const flags: QualityFlag[] = (rangeRows.get(sys.ss_id) ?? []).map((r) => ({
      kind: String(r.kind) as QualityFlag['kind'],
      sensor: String(r.sensor),
      from: dayOf(n(r.lo)),
      to: dayOf(n(r.hi)),
      share: round(
        r.kind === 'missing_days' ? n(r.days) / days : n(r.n) / Math.max(1, readingsOf.get(String(r.sensor)) ?? 0),
        4,
      ),
    }));
    const shift = shifts.get(sys.ss_id);
    for (const run of shift?.runs ?? []) {
      const covered = shiftRows
        .filter((r) => n(r.ss_id) === sys.ss_id && n(r.d) >= run.from && n(r.d) <= run.to)
        .reduce((sum, r) => sum + n(r.n), 0);
      flags.push({
        kind: 'time_shift',
        sensor: shift!.sensor,
        from: dayOf(run.from),
        to: dayOf(run.to),
        share: round(covered / Math.max(1, readingsOf.get(shift!.sensor) ?? 0), 4),
        shift_minutes: run.shiftMinutes,
      });
    }
    flags.sort(
      (a, b) =>
        FLAG_KINDS.indexOf(a.kind) - FLAG_KINDS.indexOf(b.kind) ||
        a.sensor.localeCompare(b.sensor) ||
        a.from.localeCompare(b.from),
    );
    return {
      ...base,
      score: round((goodDays.get(sys.ss_id) ?? 0) / days, 2),
      days,
      notes: [...sys.notes],
      sensors,
      flags,
    };
  });
}
