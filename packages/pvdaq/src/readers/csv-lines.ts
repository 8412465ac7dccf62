import { BadInputError } from '@pv-pipeline/core';
import { parse } from 'csv-parse/sync';

/**
 * One line of a CSV stream, uncut: `text.slice(start, end)`, its line break
 * (`\n` or `\r\n`) left out. `text` is the chunk's text, shared by its lines.
 */
export interface CsvLine {
  /** Its 1-based line number in the stream. */
  line: number;
  text: string;
  start: number;
  end: number;
  /** Whether the line holds a quote (then only a CSV parser cuts it right). */
  quoted: boolean;
}

/** Options of {@link csvLines}. */
export interface CsvLinesOptions {
  /** The object (part) key, for messages. */
  key: string;
  /** Skip the first line (the header of an object's first part). */
  skipFirstLine: boolean;
  /** Longest line accepted, bytes. */
  maxLineBytes: number;
}

/**
 * Bytes of a chunk decoded to text at a time. Under V8's large-object size
 * (128 KiB), so that a piece's text is an ordinary young string: a whole
 * 256 KiB read decoded at once was a large object that outlived a scavenge
 * while its lines were read, went to the old generation, and left about its
 * own size of garbage there per read (bench/RESULTS.md, issue #19).
 */
const DECODE_PIECE_BYTES = 48 * 1024;

/**
 * The lines of a CSV stream (`\n` or `\r\n`), skipping blank lines, as spans
 * of their chunk's text: nothing is cut until the caller cuts it. A line over
 * the limit is refused (BadInputError naming the line). Yields the lines of
 * each chunk as a lazy iterable (one await per chunk, not per line).
 */
export async function* csvLines(
  chunks: AsyncIterable<Uint8Array>,
  options: CsvLinesOptions,
): AsyncGenerator<Iterable<CsvLine>> {
  const decoder = new TextDecoder('utf-8');
  let carry = '';
  let line = 0;
  // Lines are found lazily while the consumer iterates, so that nothing
  // outlives the chunk (garbage that dies young keeps the heap small).
  // `last` is the index of the text's last newline
  function* linesOf(text: string, last: number): Generator<CsvLine> {
    // the next quote at or after `from` (text.length when none): one search per quote, not per line
    let quote = -1;
    let from = 0;
    while (from <= last) {
      const nl = text.indexOf('\n', from);
      line++;
      const end = nl > from && text.charCodeAt(nl - 1) === 13 ? nl - 1 : nl;
      if (end > from && !(line === 1 && options.skipFirstLine)) {
        if (quote < from) {
          quote = text.indexOf('"', from);
          if (quote < 0) quote = text.length;
        }
        yield { line, text, start: from, end, quoted: quote < end };
      }
      from = nl + 1;
    }
  }
  for await (const chunk of chunks) {
    for (let at = 0; at < chunk.byteLength; at += DECODE_PIECE_BYTES) {
      const text = carry + decoder.decode(chunk.subarray(at, at + DECODE_PIECE_BYTES), { stream: true });
      const last = text.lastIndexOf('\n');
      if (last < 0) {
        carry = text;
        if (carry.length > options.maxLineBytes) {
          throw new BadInputError(options.key, `line ${line + 1} is longer than ${options.maxLineBytes} bytes`);
        }
        continue;
      }
      carry = text.slice(last + 1);
      yield linesOf(text, last);
    }
  }
  carry += decoder.decode();
  if (carry !== '') yield linesOf(`${carry}\n`, carry.length);
}

/**
 * The fields of a line: split on commas when it has no quote (the common case
 * of numeric sensor files, several times faster than a general parser), else
 * through csv-parse; null when csv-parse finds no record in it. A quoted field
 * spanning lines is refused (BadInputError naming the line).
 */
export function csvFields(key: string, l: CsvLine): string[] | null {
  const t = l.text.slice(l.start, l.end);
  if (!l.quoted) return t.split(',');
  try {
    return (parse(t, { relax_column_count: true }) as string[][])[0] ?? null;
  } catch (err) {
    throw new BadInputError(key, `line ${l.line}: malformed CSV (${(err as Error).message})`, err);
  }
}

