import type { DuckDBConnection } from '@duckdb/node-api';
import { BadInputError } from '@pv-pipeline/core';
import type { SensorKind, SystemScope } from '@pv-pipeline/quality/warehouse';
import type { Aggregation } from './export-options.js';

/** A sensor of the export with its aggregation and why. */
export interface ExportSensor {
  ss_id: number;
  sensor: string;
  units: string | null;
  kind: SensorKind;
  aggregation: Aggregation;
  /** `override`, `kind` (mean of an instantaneous quantity, sum of energy) or `counter` (energy readings that never fall). */
  chosenBy: 'override' | 'kind' | 'counter';
}

/** A (system, sensor) pair. */
export interface SensorRef {
  ss_id: number;
  sensor: string;
}

/** Falls per day at most of a cumulative counter (a daily reset is one; energy per interval falls every afternoon). */
export const COUNTER_FALLS_PER_DAY = 1.5;

/** An override naming no sensor of the export is a BadInputError naming `--agg`. */
export function checkOverrides(
  systems: readonly SystemScope[],
  overrides: Readonly<Record<string, Aggregation>>,
): void {
  const known = new Set(systems.flatMap((s) => s.sensors.map((x) => x.sensor)));
  const unknown = Object.keys(overrides).filter((name) => !known.has(name));
  if (unknown.length > 0) {
    throw new BadInputError(
      '--agg',
      `no sensor ${unknown.map((u) => `"${u}"`).join(', ')} in the systems exported (they have ${[...known].sort().join(', ')})`,
    );
  }
}

/**
 * The sensors whose bucket edges the pass computes (first and last reading,
 * min, max): the energy channels, to tell counters from energy per interval,
 * and any sensor overridden to `last`.
 */
export function edgeSensors(
  systems: readonly SystemScope[],
  overrides: Readonly<Record<string, Aggregation>>,
): SensorRef[] {
  return systems.flatMap((sys) =>
    sys.sensors
      .filter((s) => (s.kind === 'energy' && overrides[s.sensor] === undefined) || overrides[s.sensor] === 'last')
      .map((s) => ({ ss_id: sys.ss_id, sensor: s.sensor })),
  );
}

/**
 * The cumulative counters among the energy channels, from the bucket edges in
 * `x_edge`: a counter's readings never fall but at a reset (a daily counter
 * once a day), so it falls — within a bucket (its first reading is not the
 * minimum or its last not the maximum) or between buckets (its first reading
 * below the previous bucket's last) — at most {@link COUNTER_FALLS_PER_DAY}
 * times a day on average, whatever the bucket width. Energy per interval
 * rises and falls with the sun: it falls many times a day. Keys are
 * `ss_id \0 sensor`.
 */
export async function detectCounters(conn: DuckDBConnection, intervalS: number): Promise<Set<string>> {
  const rows = (
    await conn.runAndReadAll(`
    SELECT ss_id, sensor,
           count(*) FILTER (WHERE NOT (first = mn AND last = mx AND (prev IS NULL OR first >= prev))) AS falls,
           count(*) AS buckets, (max(b) - min(b) + 1) * ${intervalS} / 86400.0 AS days
    FROM (SELECT *, lag(last) OVER (PARTITION BY ss_id, sensor ORDER BY b) AS prev FROM x_edge)
    GROUP BY ss_id, sensor`)
  ).getRows();
  return new Set(
    rows
      .filter((r) => Number(r[3]) >= 2 && Number(r[2]) <= COUNTER_FALLS_PER_DAY * Math.max(1, Number(r[4])))
      .map((r) => `${Number(r[0])}\u0000${String(r[1])}`),
  );
}

/**
 * The aggregation of every sensor of the systems: the override by name, else
 * mean for instantaneous quantities, last for cumulative counters, sum for
 * energy per interval.
 */
export function chooseAggregations(
  systems: readonly SystemScope[],
  overrides: Readonly<Record<string, Aggregation>>,
  counters: ReadonlySet<string>,
): ExportSensor[] {
  return systems.flatMap((sys) =>
    sys.sensors.map((s): ExportSensor => {
      const base = { ss_id: sys.ss_id, sensor: s.sensor, units: s.units, kind: s.kind };
      const override = overrides[s.sensor];
      if (override) return { ...base, aggregation: override, chosenBy: 'override' };
      if (s.kind !== 'energy') return { ...base, aggregation: 'mean', chosenBy: 'kind' };
      return counters.has(`${sys.ss_id}\u0000${s.sensor}`)
        ? { ...base, aggregation: 'last', chosenBy: 'counter' }
        : { ...base, aggregation: 'sum', chosenBy: 'kind' };
    }),
  );
}
