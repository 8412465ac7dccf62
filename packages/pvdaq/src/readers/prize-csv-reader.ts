import { addDropped, BadInputError, type DroppedCounts, noneDropped } from '@pv-pipeline/core';
import type { MetricsDictionary } from '../catalog/metrics-dictionary.js';
import type { LocalTimeResolver } from '../rules/local-time.js';
import { NormalizedBuffers, type NormalizedReadings, normalizeReadings, timeRangeOf } from '../rules/normalize.js';
import { type CsvLine, csvFields, csvLines } from './csv-lines.js';
import { wideCellValue } from './csv-pvdata-reader.js';
import { plainDecimalInto } from './decimal-span.js';
import type { PrizeHeader } from './prize-columns.js';
import { RawReadingsBuilder } from './raw-readings.js';
import { naiveTimestampUs, parseTimestampText } from './timestamp-text.js';

/** Options of {@link readPrizeCsv}. */
export interface PrizeCsvOptions {
  /** The source (part) key, for messages. */
  key: string;
  ssId: number;
  /** The file's classified header (read from the first line of the object). */
  header: PrizeHeader;
  /** The system's channels by channel id, named uniquely across all its files (the catalog's). */
  dictionary: MetricsDictionary;
  /** Whether the stream starts with the header line (the first part of an object). */
  withHeader: boolean;
  /**
   * Localizes `measured_on` (naive site-local time) in file order, from the
   * first line of this range on; null when the system's zone is unknown.
   */
  zone: LocalTimeResolver | null;
  /** Where the zone was looked for, for the message when it is unknown. */
  zoneSources?: string;
  /**
   * Called once, before the first line is localized, when that line's wall
   * time is ambiguous (the repeated fall-back hour): resolves to the wall
   * times of the lines before this range, from the last one outside the
   * repeated hour, which the zone then replays.
   * @defaultValue none (the range is
   * read as if it started the file).
   */
  lookBack?: () => Promise<number[]>;
  /**
   * UTC instants whose lines are held back and emitted last, normalized
   * together, so that the last of a repeated reading wins across batches (the
   * second pass of a range whose {@link PrizeCsvStats.late} was not empty).
   * @defaultValue none.
   */
  holdInstants?: ReadonlySet<number>;
  /** CSV lines per emitted batch. @defaultValue 4096 */
  batchLines?: number;
  /** Longest line accepted, bytes. @defaultValue 1 MiB */
  maxLineBytes?: number;
  /**
   * Write every batch into the same column buffers (see NormalizedBuffers):
   * a batch then holds only until the next is asked for, so the consumer must
   * be done with it by then. Saves the collector a batch of garbage per batch.
   * @defaultValue false: each batch has arrays of its own
   */
  reuseBatchBuffers?: boolean;
}

/** Running totals of a {@link readPrizeCsv} pass, complete once the iteration ends. */
export interface PrizeCsvStats {
  lines: number;
  rows: number;
  /** Readings the rules dropped, by rule. */
  dropped: DroppedCounts;
  /** The same, by sensor. */
  droppedBySensor: Record<string, DroppedCounts>;
  /** Smallest and largest UTC instant, epoch µs (null when no rows). */
  minTimestamp: number | null;
  maxTimestamp: number | null;
  /**
   * Instants of lines not later than every line before them. A repeated
   * reading is among them; when any exist, the range is read again with
   * `holdInstants` set to them, so that the last occurrence wins.
   */
  late: number[];
}

/** Fresh totals for {@link readPrizeCsv}. */
export function emptyPrizeCsvStats(): PrizeCsvStats {
  return {
    lines: 0,
    rows: 0,
    dropped: noneDropped(),
    droppedBySensor: {},
    minTimestamp: null,
    maxTimestamp: null,
    late: [],
  };
}

/**
 * Reads a prize wide CSV (or one byte range of it, already cut to whole
 * lines) as a stream and yields its fact rows in batches of at most
 * `batchLines` lines, so memory stays flat whatever the object's size. The
 * reading rules apply as in every reader: cells dropped by rule are counted,
 * local times are localized in file order (the fall-back hour losslessly,
 * see LocalTimeResolver), a repeated reading keeps its last occurrence. A
 * non-number cell or an unparseable time fails the object with the line named
 * (counted from the range's start).
 */
