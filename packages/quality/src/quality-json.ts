import type { DroppedCounts } from '@pv-pipeline/core';

/**
 * The contract of `quality.json` (documented in the README and tested): what
 * a PV engineer must know about the data before training on it, per system
 * and sensor. Days are local dates of the system's standard-time clock.
 */
export interface QualityJson {
  /** ISO instant the report was computed. */
  generated_at: string;
  /** The sink it read. */
  sink: string;
  /** The inclusive range of local days reported, `YYYY-MM-DD`. */
  from: string;
  to: string;
  systems: SystemQuality[];
}

/** The kinds of flag, each with its share of readings and its date ranges. */
export const FLAG_KINDS = [
  'missing_days',
  'time_shift',
  'stuck',
  'negative_daylight',
  'night_generation',
  'over_capacity',
  'out_of_range',
  'unit_suspect',
  'outlier',
] as const;
/** One of {@link FLAG_KINDS}. */
export type FlagKind = (typeof FLAG_KINDS)[number];

/** One system of the report. */
export interface SystemQuality {
  ss_id: number;
  /** Public name, when pv_systems has one. */
  name: string | null;
  /** Share of the system's days with completeness ≥ 0.9 and no flag, 0..1 (rounded to 0.01). */
  score: number;
  /** Days reported: from its first to its last day with data, within the range. */
  days: number;
  /** The zone its local days are counted in (`pv_systems.timezone`), or null (then UTC). */
  timezone: string | null;
  /** Whether the sun-dependent checks ran (they need latitude and longitude). */
  sun_checks: boolean;
  /** What the report could not do for this system, and why. */
  notes: string[];
  sensors: SensorQuality[];
  flags: QualityFlag[];
}

/** One sensor of a system. */
export interface SensorQuality {
  sensor: string;
  units: string | null;
  /** Inferred cadence, seconds (also stored in pv_sensors.interval_s). */
  interval_s: number | null;
  /** Readings present / expected over the system's days, 0..1. */
  completeness: number;
  /** Readings present. */
  readings: number;
  /** Readings ingest dropped, by rule (from the ledger of the objects loaded in range). */
  dropped: DroppedCounts;
}

/** One flagged span. */
export interface QualityFlag {
  kind: FlagKind;
  /** The sensor flagged (`*` for the whole system: missing days). */
  sensor: string;
  /** Inclusive local days. */
  from: string;
  to: string;
  /** Share of the sensor's readings in range that the flag covers (missing days: of the system's days). */
  share: number;
  /** time_shift: the shift of measured midday from solar noon, minutes (positive: late). */
  shift_minutes?: number;
}
