import {
  type ObjectStore,
  type PrizeHeader,
  parseCsvLine,
  parseTimestampText,
  type ZoneClock,
} from '@pv-pipeline/pvdaq';

/** First look-back window, bytes; it grows ×4 until a line outside the repeated hour is found. */
const FIRST_WINDOW = 256 * 1024;
/** The most a look-back reads: beyond it, the lines found are replayed as they are. */
const MAX_WINDOW = 64 * 1024 * 1024;
/** Bytes read past the range start to find the end of the line running into it. */
const LINE_TAIL = 1024 * 1024;

/** Where a look-back reads: the file, its listed ETag, the range start, its header and its zone. */
export interface LookBackTarget {
  key: string;
  etag: string;
  /** The byte range's start: lines whose first byte lies before it precede the range. */
  before: number;
  header: PrizeHeader;
  clock: ZoneClock;
}

/**
 * The wall times (µs as if UTC) of the lines before a byte range of a prize
 * CSV, from the last line whose wall time is outside the repeated fall-back
 * hour (or the file's first data line) to the last line before the range, in
 * file order: what a LocalTimeResolver replays so that the range's first line,
 * inside that hour, is resolved as a whole-file read would. Reads backwards in
 * growing ranged GETs pinned to the listed ETag; a line that carries its own
 * offset also ends the look-back (such lines are never localized).
 */
export async function precedingWallTimes(store: ObjectStore, t: LookBackTarget): Promise<number[]> {
  // the range's first line starts after the first newline at or after byte `before - 1`
  const tail = await readRange(store, t, t.before - 1, t.before - 1 + LINE_TAIL);
  const nl = tail.indexOf(0x0a);
  const end = nl < 0 ? t.before - 1 + tail.length : t.before - 1 + nl; // exclusive end of the preceding text
  for (let window = FIRST_WINDOW; ; window *= 4) {
    const lo = Math.max(0, end - window);
    const text = (await readRange(store, t, lo, end - 1)).toString('utf8');
    const lines = text.split('\n');
    // the window's first line may be cut; the file's first line is the header
    lines.shift();
    const times: number[] = [];
    for (let i = lines.length - 1; i >= 0; i--) {
      const line = lines[i]!.replace(/\r$/, '');
      if (line === '') continue;
      const stamp = parseTimestampText(parseCsvLine(line)[t.header.timeIndex] ?? '');
      // not a local wall time: it resets nothing, and nothing before it matters
      if (!stamp || !Number.isNaN(stamp.utcUs)) return times.reverse();
      times.push(stamp.localUs);
      if (!t.clock.isAmbiguous(stamp.localUs)) return times.reverse();
    }
    if (lo === 0 || window >= MAX_WINDOW) return times.reverse();
  }
}

/** Bytes `start..end` (inclusive, clipped to the object) of the listed version. */
async function readRange(store: ObjectStore, t: LookBackTarget, start: number, end: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  if (end < start) return Buffer.alloc(0);
  const stream = await store.getStream(t.key, { range: { start, end }, ifMatch: t.etag });
  try {
    for await (const chunk of stream as AsyncIterable<Buffer>) chunks.push(chunk);
  } finally {
    stream.destroy();
  }
  return Buffer.concat(chunks);
}