export async function* readPrizeCsv(
  chunks: AsyncIterable<Uint8Array>,
  options: PrizeCsvOptions,
  stats: PrizeCsvStats,
): AsyncGenerator<NormalizedReadings> {
  const { key, header, zone, dictionary, holdInstants } = options;
  const batchLines = options.batchLines ?? 4096;
  const channels = header.channels;
  for (const c of channels) {
    if (!dictionary.byMetricId.has(c.metricId)) {
      throw new BadInputError(key, `channel ${c.column} (id ${c.metricId}) is not among the system's channels`);
    }
  }
  const width = Math.max(header.timeIndex, ...channels.map((c) => c.index)) + 1;
  const columnNames = new Map(channels.map((c) => [c.metricId, c.column]));
  const lines = csvLines(chunks, {
    key,
    skipFirstLine: options.withHeader,
    maxLineBytes: options.maxLineBytes ?? 1024 * 1024,
  });
  let maxSeen = Number.NEGATIVE_INFINITY;
  let lookedBack = options.lookBack === undefined;
  const newBuilder = () => new RawReadingsBuilder(batchLines * channels.length, true);
  const builder = newBuilder();
  const held = holdInstants && holdInstants.size > 0 ? newBuilder() : null;
  let inBatch = 0;
  const batchBuffers = options.reuseBatchBuffers ? new NormalizedBuffers() : undefined;
  // the rows are already in UTC: normalize only joins, applies the value rules and dedups
  const normalize = (b: RawReadingsBuilder): NormalizedReadings => {
    const out = normalizeReadings(b.build(columnNames), {
      key,
      ssId: options.ssId,
      dictionary,
      zone: null,
      ...(batchBuffers ? { into: batchBuffers } : {}),
    });
    stats.rows += out.length;
    addDropped(stats.dropped, out.dropped);
    for (const [sensor, counts] of Object.entries(out.droppedBySensor)) {
      addDropped((stats.droppedBySensor[sensor] ??= noneDropped()), counts);
    }
    const range = timeRangeOf(out.timestamp);
    if (range) {
      if (stats.minTimestamp === null || range[0] < stats.minTimestamp) stats.minTimestamp = range[0];
      if (stats.maxTimestamp === null || range[1] > stats.maxTimestamp) stats.maxTimestamp = range[1];
    }
    return out;
  };
  // where each of the first `width` fields of an unquoted line starts and ends in its chunk's text
  const starts = new Int32Array(width);
  const ends = new Int32Array(width);
  const cell = new Float64Array(1);
  try {
    for await (const chunk of lines) {
      for (const l of chunk) {
        // a quoted line is cut into strings by csv-parse; any other is read in place
        const fields = l.quoted ? csvFields(key, l) : null;
        if (l.quoted && !fields) continue;
        const { line, text } = l;
        stats.lines++;
        if (fields ? fields.length < width : !cutFields(text, l.start, l.end, starts, ends)) {
          const count = (fields ?? text.slice(l.start, l.end).split(',')).length;
          throw new BadInputError(key, `line ${line}: ${count} fields, the header has ${header.channels.length + 1}`);
        }
        const timeText = fields
          ? fields[header.timeIndex]!
          : text.slice(starts[header.timeIndex], ends[header.timeIndex]);
        let localUs = naiveTimestampUs(timeText);
        let utc = Number.NaN;
        if (Number.isNaN(localUs)) {
          const ts = parseTimestampText(timeText);
          if (!ts) {
            throw new BadInputError(key, `line ${line}: measured_on "${timeText.slice(0, 40)}" is not a timestamp`);
          }
          localUs = ts.localUs;
          utc = ts.utcUs;
        }
        if (Number.isNaN(utc)) {
          if (!zone) {
            throw new BadInputError(
              key,
              `system ${options.ssId} has no time zone (looked in ${options.zoneSources ?? 'the systems index and the metadata JSON timezone_code'}), so measured_on cannot be placed in UTC`,
            );
          }
          if (!lookedBack) {
            lookedBack = true;
            if (zone.clock.isAmbiguous(localUs)) zone.replay(await options.lookBack!());
          }
          utc = zone.toUtc(localUs);
        }
        lookedBack = true;
        // a line later than every earlier one cannot repeat one; the others may
        if (utc > maxSeen) maxSeen = utc;
        else stats.late.push(utc);
        const into = held && holdInstants!.has(utc) ? held : builder;
        if (fields) {
          for (const c of channels) {
            into.pushCell(localUs, utc, c.metricId, wideCellValue(key, line, c.column, fields[c.index]!));
          }
        } else pushCellsInPlace(into, channels, l, starts, ends, localUs, utc, key, cell);
        if (into === builder && ++inBatch >= batchLines) {
          // normalize copies the batch out: the builder's buffers serve the next one
          const batch = normalize(builder);
          builder.reset();
          inBatch = 0;
          yield batch;
        }
      }
    }
    // CSV faults are BadInputErrors already; a read error of the stream (a reset
    // connection: retryable) goes up as it is, so the part is tried again
  } finally {
    await lines.return(undefined);
  }
  yield normalize(builder);
  // every occurrence of a repeated instant, in file order: the last wins
  if (held) yield normalize(held);
}

/**
 * Fills the bounds of a line's first `starts.length` fields (`text.slice(start, end)` cut at
 * commas); false when the line has fewer fields.
 */
function cutFields(text: string, start: number, end: number, starts: Int32Array, ends: Int32Array): boolean {
  let from = start;
  for (let f = 0; f < starts.length; f++) {
    if (from > end) return false;
    let comma = text.indexOf(',', from);
    if (comma < 0 || comma > end) comma = end;
    starts[f] = from;
    ends[f] = comma;
    from = comma + 1;
  }
  return true;
}

/**
 * Pushes the channel cells of an unquoted line, read in place in its chunk's
 * text: a plain decimal without cutting it, any other cell cut and read by the
 * rules. A function of its own, so that the instants and values stay unboxed
 * doubles on their way to the builder (in the async reader, each call boxed
 * three: about 0.5 GB of garbage per 100 MiB of CSV).
 */
function pushCellsInPlace(
  into: RawReadingsBuilder,
  channels: PrizeHeader['channels'],
  l: CsvLine,
  starts: Int32Array,
  ends: Int32Array,
  localUs: number,
  utc: number,
  key: string,
  cell: Float64Array,
): void {
  const text = l.text;
  for (const c of channels) {
    const start = starts[c.index]!;
    const end = ends[c.index]!;
    if (plainDecimalInto(text, start, end, cell)) {
      into.push(localUs, utc, c.metricId, cell[0]!);
      continue;
    }
    into.pushCell(localUs, utc, c.metricId, wideCellValue(key, l.line, c.column, text.slice(start, end)));
  }
}
