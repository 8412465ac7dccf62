import type { DuckDBConnection } from '@duckdb/node-api';

/** Shift of measured midday from solar noon that counts, minutes. */
export const SHIFT_MINUTES = 30;
/** Days a shift must last (days that qualify) to be flagged. */
export const SHIFT_DAYS = 3;

/** One day's measured midday against solar noon. */
export interface MiddayPoint {
  /** Local standard day, epoch days. */
  d: number;
  /** Centroid of daylight power minus solar noon, minutes (positive: late). */
  offset: number;
  /** Whether the day qualifies (enough energy and daylight coverage to judge). */
  qualifies: boolean;
}

/** A flagged shift: inclusive epoch days and its median shift. */
export interface ShiftRun {
  from: number;
  to: number;
  shiftMinutes: number;
}

/** What the check found for one system's channel. */
export interface TimeShiftResult {
  sensor: string;
  /** What "on time" means for the system: 0 for south-facing and tracking arrays, else the median offset. */
  baseline: number;
  points: MiddayPoint[];
  runs: ShiftRun[];
}

const median = (xs: readonly number[]): number => {
  if (xs.length === 0) return 0;
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};

/**
 * Daily midday points of each system's channel (`channels`: ss_id → sensor):
 * the centroid of its positive 10-minute sums between the −5° twilights
 * (each at its bucket's middle), compared with solar noon. A day qualifies
 * with at least 80 % of the readings its sunrise-to-sunset buckets should hold
 * at the channel's cadence, and at least 15 % of the channel's
 * 90th-percentile daily energy.
 */
export async function middayPoints(
  conn: DuckDBConnection,
  channels: ReadonlyMap<number, string>,
): Promise<Map<number, MiddayPoint[]>> {
  await conn.run('CREATE OR REPLACE TEMP TABLE q_main (ss_id BIGINT, sensor VARCHAR)');
  for (const [id, sensor] of channels) await conn.run('INSERT INTO q_main VALUES ($1, $2)', [id, sensor]);
  const res = await conn.runAndReadAll(
    `SELECT b.ss_id, b.d, sum(b.s) FILTER (WHERE b.s > 0) AS e,
            sum(b.s * (b.slot * 10 + 5)) FILTER (WHERE b.s > 0) AS et, any_value(z.noon) AS noon,
            sum(b.n) FILTER (WHERE b.slot * 10 >= z.sunrise AND b.slot * 10 + 10 <= z.sunset) AS covered,
            greatest(1, (floor(any_value(z.sunset) / 10) - ceil(any_value(z.sunrise) / 10)) * 600 / any_value(i.interval_s)) AS daylight
     FROM q_buckets b JOIN q_main USING (ss_id, sensor) JOIN q_sun z USING (ss_id, d) JOIN q_interval i USING (ss_id, sensor)
     WHERE b.slot * 10 + 10 > z.dark_end AND b.slot * 10 < z.dark_start
     GROUP BY b.ss_id, b.d ORDER BY b.ss_id, b.d`,
  );
  const bySystem = new Map<number, Array<Record<string, unknown>>>();
  for (const r of res.getRowObjectsJS() as Array<Record<string, unknown>>) {
    const id = Number(r.ss_id);
    bySystem.set(id, [...(bySystem.get(id) ?? []), r]);
  }
  const out = new Map<number, MiddayPoint[]>();
  for (const [id, rows] of bySystem) {
    const energies = rows.map((r) => Number(r.e ?? 0)).sort((a, b) => a - b);
    const p90 = energies[Math.floor(0.9 * (energies.length - 1))] ?? 0;
    out.set(
      id,
      rows.map((r) => {
        const e = Number(r.e ?? 0);
        const offset = e > 0 ? Number(r.et) / e - Number(r.noon) : 0;
        const qualifies = e > 0 && e >= 0.15 * p90 && Number(r.covered ?? 0) / Number(r.daylight) >= 0.8;
        return { d: Number(r.d), offset, qualifies };
      }),
    );
  }
  return out;
}

/** Whether an array's midday is solar noon: trackers and fixed arrays facing within 20° of south (north in the south). */
export function facesTheEquator(azimuth: number | null, tracking: string | null, latitude: number): boolean {
  if (tracking && /track|axis/i.test(tracking) && !/fixed/i.test(tracking)) return true;
  if (azimuth === null) return false;
  const facing = latitude >= 0 ? 180 : 0;
  const diff = Math.abs(((azimuth - facing + 540) % 360) - 180);
  return diff <= 20;
}

/**
 * Runs of days whose midday is {@link SHIFT_MINUTES} or more off the
 * baseline, the same way, on {@link SHIFT_DAYS} or more qualifying days in a
 * row (days that do not qualify neither break nor extend a run).
 */
export function shiftRuns(points: readonly MiddayPoint[], baseline: number): ShiftRun[] {
  const runs: ShiftRun[] = [];
  let run: { days: number[]; offsets: number[]; sign: number } | null = null;
  const close = () => {
    if (run && run.days.length >= SHIFT_DAYS) {
      runs.push({ from: run.days[0]!, to: run.days.at(-1)!, shiftMinutes: Math.round(median(run.offsets)) });
    }
    run = null;
  };
  for (const p of points) {
    if (!p.qualifies) continue;
    const off = p.offset - baseline;
    const sign = Math.abs(off) >= SHIFT_MINUTES ? Math.sign(off) : 0;
    if (sign === 0 || (run && run.sign !== sign)) close();
    if (sign === 0) continue;
    run ??= { days: [], offsets: [], sign };
    run.days.push(p.d);
    run.offsets.push(off);
  }
  close();
  return runs;
}

/** The time-shift check of one system's channel, from its midday points. */
export function checkTimeShift(sensor: string, points: MiddayPoint[], equatorFacing: boolean): TimeShiftResult {
  const baseline = equatorFacing ? 0 : median(points.filter((p) => p.qualifies).map((p) => p.offset));
  return { sensor, baseline, points, runs: shiftRuns(points, baseline) };
}

/** Records a system's shift runs in `q_flag_day`, every day of a run with its readings of the channel. */
export async function recordShiftDays(conn: DuckDBConnection, ssId: number, result: TimeShiftResult): Promise<void> {
  for (const run of result.runs) {
    await conn.run(
      `INSERT INTO q_flag_day SELECT ss_id, sensor, 'time_shift', d, present FROM q_sensor_day
       WHERE ss_id = $1 AND sensor = $2 AND d BETWEEN $3 AND $4`,
      [ssId, result.sensor, run.from, run.to],
    );
  }
}
