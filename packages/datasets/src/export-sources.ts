import type { DuckDBConnection } from '@duckdb/node-api';
import { appendRows, type ReportScope } from '@pv-pipeline/quality/warehouse';
import type { WarehouseReader } from '@pv-pipeline/sinks';
import { daySeconds, utcWindow } from './window-sql.js';

/** A loaded object whose readings may fall in the export (the ledger's row). */
export interface LedgerEntry {
  key: string;
  etag: string;
  run_id: string;
  ss_id: number;
}

/** What the warehouse loaded for the systems in scope, and the span their readings can cover. */
export interface ExportSources {
  /** Objects with readings overlapping each system's window, sorted by key. */
  ledger: LedgerEntry[];
  /** Bucket-aligned `[lo, hi)` epoch seconds over every system: the span the time split divides. */
  lo: number;
  hi: number;
  /** The same span per system (systems without readings in range have none). */
  spans: Map<number, [number, number]>;
}

const seconds = (v: unknown): number | null => (typeof v === 'string' ? Date.parse(v) / 1000 : null);

/**
 * Reads the ledger of the systems in scope: the objects loaded with readings
 * in each system's window, and the span those readings can cover (each
 * object's first and last instant, clipped to its system's window, aligned to
 * the buckets).
 */
export async function readSources(
  reader: WarehouseReader,
  scope: ReportScope,
  intervalS: number,
): Promise<ExportSources> {
  const rowsCol = reader.dialect === 'bigquery' ? '`rows`' : '"rows"';
  const rows = await reader.query(
    `SELECT source_key, etag, run_id, ss_id, min_timestamp, max_timestamp FROM ${reader.table('pv_ingest_ledger')}
     WHERE ss_id IN (${scope.systems.map((s) => s.ss_id).join(', ')}) AND ${rowsCol} > 0`,
  );
  const windows = new Map(scope.systems.map((s) => [s.ss_id, utcWindow(s, scope.from, scope.to)]));
  let lo = Number.POSITIVE_INFINITY;
  let hi = Number.NEGATIVE_INFINITY;
  const ledger: LedgerEntry[] = [];
  const spans = new Map<number, [number, number]>();
  for (const r of rows) {
    const [wLo, wHi] = windows.get(Number(r.ss_id))!;
    const first = Math.max(wLo, seconds(r.min_timestamp) ?? wLo);
    const last = Math.min(wHi - 1, seconds(r.max_timestamp) ?? wHi - 1);
    if (last < first) continue;
    const [a, b] = [Math.floor(first / intervalS) * intervalS, (Math.floor(last / intervalS) + 1) * intervalS];
    const span = spans.get(Number(r.ss_id));
    spans.set(Number(r.ss_id), span ? [Math.min(span[0], a), Math.max(span[1], b)] : [a, b]);
    lo = Math.min(lo, a);
    hi = Math.max(hi, b);
    ledger.push({ key: String(r.source_key), etag: String(r.etag), run_id: String(r.run_id), ss_id: Number(r.ss_id) });
  }
  ledger.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  return { ledger, lo, hi, spans };
}

/** The quality flags an export uses, from the sink's `pv_quality_daily`. */
export interface QualityFlags {
  /** Whether the sink has the table (a quality report was written). */
  available: boolean;
  generatedAt: string | null;
  /** Sensor-days with any flag but missing days: `[ss_id, sensor, epoch day]`. */
  flagged: Array<[number, string, number]>;
  /** Days whose sensors are flagged over capacity or unit suspect: `[ss_id, epoch day]`. */
  capacity: Array<[number, number]>;
}

/** Reads the flagged sensor-days of the systems and days in scope. */
export async function readQualityFlags(reader: WarehouseReader, scope: ReportScope): Promise<QualityFlags> {
  if (!(await reader.hasTable('pv_quality_daily')))
    return { available: false, generatedAt: null, flagged: [], capacity: [] };
  const rows = await reader.query(
    `SELECT ss_id, sensor, day, flags, generated_at FROM ${reader.table('pv_quality_daily')}
     WHERE ss_id IN (${scope.systems.map((s) => s.ss_id).join(', ')}) AND flags IS NOT NULL
       AND day >= DATE '${scope.from}' AND day <= DATE '${scope.to}'
     ORDER BY ss_id, sensor, day`,
  );
  const generated = await reader.query(`SELECT MAX(generated_at) AS g FROM ${reader.table('pv_quality_daily')}`);
  const flagged: QualityFlags['flagged'] = [];
  const capacity = new Set<string>();
  for (const r of rows) {
    const kinds = String(r.flags).split(',');
    const d = daySeconds(String(r.day)) / 86_400;
    if (kinds.some((k) => k !== 'missing_days')) flagged.push([Number(r.ss_id), String(r.sensor), d]);
    if (kinds.includes('over_capacity') || kinds.includes('unit_suspect')) capacity.add(`${Number(r.ss_id)}:${d}`);
  }
  return {
    available: true,
    generatedAt: generated[0]?.g === null || generated[0]?.g === undefined ? null : String(generated[0].g),
    flagged,
    capacity: [...capacity].map((k) => k.split(':').map(Number) as [number, number]),
  };
}

/** Puts the flags where the frame's SQL finds them: `x_flag` (ss_id, sensor, d) and `x_capflag` (ss_id, d). */
export async function loadQualityFlags(conn: DuckDBConnection, flags: QualityFlags): Promise<void> {
  await appendRows(
    conn,
    'x_flag',
    [
      ['ss_id', 'BIGINT'],
      ['sensor', 'VARCHAR'],
      ['d', 'BIGINT'],
    ],
    flags.flagged.map(([ss_id, sensor, d]) => ({ ss_id, sensor, d })),
  );
  await appendRows(
    conn,
    'x_capflag',
    [
      ['ss_id', 'BIGINT'],
      ['d', 'BIGINT'],
    ],
    flags.capacity.map(([ss_id, d]) => ({ ss_id, d })),
  );
}
