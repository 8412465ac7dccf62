import type { DuckDBConnection } from '@duckdb/node-api';
import { parseTimeZone } from '@pv-pipeline/pvdaq/time-zones';
import { appendRows, mainChannel, type SystemScope, wattsPerUnit } from '@pv-pipeline/quality/warehouse';
import type { ExportSensor } from './aggregation.js';
import { type SplitPlan, timeSplitSql } from './splits.js';
import type { SunSeries } from './sun-positions.js';
import { appendSun } from './sun-table.js';

/** The feature columns every file has after the sensors, in order. */
export const FEATURE_COLUMNS = [
  'solar_zenith',
  'solar_azimuth',
  'solar_elevation',
  'is_day',
  'tod_sin',
  'tod_cos',
  'doy_sin',
  'doy_cos',
  'ac_power_norm',
] as const;

/** Names a sensor column may not take, lower case (the key, the features, the frame's own `b`). */
export const RESERVED_COLUMNS = new Set<string>([
  'ss_id',
  'timestamp',
  'timestamp_local',
  'split',
  'b',
  ...FEATURE_COLUMNS,
]);

/** A name as a DuckDB identifier. */
export const ident = (name: string): string => `"${name.replaceAll('"', '""')}"`;
/** A text as a DuckDB string literal. */
export const text = (v: string): string => `'${v.replaceAll("'", "''")}'`;

/**
 * Systems whose frames are built together: the same sensors with the same
 * units and aggregations (so one pivot serves them all).
 */
export interface FrameGroup {
  systems: SystemScope[];
  /** The sensors of the first system; the others' are the same but for ss_id. */
  sensors: ExportSensor[];
}

/** Grid rows a group is built with at most (it bounds the engine's memory), estimated from each system's span. */
export const GROUP_ROWS = 2_000_000;

/**
 * Groups systems by a signature of their sensors, in id order, each group at
 * most {@link GROUP_ROWS} estimated grid rows (a system larger than that is a
 * group of its own).
 */
export function groupSystems<T extends { ss_id: number }>(
  systems: readonly T[],
  signature: (sys: T) => string,
  estimatedRows: (ssId: number) => number,
): T[][] {
  const open = new Map<string, { members: T[]; rows: number }>();
  const order: T[][] = [];
  for (const sys of systems) {
    const key = signature(sys);
    const rows = estimatedRows(sys.ss_id);
    let group = open.get(key);
    if (!group || group.rows + rows > GROUP_ROWS) {
      group = { members: [], rows: 0 };
      open.set(key, group);
      order.push(group.members);
    }
    group.members.push(sys);
    group.rows += rows;
  }
  return order;
}

/** What a group's frames are built from. */
export interface FrameInput {
  group: FrameGroup;
  /** Every sensor column of the export (the union over systems), sorted. */
  columns: readonly string[];
  intervalS: number;
  plan: SplitPlan;
  /** `x_flag` holds the sensor-days whose readings become missing. */
  dropFlagged: boolean;
  /** The sun over the located systems' spans, computed ahead. */
  sun: readonly SunSeries[];
}

/** A system's frame: its grid's first and last bucket and its rows per split (embargo: null). */
export interface FrameStats {
  ss_id: number;
  first: number;
  last: number;
  grid: number;
  rows: Map<string | null, number>;
}

/** How the system's clock shows a UTC instant `ts` (TIMESTAMPTZ), as SQL of a TIMESTAMP. */
function localTimeSql(timezone: string | null, ts: string): string {
  if (!timezone) return `timezone('UTC', ${ts})`;
  try {
    const spec = parseTimeZone(timezone, 'pv_systems.timezone');
    return spec.kind === 'iana'
      ? `timezone(${text(spec.name)}, ${ts})`
      : `timezone('UTC', ${ts}) + INTERVAL (${spec.offsetMinutes}) MINUTE`;
  } catch {
    return `timezone('UTC', ${ts})`;
  }
}

/** A sensor's bucket value by its aggregation, over `x_agg` columns n, total, last. */
function valueSql(agg: ExportSensor['aggregation']): string {
  if (agg === 'mean') return 'a.total / a.n';
  if (agg === 'sum') return 'a.total';
  return 'a.last';
}

/**
 * Builds `x_out` for a group: one row per system and bucket of its grid (its
 * first to its last bucket with readings, every bucket present), the sensors
 * pivoted into columns with their counts, the features, and the split of each
 * bucket (NULL in an embargo), sorted by system and time. A bucket without
 * readings of a sensor has the value NULL and the count 0, never a
 * zero-filled value. Needs `x_agg`, `x_flag` and `x_capflag`.
 */
