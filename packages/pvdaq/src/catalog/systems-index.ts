import { BadInputError } from '@pv-pipeline/core';
import { parse } from 'csv-parse/sync';

/** One row of `systems_YYYYMMDD.csv`, keyed by header name (trimmed), values as text. */
export type IndexRow = Record<string, string>;

/**
 * Reads a systems index CSV (`systems_20250729.csv`: 26 named columns and some
 * `Unnamed: N` spreadsheet columns; one row per system × array orientation).
 * Rows without a numeric system_id are skipped.
 */
export function readSystemsIndex(key: string, bytes: Uint8Array): IndexRow[] {
  let records: string[][];
  try {
    records = parse(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength), {
      bom: true,
      skip_empty_lines: true,
      relax_column_count: true,
    }) as string[][];
  } catch (err) {
    throw new BadInputError(key, `malformed CSV: ${(err as Error).message}`, err);
  }
  const header = (records[0] ?? []).map((h) => h.trim());
  if (!header.includes('system_id')) throw new BadInputError(key, 'systems index has no system_id column');
  const rows: IndexRow[] = [];
  for (const rec of records.slice(1)) {
    const row: IndexRow = {};
    header.forEach((h, i) => {
      if (h !== '' && !h.startsWith('Unnamed:') && !(h in row)) row[h] = (rec[i] ?? '').trim();
    });
    if (/^\d+$/.test(row.system_id ?? '')) rows.push(row);
  }
  return rows;
}
