import { BadInputError } from '@pv-pipeline/core';
import { parse } from 'csv-parse/sync';
import { describe, expect, it } from 'vitest';
import { csvObjectRecords } from '../../src/readers/csv-lines.js';

const KEY = 'csv/pvdata/system_id=4/year=2020/month=1/day=23/system_4__date_2020_01_23.csv';
const enc = (s: string) => new TextEncoder().encode(s);
/** What csv-parse gives for the whole object, with the rules of a daily CSV. */
const general = (s: string) =>
  parse(s, { bom: true, skip_empty_lines: true, relax_column_count: false, max_record_size: 1_000_000 });

/**
 * A daily CSV object split on commas directly (no quote, `\n` or `\r\n` line
 * ends) gives exactly csv-parse's records; any other object goes through
 * csv-parse itself; a record of another width fails naming the key and line.
 */
describe('csvObjectRecords', () => {
  const same: Array<[string, string]> = [
    ['LF line ends', 'measured_on,a__1,b__2\n2020-01-23 09:50:00,1.5,\n2020-01-23 09:51:00,,NaN\n'],
    ['CRLF line ends', 'measured_on,a__1\r\n2020-01-23 09:50:00,1\r\n2020-01-23 09:51:00,2\r\n'],
    ['no newline at the end', 'measured_on,a__1\n2020-01-23 09:50:00,1'],
    ['blank lines, in the middle and at the end', 'measured_on,a__1\n\n2020-01-23 09:50:00,1\n\n\n'],
    ['blank CRLF lines', 'measured_on,a__1\r\n\r\n2020-01-23 09:50:00,1\r\n\r\n'],
    ['a byte order mark', '\uFEFFmeasured_on,a__1\n2020-01-23 09:50:00,-7999\n'],
    ['blanks inside cells kept as they are', 'measured_on, a__1 \n2020-01-23 09:50:00, 1 \n'],
    ['quoted cells (csv-parse)', 'measured_on,"a,b__1"\n"2020-01-23 09:50:00","1"\n'],
    ['a quoted cell over two lines (csv-parse)', 'measured_on,note\n2020-01-23 09:50:00,"two\nlines"\n'],
    ['old Mac line ends (csv-parse)', 'measured_on,a__1\r2020-01-23 09:50:00,1\r'],
    ['one line only', 'measured_on,a__1\n'],
  ];
  for (const [name, text] of same) {
    it(`gives csv-parse's records: ${name}`, () => {
      expect(csvObjectRecords(KEY, enc(text))).toEqual(general(text));
    });
  }

  it('reads mixed LF and CRLF line ends line by line (csv-parse would take a lone "\\r" line for a record)', () => {
    expect(
      csvObjectRecords(KEY, enc('measured_on,a__1\n2020-01-23 09:50:00,1\r\n\r\n2020-01-23 09:51:00,2\n')),
    ).toEqual([
      ['measured_on', 'a__1'],
      ['2020-01-23 09:50:00', '1'],
      ['2020-01-23 09:51:00', '2'],
    ]);
  });

  it('reads a UTF-16LE object (byte order mark FF FE) as csv-parse does', () => {
    const text = 'measured_on,a__1\n2020-01-23 09:50:00,1.5\n';
    const bytes = Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(text, 'utf16le')]);
    expect(csvObjectRecords(KEY, new Uint8Array(bytes))).toEqual([
      ['measured_on', 'a__1'],
      ['2020-01-23 09:50:00', '1.5'],
    ]);
  });

  it('fails a record of another width than the header, naming the key and the line', () => {
    const text = 'measured_on,a__1,b__2\n2020-01-23 09:50:00,1,2\n\n2020-01-23 09:52:00,1\n';
    expect(() => general(text)).toThrow();
    let err: unknown;
    try {
      csvObjectRecords(KEY, enc(text));
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(BadInputError);
    // csv-parse's words, as the other path gives them
    expect((err as Error).message).toBe(`${KEY}: malformed CSV: Invalid Record Length: expect 3, got 2 on line 4`);
  });

  it('fails a quoted object of another width through csv-parse, naming the key', () => {
    expect(() => csvObjectRecords(KEY, enc('measured_on,"a__1"\n2020-01-23 09:50:00\n'))).toThrow(
      new RegExp(`^${KEY}: malformed CSV: Invalid Record Length`),
    );
  });

  it('fails a line over the limit, naming the line', () => {
    const text = `measured_on,a__1\n2020-01-23 09:50:00,${'1'.repeat(200)}\n`;
    expect(() => csvObjectRecords(KEY, enc(text), { maxRecordChars: 100 })).toThrow(
      `${KEY}: malformed CSV: Max Record Size: record exceed the maximum number of tolerated bytes of 100 at line 2`,
    );
  });
});
