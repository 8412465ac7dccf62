import type { SystemScope } from '@pv-pipeline/quality/warehouse';
import type { WarehouseReader } from '@pv-pipeline/sinks';

const DAY_S = 86_400;

/** Epoch seconds of a `YYYY-MM-DD` day's UTC midnight. */
export const daySeconds = (day: string): number => Date.parse(`${day}T00:00:00Z`) / 1000;

/**
 * A system's window in UTC epoch seconds, `[lo, hi)`: from its first local
 * day's midnight to the end of its last, on its standard-time clock.
 */
export function utcWindow(sys: Pick<SystemScope, 'offsetMinutes'>, from: string, to: string): [number, number] {
  const off = sys.offsetMinutes * 60;
  return [daySeconds(from) - off, daySeconds(to) + DAY_S - off];
}

/** An instant as a TIMESTAMP literal of the reader's dialect. */
export function timestampSql(reader: Pick<WarehouseReader, 'dialect'>, seconds: number): string {
  const text = new Date(seconds * 1000).toISOString().replace('T', ' ').replace('Z', '+00');
  return `${reader.dialect === 'duckdb' ? 'TIMESTAMPTZ' : 'TIMESTAMP'} '${text}'`;
}

/** `ss_id = … AND timestamp` within the system's window, in the reader's dialect. */
export function utcWindowSql(
  reader: Pick<WarehouseReader, 'dialect'>,
  sys: Pick<SystemScope, 'ss_id' | 'offsetMinutes'>,
  from: string,
  to: string,
): string {
  const [lo, hi] = utcWindow(sys, from, to);
  return `(ss_id = ${sys.ss_id} AND timestamp >= ${timestampSql(reader, lo)} AND timestamp < ${timestampSql(reader, hi)})`;
}
