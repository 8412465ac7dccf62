import { describe, expect, it } from 'vitest';
import { naiveTimestampUs, parseTimestampText } from '../../src/readers/timestamp-text.js';

/**
 * The fast path for `YYYY-MM-DD HH:MM:SS` (which parseTimestampText takes
 * first) reads every text it accepts as the same wall time an ISO reading of
 * it gives (`Date.parse` of the text as UTC), and leaves every other text to
 * the regex parser (NaN), so no reader takes a malformed time for a valid one.
 */
describe('naiveTimestampUs', () => {
  const accepted = [
    '2020-01-23 09:50:00',
    '2020-01-23T09:50:59',
    '2011-11-06 01:30:00',
    '1999-12-31 23:59:59',
    '2024-02-29 00:00:00',
  ];
  for (const text of accepted) {
    it(`reads ${text} as its wall time, with no UTC instant`, () => {
      const wallUs = Date.parse(`${text.replace(' ', 'T')}Z`) * 1000;
      expect(naiveTimestampUs(text)).toBe(wallUs);
      expect(parseTimestampText(text)).toEqual({ localUs: wallUs, utcUs: Number.NaN });
      // the regex path (a leading blank takes it) agrees
      expect(parseTimestampText(` ${text}`)).toEqual({ localUs: wallUs, utcUs: Number.NaN });
    });
  }

  const leftToTheParser = [
    '2020-01-23T09:50:0Z', // a letter where a digit goes: no 09:50:42
    '2020-01-2: 09:50:00',
    '2020-0a-23 09:50:00',
    '2020-01-23 09:5 :00',
    '2021-02-30 00:00:00',
    '2020-01-23 24:00:00',
    '2016-12-31 23:59:60',
    '2020-01-23 09:50:00Z',
    '2020/01/23 09:50:00',
  ];
  for (const text of leftToTheParser) {
    it(`leaves ${JSON.stringify(text)} to the full parser`, () => {
      expect(naiveTimestampUs(text)).toBeNaN();
    });
  }

  it('the malformed ones are no timestamp for the full parser either', () => {
    for (const text of leftToTheParser.slice(0, 4)) expect(parseTimestampText(text), text).toBeNull();
  });
});
