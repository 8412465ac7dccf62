import { describe, expect, it } from 'vitest';
import { parseTimeZone } from '../../src/catalog/time-zone.js';
import { parseTimestampText } from '../../src/readers/timestamp-text.js';
import { LocalTimeResolver, ZoneClock } from '../../src/rules/local-time.js';

const us = (iso: string) => Date.parse(`${iso}Z`) * 1000;
const iso = (t: number) => new Date(t / 1000).toISOString();
/** The UTC instant of one wall time read alone (a fresh resolver: the first of a repeated hour). */
const utcOf = (zone: string, local: string) => iso(new LocalTimeResolver(parseTimeZone(zone)).toUtc(us(local)));
/** The UTC instants of wall times read in this order by one resolver (one object's rows in file order). */
const inOrder = (zone: string, locals: string[]) => {
  const r = new LocalTimeResolver(parseTimeZone(zone));
  return locals.map((l) => iso(r.toUtc(us(l))));
};

describe('parseTimeZone', () => {
  it('reads a bare number N as fixed UTC−N', () => {
    expect(parseTimeZone('7')).toMatchObject({ kind: 'fixed', offsetMinutes: -420 });
    expect(parseTimeZone(' 5 ')).toMatchObject({ kind: 'fixed', offsetMinutes: -300 });
    expect(parseTimeZone('7.0')).toMatchObject({ kind: 'fixed', offsetMinutes: -420 });
  });
  it('reads a signed number by its sign, as ISO does: -7 is UTC−7, +2 is UTC+2', () => {
    expect(parseTimeZone('-7')).toMatchObject({ kind: 'fixed', offsetMinutes: -420 });
    expect(parseTimeZone('+2')).toMatchObject({ kind: 'fixed', offsetMinutes: 120 });
    expect(parseTimeZone('-9.5')).toMatchObject({ kind: 'fixed', offsetMinutes: -570 });
    expect(parseTimeZone('+5.75')).toMatchObject({ kind: 'fixed', offsetMinutes: 345 });
    expect(utcOf('-7', '2021-07-01T12:00:00')).toBe('2021-07-01T19:00:00.000Z');
    expect(utcOf('+2', '2021-07-01T12:00:00')).toBe('2021-07-01T10:00:00.000Z');
  });

  it('fails anything else, naming the value and where it came from', () => {
    for (const bad of ['', '7h', '--7', '+25', 'UTC-07:75', 'Mountain', '7;5']) {
      expect(() => parseTimeZone(bad, 'csv/systems_20250729.csv: system 9 timezone_or_utc_offset')).toThrow(
        new RegExp(`^csv/systems_20250729.csv: system 9 timezone_or_utc_offset: "${bad.replace(/[+]/g, '\\+')}"`),
      );
    }
  });

  it('reads explicit offsets with their sign', () => {
    expect(parseTimeZone('UTC-7')).toMatchObject({ kind: 'fixed', offsetMinutes: -420 });
    expect(parseTimeZone('-07:00')).toMatchObject({ kind: 'fixed', offsetMinutes: -420 });
    expect(parseTimeZone('GMT+05:30')).toMatchObject({ kind: 'fixed', offsetMinutes: 330 });
  });
  it('resolves POSIX and IANA names', () => {
    expect(parseTimeZone('PST8PDT')).toMatchObject({ kind: 'iana' });
    expect(parseTimeZone('America/Denver')).toMatchObject({ kind: 'iana', name: 'America/Denver' });
  });
  it('rejects garbage with the source named', () => {
    expect(() => parseTimeZone('Mars/Olympus', 'systems.csv: system 9')).toThrow(
      /systems.csv: system 9.*Mars\/Olympus/,
    );
  });
});

