import { BadInputError, type ReadingRuleId } from '@pv-pipeline/core';
import { MAX_METRIC_ID } from '../catalog/metrics-dictionary.js';
import { parseCell } from '../rules/reading-rules.js';
import { csvObjectRecords } from './csv-lines.js';
import { type RawReadings, RawReadingsBuilder } from './raw-readings.js';
import type { ResidentialColumn } from './residential-csv.js';
import { parseTimestampText } from './timestamp-text.js';

/** One column of a wide pvdata CSV header. */
export type WideColumn =
  | { kind: 'time'; name: string }
  | { kind: 'system_id'; name: string }
  | { kind: 'sensor'; name: string; sensor: string; metricId: number }
  | { kind: 'other'; name: string };

/** What the reader needs to know about the object. */
export interface CsvPvdataContext {
  /** System id from the key; a `system_id` column must agree with it. */
  ssId: number;
  /**
   * Metric ids of the system's dictionary. A single-underscore suffix
   * (`ac_power_kw_1137`) is read as a metric id only when it is one of these,
   * so a renamed column like `module_temp_1` is not taken for metric 1.
   */
  knownMetricIds: ReadonlySet<number>;
  /**
   * The columns of a residential-feed file ({@link residentialColumns}): they
   * replace the `__<metric_id>` classification, each keyed by its raw id.
   */
  residential?: readonly ResidentialColumn[];
  /**
   * A builder to read into, emptied first and kept for the next object: the
   * readings returned then hold only until its next use.
   * @defaultValue a new builder for this object
   */
  into?: RawReadingsBuilder;
}

/** Up to `max` characters of input text for a message, control bytes and undecodable bytes escaped. */
const shown = (text: string, max: number): string =>
  text
    .slice(0, max)
    .replace(/[\p{Cc}\ufffd]/gu, (c) =>
      c === '\ufffd' ? '\\ufffd' : `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`,
    );

/**
 * A cell of a wide CSV: its number, or the id of the reading rule that drops
 * it (an empty cell or a missing word is `missing`, Infinity, an overflow or
 * hex is `non_finite`; see {@link parseCell}). Any other text is a
 * BadInputError naming the key, line and column. Every wide reader (daily,
 * prize, residential) uses it.
 */
export function wideCellValue(key: string, line: number, column: string, cell: string): number | ReadingRuleId {
  const v = parseCell(cell);
  if (v === undefined) {
    throw new BadInputError(key, `line ${line}, column "${shown(column, 80)}": "${shown(cell, 40)}" is not a number`);
  }
  return v;
}

const TIME_NAMES = new Set(['measured_on', '', 'unnamed: 0', 'timestamp', 'datetime', 'date_time', 'date', 'time']);

/** Classifies the header of a wide pvdata CSV (`measured_on, <sensor>__<metric_id>…, system_id`). */
export function classifyWideHeader(header: readonly string[], ctx: CsvPvdataContext): WideColumn[] {
  const lower = header.map((h) => h.trim().toLowerCase());
  let timeIdx = lower.indexOf('measured_on');
  if (timeIdx < 0 && TIME_NAMES.has(lower[0] ?? 'x')) timeIdx = 0;
  return header.map((raw, i): WideColumn => {
    const name = raw.trim();
    if (i === timeIdx) return { kind: 'time', name };
    if (lower[i] === 'system_id') return { kind: 'system_id', name };
    const dbl = /^(.+?)__(\d+)$/.exec(name);
    if (dbl && Number(dbl[2]) <= MAX_METRIC_ID)
      return { kind: 'sensor', name, sensor: dbl[1]!, metricId: Number(dbl[2]) };
    const single = /^(.+?)_(\d+)$/.exec(name);
    if (single && ctx.knownMetricIds.has(Number(single[2]))) {
      return { kind: 'sensor', name, sensor: single[1]!, metricId: Number(single[2]) };
    }
    return { kind: 'other', name };
  });
}

/** The header as classified by residential columns (the first column is the date). */
function residentialWideColumns(header: readonly string[], columns: readonly ResidentialColumn[]): WideColumn[] {
  const byIndex = new Map(columns.map((c) => [c.index, c]));
  return header.map((raw, i): WideColumn => {
    const name = raw.trim();
    const c = byIndex.get(i);
    if (c) return { kind: 'sensor', name, sensor: c.entry.sensor, metricId: c.rawId };
    if (i === 0 || name.toLowerCase() === 'measured_on') return { kind: 'time', name };
    return { kind: 'other', name };
  });
}

/**
 * Reads a daily wide pvdata CSV into long raw readings, in file order (row by
 * row, column by column). Cells the reading rules drop as text (empty,
 * missing words, non-finite) give no entry and are counted; any other
 * non-number fails the object with the row and column named. A timestamp with
 * an offset (`…-07:00`) carries its own UTC instant; the others are localized
 * by the rules in file order.
 */
export function readCsvPvdata(key: string, bytes: Uint8Array, ctx: CsvPvdataContext): RawReadings {
  if (bytes.length === 0) throw new BadInputError(key, 'empty object (0 bytes)');
  const records = csvObjectRecords(key, bytes);
  const header = records[0];
  if (!header) throw new BadInputError(key, 'CSV has no header');
  const cols = ctx.residential ? residentialWideColumns(header, ctx.residential) : classifyWideHeader(header, ctx);
  const timeIdx = cols.findIndex((c) => c.kind === 'time');
  if (timeIdx < 0)
    throw new BadInputError(key, `CSV header has no measured_on column (header: ${shown(header.join(','), 200)})`);
  const sensors: Array<{ idx: number; metricId: number }> = [];
  const seen = new Map<number, string>();
  for (let i = 0; i < cols.length; i++) {
    const c = cols[i]!;
    if (c.kind !== 'sensor') continue;
    const prev = seen.get(c.metricId);
    if (prev !== undefined) {
      throw new BadInputError(key, `duplicate column for metric_id ${c.metricId} ("${prev}" and "${c.name}")`);
    }
    seen.set(c.metricId, c.name);
    sensors.push({ idx: i, metricId: c.metricId });
  }
  if (sensors.length === 0) {
    throw new BadInputError(
      key,
      `CSV header has no metric ids (expected <sensor>__<metric_id> columns; header: ${shown(header.join(','), 200)})`,
    );
  }
  const sysIdx = cols.findIndex((c) => c.kind === 'system_id');
  const b = ctx.into ?? new RawReadingsBuilder((records.length - 1) * sensors.length, true);
  b.reset();
  for (let r = 1; r < records.length; r++) {
    const rec = records[r]!;
    const line = r + 1;
    const tsText = rec[timeIdx] ?? '';
    const ts = parseTimestampText(tsText);
    if (!ts) throw new BadInputError(key, `line ${line}: measured_on "${shown(tsText, 40)}" is not a timestamp`);
    if (sysIdx >= 0) {
      const s = (rec[sysIdx] ?? '').trim();
      if (s !== '' && Number(s) !== ctx.ssId) {
        throw new BadInputError(
          key,
          `line ${line}: system_id ${shown(s, 20)} disagrees with system_id=${ctx.ssId} in the key`,
        );
      }
    }
    for (const s of sensors) {
      b.pushCell(ts.localUs, ts.utcUs, s.metricId, wideCellValue(key, line, header[s.idx]!, rec[s.idx] ?? ''));
    }
  }
  return b.build(seen);
}
