import { assertDayRange, BadInputError } from '@pv-pipeline/core';

/** The resample intervals an export offers, in seconds. */
export const INTERVALS = { '1m': 60, '5m': 300, '15m': 900, '1h': 3600 } as const;
/** One of {@link INTERVALS}. */
export type IntervalName = keyof typeof INTERVALS;

/**
 * How a sensor's readings in a bucket become its value: `mean` for
 * instantaneous quantities, `last` for cumulative counters (an energy meter),
 * `sum` for energy per interval.
 */
export const AGGREGATIONS = ['mean', 'last', 'sum'] as const;
/** One of {@link AGGREGATIONS}. */
export type Aggregation = (typeof AGGREGATIONS)[number];

/**
 * How buckets are split: `time` in contiguous blocks (train, then valid,
 * then test, an embargo dropped between), `system` by a seeded hash of the
 * system id, `both` test systems held out and the others split in time.
 */
export const SPLIT_MODES = ['time', 'system', 'both'] as const;
/** One of {@link SPLIT_MODES}. */
export type SplitMode = (typeof SPLIT_MODES)[number];

/** The file formats an export writes. */
export const EXPORT_FORMATS = ['parquet', 'arrow'] as const;
/** One of {@link EXPORT_FORMATS}. */
export type ExportFormat = (typeof EXPORT_FORMATS)[number];

/** What to export, validated (see {@link validateExportRequest}). */
export interface ExportRequest {
  /** The grid's bucket width. */
  interval: IntervalName;
  /** System ids, or every system with readings. @defaultValue 'all' */
  systems: number[] | 'all';
  /** First and last local day (the system's standard time), `YYYY-MM-DD`. @defaultValue the first and last day with readings */
  from?: string;
  to?: string;
  /** @defaultValue 'time' */
  split: SplitMode;
  /** Share of the span (time) or of the systems (system) for validation. @defaultValue 0.1 */
  valid: number;
  /** Share for test. @defaultValue 0.1 */
  test: number;
  /** Seconds dropped between two time splits. @defaultValue 86400 (1d) */
  embargoS: number;
  /** Seed of the system hash. @defaultValue '0' */
  seed: string;
  /** Readings of sensor-days the quality report flagged become missing. @defaultValue false */
  dropFlagged: boolean;
  /** @defaultValue 'parquet' */
  format: ExportFormat;
  /** Aggregations by sensor name, over the defaults. @defaultValue none */
  aggregations: Record<string, Aggregation>;
}

/** {@link ExportRequest} as a caller gives it: only the interval is required. */
export type ExportRequestInput = Pick<ExportRequest, 'interval'> & Partial<Omit<ExportRequest, 'interval'>>;

const UNIT_S: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86_400, w: 604_800 };

/** A duration such as `1d`, `12h`, `30m` or `0`, in seconds; a BadInputError naming `option` otherwise. */
export function parseDuration(text: string, option: string): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([smhdw]?)\s*$/.exec(text);
  if (!m || (m[2] === '' && Number(m[1]) !== 0)) {
    throw new BadInputError(option, `"${text}" is not a duration (e.g. 0, 30m, 12h, 1d, 2w)`);
  }
  return Math.round(Number(m[1]) * (UNIT_S[m[2] || 's'] ?? 1));
}

/** `--agg sensor=mean,other=last` → overrides; a BadInputError naming `--agg` on a malformed entry. */
export function parseAggregations(text: string): Record<string, Aggregation> {
  const out: Record<string, Aggregation> = {};
  for (const entry of text.split(',').map((e) => e.trim())) {
    if (entry === '') continue;
    const [sensor, agg] = entry.split('=').map((p) => p.trim());
    if (!sensor || !agg || !(AGGREGATIONS as readonly string[]).includes(agg)) {
      throw new BadInputError('--agg', `"${entry}" is not sensor=${AGGREGATIONS.join('|')}`);
    }
    out[sensor] = agg as Aggregation;
  }
  return out;
}

function oneOf<T extends string>(option: string, value: string, allowed: readonly T[]): T {
  if (!(allowed as readonly string[]).includes(value)) {
    throw new BadInputError(option, `"${value}" is not one of ${allowed.join(', ')}`);
  }
  return value as T;
}

function share(option: string, value: number): number {
  if (!Number.isFinite(value) || value < 0 || value >= 1) {
    throw new BadInputError(option, `${value} is not a share in [0, 1)`);
  }
  return value;
}

/** Checks a request and fills its defaults; every problem is a BadInputError naming its option. */
export function validateExportRequest(input: ExportRequestInput): ExportRequest {
  const interval = oneOf('--interval', String(input.interval), Object.keys(INTERVALS) as IntervalName[]);
  assertDayRange(input.from, input.to);
  const valid = share('--valid', input.valid ?? 0.1);
  const test = share('--test', input.test ?? 0.1);
  if (valid + test >= 1)
    throw new BadInputError('--valid', `--valid ${valid} and --test ${test} leave nothing to train on`);
  const embargoS = input.embargoS ?? 86_400;
  if (!Number.isInteger(embargoS) || embargoS < 0)
    throw new BadInputError('--embargo', `${embargoS} s is not a duration`);
  return {
    interval,
    systems: input.systems ?? 'all',
    ...(input.from ? { from: input.from } : {}),
    ...(input.to ? { to: input.to } : {}),
    split: oneOf('--split', input.split ?? 'time', SPLIT_MODES),
    valid,
    test,
    embargoS,
    seed: input.seed ?? '0',
    dropFlagged: input.dropFlagged ?? false,
    format: oneOf('--format', input.format ?? 'parquet', EXPORT_FORMATS),
    aggregations: input.aggregations ?? {},
  };
}