/** Options of {@link csvObjectRecords}. */
export interface CsvObjectOptions {
  /** Longest record accepted, characters. @defaultValue 1,000,000 */
  maxRecordChars?: number;
}

/**
 * The records of a whole CSV object held in memory: a leading BOM dropped,
 * blank lines skipped, every record as wide as the first (the header). An
 * object without a quote and with `\n` or `\r\n` line ends (the numeric
 * sensor files) is split on commas directly, several times faster than a
 * general parser, with csv-parse's records; any other (quotes, lone `\r`, a
 * UTF-16 byte order mark) goes through csv-parse with the same rules. Unlike
 * csv-parse, which keeps the line end of the first line, the fast path reads
 * mixed `\n` and `\r\n` line ends line by line. A record of another width or
 * over the limit is a BadInputError naming the key and the line, worded as
 * csv-parse words it ("malformed CSV: Invalid Record Length: …").
 */
export function csvObjectRecords(key: string, bytes: Uint8Array, options: CsvObjectOptions = {}): string[][] {
  const maxRecordChars = options.maxRecordChars ?? 1_000_000;
  const buffer = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  // csv-parse reads a UTF-16LE byte order mark as such; everything else is UTF-8
  const utf16 = buffer[0] === 0xff && buffer[1] === 0xfe;
  const text = utf16 ? '' : buffer.toString('utf8');
  if (utf16 || text.includes('"') || !crOnlyBeforeLf(text)) {
    try {
      return parse(buffer, {
        bom: true,
        skip_empty_lines: true,
        relax_column_count: false,
        max_record_size: maxRecordChars,
      }) as string[][];
    } catch (err) {
      throw new BadInputError(key, `malformed CSV: ${(err as Error).message}`, err);
    }
  }
  const records: string[][] = [];
  let width = -1;
  let from = text.charCodeAt(0) === 0xfeff ? 1 : 0;
  for (let line = 1; from < text.length; line++) {
    let nl = text.indexOf('\n', from);
    if (nl < 0) nl = text.length;
    const end = nl > from && text.charCodeAt(nl - 1) === 13 ? nl - 1 : nl;
    // the messages are csv-parse's own, so a reason reads the same whichever path found it
    if (end - from > maxRecordChars) {
      throw new BadInputError(
        key,
        `malformed CSV: Max Record Size: record exceed the maximum number of tolerated bytes of ${maxRecordChars} at line ${line}`,
      );
    }
    if (end > from) {
      const fields = text.slice(from, end).split(',');
      if (width < 0) width = fields.length;
      else if (fields.length !== width) {
        throw new BadInputError(
          key,
          `malformed CSV: Invalid Record Length: expect ${width}, got ${fields.length} on line ${line}`,
        );
      }
      records.push(fields);
    }
    from = nl + 1;
  }
  return records;
}

/** Whether every carriage return of the text ends a `\r\n` line end (none alone, as old Mac files have). */
function crOnlyBeforeLf(text: string): boolean {
  for (let i = text.indexOf('\r'); i >= 0; i = text.indexOf('\r', i + 1)) {
    if (text.charCodeAt(i + 1) !== 10) return false;
  }
  return true;
}

/** The fields of the first line of a CSV object held in memory (an empty list for an empty object). */
export function firstCsvLine(bytes: Uint8Array): string[] {
  const nl = bytes.indexOf(0x0a);
  const text = Buffer.from(bytes.buffer, bytes.byteOffset, nl < 0 ? bytes.byteLength : nl).toString('utf8');
  try {
    return (parse(text.replace(/\r$/, ''), { bom: true, relax_quotes: true }) as string[][])[0] ?? [];
  } catch {
    return [];
  }
}

/** The fields of one CSV line (without its newline): split on commas, or parsed when it holds quotes. */
export function parseCsvLine(line: string): string[] {
  if (!line.includes('"')) return line.split(',');
  try {
    return (parse(line, { relax_column_count: true, relax_quotes: true }) as string[][])[0] ?? [];
  } catch {
    return [];
  }
}