describe('LocalTimeResolver (the reading rule for local wall times)', () => {
  it('fixed offsets ignore DST', () => {
    expect(utcOf('7', '2021-07-01T12:00:00')).toBe('2021-07-01T19:00:00.000Z');
    expect(utcOf('7', '2021-01-01T12:00:00')).toBe('2021-01-01T19:00:00.000Z');
  });
  it('IANA and POSIX zones follow DST', () => {
    expect(utcOf('America/Denver', '2021-07-01T12:00:00')).toBe('2021-07-01T18:00:00.000Z');
    expect(utcOf('America/Denver', '2021-01-01T12:00:00')).toBe('2021-01-01T19:00:00.000Z');
    expect(utcOf('PST8PDT', '2021-07-01T12:00:00')).toBe('2021-07-01T19:00:00.000Z');
    expect(utcOf('PST8PDT', '2021-12-01T12:00:00')).toBe('2021-12-01T20:00:00.000Z');
  });
  it('the repeated fall-back hour: daylight until the clock steps back, standard from then on (issue #14, defect 1)', () => {
    // America/Denver, 2011-11-06; file order 01:00, 01:30, 01:00, 01:30: MDT (07:xxZ) then MST (08:xxZ)
    expect(
      inOrder('America/Denver', [
        '2011-11-06T00:30:00',
        '2011-11-06T01:00:00',
        '2011-11-06T01:30:00',
        '2011-11-06T01:00:00',
        '2011-11-06T01:30:00',
        '2011-11-06T02:00:00',
      ]),
    ).toEqual([
      '2011-11-06T06:30:00.000Z',
      '2011-11-06T07:00:00.000Z',
      '2011-11-06T07:30:00.000Z',
      '2011-11-06T08:00:00.000Z',
      '2011-11-06T08:30:00.000Z',
      '2011-11-06T09:00:00.000Z',
    ]);
  });
  it('a wall time equal to the one before is not a step back (another channel, or a repeat)', () => {
    expect(
      inOrder('America/Denver', [
        '2011-11-06T01:30:00',
        '2011-11-06T01:30:00',
        '2011-11-06T01:00:00',
        '2011-11-06T01:00:00',
      ]),
    ).toEqual([
      '2011-11-06T07:30:00.000Z',
      '2011-11-06T07:30:00.000Z',
      '2011-11-06T08:00:00.000Z',
      '2011-11-06T08:00:00.000Z',
    ]);
  });
  it('a row outside the repeated hour ends it: a long file sorted by channel starts each channel in daylight time', () => {
    const day = (h: string) => `2011-11-06T${h}:00`;
    const channel = [day('00:45'), day('01:00'), day('01:45'), day('01:00'), day('01:45'), day('02:00'), day('23:45')];
    const once = [
      '2011-11-06T06:45:00.000Z',
      '2011-11-06T07:00:00.000Z',
      '2011-11-06T07:45:00.000Z',
      '2011-11-06T08:00:00.000Z',
      '2011-11-06T08:45:00.000Z',
      '2011-11-06T09:00:00.000Z',
      '2011-11-07T06:45:00.000Z',
    ];
    expect(inOrder('America/Denver', [...channel, ...channel])).toEqual([...once, ...once]);
  });
  it('a step back larger than the DST shift is not the fall-back (the next channel of a long file)', () => {
    expect(inOrder('America/Denver', ['2011-11-06T23:45:00', '2011-11-06T01:15:00'])).toEqual([
      '2011-11-07T06:45:00.000Z',
      '2011-11-06T07:15:00.000Z',
    ]);
  });
  it('replays the rows before a range, so that a range starting inside the hour knows the step back came', () => {
    const r = new LocalTimeResolver(parseTimeZone('America/Denver'));
    r.replay([
      us('2011-11-06T00:45:00'),
      us('2011-11-06T01:00:00'),
      us('2011-11-06T01:45:00'),
      us('2011-11-06T01:00:00'),
    ]);
    expect(iso(r.toUtc(us('2011-11-06T01:15:00')))).toBe('2011-11-06T08:15:00.000Z');
  });
  it('moves a time in the spring-forward gap past the gap', () => {
    // 2012-03-11 02:30 does not exist in Denver
    expect(utcOf('America/Denver', '2012-03-11T02:30:00')).toBe('2012-03-11T09:30:00.000Z');
    expect(utcOf('America/Denver', '2012-03-11T03:00:00')).toBe('2012-03-11T09:00:00.000Z');
    expect(utcOf('America/Denver', '2012-03-11T01:45:00')).toBe('2012-03-11T08:45:00.000Z');
  });
  it('ZoneClock tells the repeated hour and inverts instants to wall times', () => {
    const clock = new ZoneClock(parseTimeZone('America/Denver'));
    expect(clock.isAmbiguous(us('2011-11-06T01:00:00'))).toBe(true);
    expect(clock.isAmbiguous(us('2011-11-06T01:59:59'))).toBe(true);
    expect(clock.isAmbiguous(us('2011-11-06T02:00:00'))).toBe(false);
    expect(clock.isAmbiguous(us('2011-11-06T00:59:59'))).toBe(false);
    expect(clock.wallTime(us('2011-11-06T07:30:00'))).toBe(us('2011-11-06T01:30:00'));
    expect(clock.wallTime(us('2011-11-06T08:30:00'))).toBe(us('2011-11-06T01:30:00'));
    expect(clock.wallTime(us('2021-07-01T18:00:00'))).toBe(us('2021-07-01T12:00:00'));
  });
});

describe('parseTimestampText', () => {
  it('reads ISO, spreadsheet and offset forms', () => {
    expect(parseTimestampText('2020-01-23 09:50:00')?.localUs).toBe(us('2020-01-23T09:50:00'));
    expect(parseTimestampText('2020-01-23T09:50')?.localUs).toBe(us('2020-01-23T09:50:00'));
    expect(parseTimestampText('1/2/2022 0:15')?.localUs).toBe(us('2022-01-02T00:15:00'));
    expect(parseTimestampText('1/2/2022 1:15 PM')?.localUs).toBe(us('2022-01-02T13:15:00'));
    const off = parseTimestampText('2022-03-18 04:33:00-07:00')!;
    expect(off.localUs).toBe(us('2022-03-18T04:33:00'));
    expect(off.utcUs).toBe(us('2022-03-18T11:33:00'));
    expect(Number.isNaN(parseTimestampText('2022-03-18 04:33:00')!.utcUs)).toBe(true);
  });
  it('rejects impossible or foreign text', () => {
    for (const bad of ['2021-02-30 00:00:00', '2021-13-01', 'yesterday', '', '12:00', '2021-01-01 25:00:00']) {
      expect(parseTimestampText(bad)).toBeNull();
    }
  });
});
