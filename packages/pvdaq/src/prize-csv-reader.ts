import { BadInputError } from '@pv-pipeline/core';
import { csvRecords } from './csv-lines.js';
import { wideCellValue } from './csv-pvdata-reader.js';
import type { MetricsDictionary } from './metrics-dictionary.js';
import { type NormalizedReadings, normalizeReadings } from './normalize.js';
import { type PrizeHeader, prizeSensorEntries } from './prize-columns.js';
import { RawReadingsBuilder } from './raw-readings.js';
import type { LocalTimeConverter } from './time-zone.js';
import { naiveTimestampUs, parseTimestampText } from './timestamp-text.js';

/** Options of {@link readPrizeCsv}. */
export interface PrizeCsvOptions {
  /** The source (part) key, for messages. */
  key: string;
  ssId: number;
  /** The file's classified header (read from the first line of the object). */
  header: PrizeHeader;
  /** Whether the stream starts with the header line (the first part of an object). */
  withHeader: boolean;
  /** Localizes `measured_on` (naive site-local time); null when the system's zone is unknown. */
  zone: LocalTimeConverter | null;
  /** CSV lines per emitted batch. Default 4096. */
  batchLines?: number;
  /** Longest line accepted, bytes. Default 1 MiB. */
  maxLineBytes?: number;
}

/** Running totals of a {@link readPrizeCsv} pass, complete once the iteration ends. */
export interface PrizeCsvStats {
  lines: number;
  rows: number;
  /** Empty cells, NaN and sentinels. */
  missing: number;
  /** Lines whose UTC instant an earlier line already had (the first wins). */
  duplicateLines: number;
  /** Smallest and largest UTC instant, epoch µs (null when no rows). */
  minTimestamp: number | null;
  maxTimestamp: number | null;
}

/** How far back (µs) a line's instant is checked against earlier lines: a day and a DST hour. */
const DEDUP_WINDOW_US = 26 * 3600 * 1e6;

/**
 * Reads a prize wide CSV (or one byte range of it, already cut to whole
 * lines) as a stream and yields its fact rows in batches of at most
 * `batchLines` lines, so memory stays flat whatever the object's size.
 * Empty cells, NaN and the sentinels give no row; a line repeating the UTC
 * instant of an earlier line (the fall-back hour of a DST zone) is dropped,
 * the first kept; a non-number cell or an unparseable time fails the object
 * with the line named (counted from the range's start).
 */
export async function* readPrizeCsv(
  chunks: AsyncIterable<Uint8Array>,
  options: PrizeCsvOptions,
  stats: PrizeCsvStats,
): AsyncGenerator<NormalizedReadings> {
  const { key, header, zone } = options;
  const batchLines = options.batchLines ?? 4096;
  const channels = header.channels;
  const width = Math.max(header.timeIndex, ...channels.map((c) => c.index)) + 1;
  const entries = prizeSensorEntries(options.ssId, header);
  const dictionary: MetricsDictionary = {
    ssId: options.ssId,
    key,
    entries,
    byMetricId: new Map(entries.map((e) => [e.metric_id, e])),
  };
  const columnNames = new Map(channels.map((c) => [c.metricId, c.column]));
  const records = csvRecords(chunks, {
    key,
    skipFirstLine: options.withHeader,
    maxLineBytes: options.maxLineBytes ?? 1024 * 1024,
  });
  const recent = new Set<number>();
  let maxSeen = Number.NEGATIVE_INFINITY;
  let builder = new RawReadingsBuilder(batchLines * channels.length, true);
  let inBatch = 0;
  const flush = (): NormalizedReadings => {
    const raw = builder.build(columnNames);
    const out = normalizeReadings(raw, { key, ssId: options.ssId, dictionary, zone: null });
    stats.rows += out.length;
    stats.missing += out.missing;
    for (let i = 0; i < out.length; i++) {
      const t = out.timestamp[i]!;
      if (stats.minTimestamp === null || t < stats.minTimestamp) stats.minTimestamp = t;
      if (stats.maxTimestamp === null || t > stats.maxTimestamp) stats.maxTimestamp = t;
    }
    builder = new RawReadingsBuilder(batchLines * channels.length, true);
    inBatch = 0;
    return out;
  };
  try {
    for await (const chunk of records) {
      for (const { line, fields: rec } of chunk) {
        stats.lines++;
        if (rec.length < width) {
          throw new BadInputError(
            key,
            `line ${line}: ${rec.length} fields, the header has ${header.channels.length + 1}`,
          );
        }
        const text = rec[header.timeIndex]!;
        let localUs = naiveTimestampUs(text);
        let utc = Number.NaN;
        if (Number.isNaN(localUs)) {
          const ts = parseTimestampText(text);
          if (!ts) throw new BadInputError(key, `line ${line}: measured_on "${text.slice(0, 40)}" is not a timestamp`);
          localUs = ts.localUs;
          utc = ts.utcUs;
        }
        if (Number.isNaN(utc)) {
          if (!zone) {
            throw new BadInputError(
              key,
              `system ${options.ssId} has no time zone (systems index or metadata JSON timezone_code), so measured_on cannot be placed in UTC`,
            );
          }
          utc = zone.toUtc(localUs);
        }
        // a line later than every earlier one is new; only a step back needs the set
        if (utc > maxSeen) maxSeen = utc;
        else if (recent.has(utc)) {
          stats.duplicateLines++;
          continue;
        }
        recent.add(utc);
        if (recent.size > 50_000) for (const t of recent) if (t < maxSeen - DEDUP_WINDOW_US) recent.delete(t);
        for (const c of channels) {
          const v = wideCellValue(key, line, c.column, rec[c.index]!);
          if (v === null) {
            builder.emptyCells++;
            continue;
          }
          builder.push(localUs, utc, c.metricId, v);
        }
        if (++inBatch >= batchLines) yield flush();
      }
    }
    // CSV faults are BadInputErrors already; a read error of the stream (a reset
    // connection: retryable) goes up as it is, so the part is tried again
  } finally {
    await records.return(undefined);
  }
  if (inBatch > 0 || builder.emptyCells > 0) yield flush();
}