export async function buildFrames(conn: DuckDBConnection, input: FrameInput): Promise<FrameStats[]> {
  const { group, columns, intervalS: I, plan } = input;
  const { sensors } = group;
  const ac = mainChannel(sensors as never, 'ac_power') as ExportSensor | null;
  const perWatt = ac ? wattsPerUnit(ac.units) : null;
  await appendRows(
    conn,
    'x_sys',
    [
      ['ss_id', 'BIGINT'],
      ['off_s', 'BIGINT'],
      ['capacity_w', 'DOUBLE'],
      ['held', 'VARCHAR'],
    ],
    group.systems.map((s) => ({
      ss_id: s.ss_id,
      off_s: s.offsetMinutes * 60,
      capacity_w: s.capacityKw !== null && s.capacityKw > 0 ? s.capacityKw * 1000 : null,
      held: plan.systems.get(s.ss_id) ?? null,
    })),
  );
  const ids = group.systems.map((s) => s.ss_id).join(', ');
  const dropped = input.dropFlagged ? 'f.d IS NOT NULL' : 'false';
  const pivot = sensors.flatMap((s) => [
    `max(CASE WHEN a.sensor = ${text(s.sensor)} AND NOT (${dropped}) THEN ${valueSql(s.aggregation)} END) AS ${ident(s.sensor)}`,
    `sum(CASE WHEN a.sensor = ${text(s.sensor)} AND NOT (${dropped}) THEN a.n ELSE 0 END) AS ${ident(`${s.sensor}__n`)}`,
  ]);
  await conn.run(`CREATE OR REPLACE TEMP TABLE x_wide AS
    SELECT a.ss_id, a.b${pivot.length > 0 ? `, ${pivot.join(',\n      ')}` : ''}
    FROM x_agg a ${
      input.dropFlagged
        ? `JOIN x_sys y ON y.ss_id = a.ss_id
      LEFT JOIN x_flag f ON f.ss_id = a.ss_id AND f.sensor = a.sensor AND f.d = (a.b * ${I} + y.off_s) // 86400`
        : ''
    }
    WHERE a.ss_id IN (${ids})
    GROUP BY a.ss_id, a.b`);
  const spans = (
    await conn.runAndReadAll('SELECT ss_id, min(b), max(b) FROM x_wide GROUP BY ss_id ORDER BY ss_id')
  ).getRows();
  const located = new Map(
    group.systems.filter((s) => s.latitude !== null && s.longitude !== null).map((s) => [s.ss_id, s]),
  );
  await appendSun(
    conn,
    spans.flatMap(([id, first, last]) => {
      const sys = located.get(Number(id));
      return sys ? [{ sys, first: Number(first), last: Number(last) }] : [];
    }),
    I,
    input.sun,
  );

  const own = new Set(sensors.map((s) => s.sensor));
  const sensorCols = columns.flatMap((c) =>
    own.has(c)
      ? [`w.${ident(c)}`, `CAST(coalesce(w.${ident(`${c}__n`)}, 0) AS INTEGER) AS ${ident(`${c}__n`)}`]
      : [`CAST(NULL AS DOUBLE) AS ${ident(c)}`, `CAST(0 AS INTEGER) AS ${ident(`${c}__n`)}`],
  );
  const norm =
    ac && perWatt !== null
      ? `CASE WHEN c.d IS NULL THEN w.${ident(ac.sensor)} * ${perWatt} / y.capacity_w END`
      : 'CAST(NULL AS DOUBLE)';
  const local = `CASE g.ss_id ${group.systems
    .map((s) => `WHEN ${s.ss_id} THEN ${localTimeSql(s.timezone, 'g.ts')}`)
    .join(' ')} END`;
  const timeSplit = timeSplitSql(plan, `(g.b * ${I})`);
  await conn.run(`CREATE OR REPLACE TEMP TABLE x_out AS
    WITH spans AS (SELECT ss_id, min(b) AS lo, max(b) AS hi FROM x_wide GROUP BY ss_id),
    g0 AS (SELECT ss_id, unnest(generate_series(lo, hi)) AS b FROM spans),
    g AS (SELECT ss_id, b, to_timestamp(b * ${I}) AS ts FROM g0),
    f AS (SELECT g.ss_id, g.b, g.ts, ${local} AS ts_local FROM g)
    SELECT f.ss_id, f.ts AS timestamp, f.ts_local AS timestamp_local,
      ${sensorCols.join(',\n      ')},
      s.zenith AS solar_zenith,
      s.azimuth AS solar_azimuth,
      90 - s.zenith AS solar_elevation,
      s.zenith < 90 AS is_day,
      sin(2 * pi() * (epoch(f.ts_local) % 86400) / 86400) AS tod_sin,
      cos(2 * pi() * (epoch(f.ts_local) % 86400) / 86400) AS tod_cos,
      sin(2 * pi() * (dayofyear(f.ts_local) - 1) / 365.25) AS doy_sin,
      cos(2 * pi() * (dayofyear(f.ts_local) - 1) / 365.25) AS doy_cos,
      ${norm} AS ac_power_norm,
      coalesce(y.held, ${timeSplit.replaceAll('g.b', 'f.b')}) AS split
    FROM f JOIN x_sys y ON y.ss_id = f.ss_id
    LEFT JOIN x_wide w ON w.ss_id = f.ss_id AND w.b = f.b
    LEFT JOIN x_sun s ON s.ss_id = f.ss_id AND s.b = f.b
    LEFT JOIN x_capflag c ON c.ss_id = f.ss_id AND c.d = (f.b * ${I} + y.off_s) // 86400
    ORDER BY f.ss_id, f.b`);
  const counts = (await conn.runAndReadAll('SELECT ss_id, split, count(*) FROM x_out GROUP BY ss_id, split')).getRows();
  return spans.map(([id, first, last]) => {
    const rows = new Map<string | null, number>();
    for (const [cid, split, n] of counts) {
      if (Number(cid) === Number(id)) rows.set(split === null ? null : String(split), Number(n));
    }
    return {
      ss_id: Number(id),
      first: Number(first) * I,
      last: Number(last) * I,
      grid: Number(last) - Number(first) + 1,
      rows,
    };
  });
}
