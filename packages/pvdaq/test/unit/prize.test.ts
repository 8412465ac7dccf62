import { BadInputError } from '@pv-pipeline/core';
import { describe, expect, it } from 'vitest';
import {
  parsePartKey,
  parsePrizeFolder,
  parsePrizeKey,
  partKey,
  splitByteRanges,
} from '../../src/layout/prize-layout.js';
import { csvFields, csvLines } from '../../src/readers/csv-lines.js';
import { classifyPrizeHeader } from '../../src/readers/prize-columns.js';
import { linesOfRange } from '../../src/store/line-range.js';

async function* chunked(text: string, size: number): AsyncGenerator<Uint8Array> {
  const bytes = Buffer.from(text);
  for (let i = 0; i < bytes.length; i += size) yield bytes.subarray(i, i + size);
}

/** The text of one byte range, read the way a worker reads it (from start − 1, in small chunks). */
async function rangeText(text: string, start: number, end: number, chunk: number): Promise<string> {
  const from = Math.max(0, start - 1);
  const parts: Buffer[] = [];
  for await (const c of linesOfRange(chunked(text.slice(from), chunk), { start, end })) parts.push(Buffer.from(c));
  return Buffer.concat(parts).toString();
}

describe('byte ranges of a CSV', () => {
  const text = 'h\n1,a\n22,bb\n333,ccc\r\n4444,dddd\n\n55555,e\n6';

  it('every line lands in exactly one range, whatever the range size and chunking', async () => {
    for (const partBytes of [1, 2, 3, 5, 7, 11, 64]) {
      for (const chunk of [1, 2, 4, 100]) {
        const ranges = splitByteRanges(text.length, partBytes);
        const texts = await Promise.all(ranges.map((r) => rangeText(text, r.start, r.end, chunk)));
        expect(texts.join(''), `${partBytes}/${chunk}`).toBe(text);
      }
    }
  });

  it('a range starting exactly on a line start keeps that line', async () => {
    const start = text.indexOf('22');
    expect(await rangeText(text, start, start, 3)).toBe('22,bb\n');
    expect(await rangeText(text, start + 1, start + 1, 3)).toBe('');
  });

  it('part keys round-trip; a key without a range covers the whole object', () => {
    const k = '2023-solar-data-prize/2107_OEDI/data/2107_meter_15m_data.csv';
    expect(parsePartKey(partKey(k, { start: 16, end: 31 }))).toEqual({ key: k, range: { start: 16, end: 31 } });
    expect(parsePartKey(k)).toEqual({ key: k, range: null });
    expect(splitByteRanges(0, 10)).toEqual([{ start: 0, end: 0 }]);
    expect(splitByteRanges(25, 10)).toEqual([
      { start: 0, end: 9 },
      { start: 10, end: 19 },
      { start: 20, end: 24 },
    ]);
  });
});

describe('CSV records', () => {
  it('splits plain lines, parses quoted ones, skips the header and blank lines, across chunks', async () => {
    const out: Array<{ line: number; fields: string[] }> = [];
    for await (const lines of csvLines(chunked('a,b\r\n1,2\n\n"x,y",3\n4,5', 3), {
      key: 'k',
      skipFirstLine: true,
      maxLineBytes: 100,
    }))
      for (const l of lines) out.push({ line: l.line, fields: csvFields('k', l)! });
    expect(out).toEqual([
      { line: 2, fields: ['1', '2'] },
      { line: 4, fields: ['x,y', '3'] },
      { line: 5, fields: ['4', '5'] },
    ]);
  });

  it('reads larger than its decode piece: lines and multi-byte characters across pieces stay whole', async () => {
    // 3000 lines of 2- to 4-byte characters: about 170 KB, so a 256 KiB read holds several 48 KiB pieces
    const lines = Array.from({ length: 3000 }, (_, i) => `${i},é°€𝄞${'ü'.repeat(i % 17)},${i * 0.5}`);
    const text = `${lines.join('\n')}\n`;
    for (const size of [256 * 1024, 48 * 1024 + 1, 7]) {
      const out: string[] = [];
      for await (const chunk of csvLines(chunked(text, size), { key: 'k', skipFirstLine: false, maxLineBytes: 100 }))
        for (const l of chunk) out.push(l.text.slice(l.start, l.end));
      expect(out, `reads of ${size} bytes`).toEqual(lines);
    }
  });

  it('refuses a line over the limit, naming it', async () => {
    const run = async () => {
      for await (const lines of csvLines(chunked(`a\n${'9'.repeat(50)}\n`, 8), {
        key: 'k',
        skipFirstLine: false,
        maxLineBytes: 20,
      }))
        for (const l of lines) void l;
    };
    await expect(run()).rejects.toThrow(/k: line 2 is longer than 20 bytes/);
  });
});

describe('prize layout and columns', () => {
  it('reads the system id from the folder, 7333_5_min_OEDI being 7334', () => {
    expect(parsePrizeFolder('2023-solar-data-prize/2107_OEDI/')?.ssId).toBe(2107);
    expect(parsePrizeFolder('2023-solar-data-prize/7333_5_min_OEDI/')?.ssId).toBe(7334);
    expect(parsePrizeFolder('2023-solar-data-prize/README/')).toBeNull();
    const k = parsePrizeKey(
      '2023-solar-data-prize/9069_OEDI/data/9069_Combiner DC Input_01.01.01_DC CURRENT STRING 01 (A).csv',
    );
    expect(k).toMatchObject({ ssId: 9069, file: '9069_Combiner DC Input_01.01.01_DC CURRENT STRING 01 (A).csv' });
    expect(() => parsePrizeKey('2023-solar-data-prize/9069_OEDI/metadata/9069_system_metadata.json')).toThrow(
      BadInputError,
    );
  });

  it('classifies channels: id from the suffix, unit from a (unit) token, the metadata, or none', () => {
    const h = classifyPrizeHeader(
      'k',
      [
        '\uFEFFmeasured_on',
        'inverter_01_ac_power_(kw)_inv_150953',
        'combiner_dc_input_01.01.01_dc_current_string_01_(a)_o_151942',
        'inv_01_ac_power_inv_149583',
        'meter_revenue_grade_ac_output_meter_149578',
        'poa_irradiance_o_149574',
        'status',
      ],
      new Map([['poa_irradiance_o_149574', 'W/m^2']]),
    );
    expect(h.timeIndex).toBe(0);
    expect(h.ignored).toEqual(['status']);
    expect(h.channels.map((c) => [c.metricId, c.sensor, c.units, c.sourceType])).toEqual([
      [150953, 'inverter_01_ac_power', 'kW', 'inverters'],
      [151942, 'combiner_dc_input_01.01.01_dc_current_string_01', 'A', 'other instruments'],
      [149583, 'inv_01_ac_power', null, 'inverters'],
      [149578, 'meter_revenue_grade_ac_output', null, 'meters'],
      [149574, 'poa_irradiance', 'W/m^2', 'other instruments'],
    ]);
    expect(() => classifyPrizeHeader('k', ['measured_on', 'a_o_1', 'b_o_1'])).toThrow(
      /duplicate column for channel id 1/,
    );
    expect(() => classifyPrizeHeader('k', ['measured_on', 'notes'])).toThrow(/no channel columns/);
  });
});
