import { PV_QUALITY_DAILY, type QualityDailyRow, type SensorEntry } from '@pv-pipeline/schema';
import type { Sink, WarehouseReader } from '@pv-pipeline/sinks';
import { epochDay } from './buckets.js';
import type { QualityReport } from './report.js';

/** Rows per write of `pv_quality_daily`: bounds a BigQuery request (about 150 bytes a row). */
const ROWS_PER_WRITE = 40_000;

/**
 * Writes what the report derived back into the sink, so SQL users can filter
 * on it: `pv_quality_daily` (each system's sensor-days over the report's
 * range, replacing what an earlier report wrote there) and the inferred
 * cadence in `pv_sensors.interval_s`. Systems are written together up to
 * {@link ROWS_PER_WRITE} rows a write, each write one atomic replace; a
 * system with more rows is written a calendar year at a time.
 */
export async function writeQualityTables(sink: Sink, reader: WarehouseReader, report: QualityReport): Promise<void> {
  const { from, to } = report.json;
  let batch: { ssIds: number[]; rows: QualityDailyRow[] } = { ssIds: [], rows: [] };
  const flush = async () => {
    if (batch.ssIds.length > 0)
      await sink.replaceDerived(PV_QUALITY_DAILY, batch.rows, { ssIds: batch.ssIds, from, to });
    batch = { ssIds: [], rows: [] };
  };
  for (const ssId of report.systemIds) {
    const rows = await report.dailyRows(ssId);
    if (rows.length > ROWS_PER_WRITE) {
      for (let year = Number(from.slice(0, 4)); year <= Number(to.slice(0, 4)); year++) {
        const lo = `${year}-01-01` < from ? from : `${year}-01-01`;
        const hi = `${year}-12-31` > to ? to : `${year}-12-31`;
        const part = rows.filter((r) => r.day >= lo && r.day <= hi);
        await sink.replaceDerived(PV_QUALITY_DAILY, part, { ssIds: [ssId], from: lo, to: hi });
      }
      continue;
    }
    if (batch.rows.length + rows.length > ROWS_PER_WRITE) await flush();
    batch.ssIds.push(ssId);
    batch.rows.push(...rows);
  }
  await flush();
  const intervals = await report.intervals();
  if (intervals.length === 0) return;
  const ids = [...new Set(intervals.map((i) => i.ss_id))].join(', ');
  const cadence = new Map(intervals.map((i) => [JSON.stringify([i.ss_id, i.sensor]), i.interval_s]));
  const sensors = (await reader.query(`SELECT * FROM ${reader.table('pv_sensors')} WHERE ss_id IN (${ids})`))
    .map((row) => ({
      ...row,
      interval_s: cadence.get(JSON.stringify([Number(row.ss_id), String(row.sensor)])) ?? null,
    }))
    .filter((row) => row.interval_s !== null) as unknown as SensorEntry[];
  await sink.upsertSensors(sensors);
}

/** A system's mean daily completeness as an earlier report stored it in `pv_quality_daily`. */
export async function storedAvailability(
  reader: WarehouseReader,
  ssIds: readonly number[],
  from: string,
  to: string,
): Promise<Array<{ ss_id: number; values: Float64Array }>> {
  if (ssIds.length === 0 || !(await reader.hasTable(PV_QUALITY_DAILY.name))) return [];
  const first = epochDay(from);
  const days = epochDay(to) - first + 1;
  const out = new Map(ssIds.map((id) => [id, new Float64Array(days).fill(Number.NaN)]));
  const rows = await reader.query(
    `SELECT ss_id, day, avg(completeness) AS c FROM ${reader.table(PV_QUALITY_DAILY.name)}
     WHERE ss_id IN (${ssIds.join(', ')}) AND day BETWEEN DATE '${from}' AND DATE '${to}' GROUP BY ss_id, day`,
  );
  for (const r of rows) {
    const at = epochDay(String(r.day)) - first;
    if (at >= 0 && at < days) out.get(Number(r.ss_id))![at] = Number(r.c);
  }
  return [...out.entries()].map(([ss_id, values]) => ({ ss_id, values }));
}
