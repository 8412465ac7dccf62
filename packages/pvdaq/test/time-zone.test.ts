import { describe, expect, it } from 'vitest';
import { LocalTimeConverter, parseTimeZone } from '../src/time-zone.js';
import { parseTimestampText } from '../src/timestamp-text.js';

const us = (iso: string) => Date.parse(`${iso}Z`) * 1000;
const utcOf = (zone: string, local: string) =>
  new Date(new LocalTimeConverter(parseTimeZone(zone)).toUtc(us(local)) / 1000).toISOString();

describe('parseTimeZone', () => {
  it('reads a bare number N as fixed UTC−N', () => {
    expect(parseTimeZone('7')).toMatchObject({ kind: 'fixed', offsetMinutes: -420 });
    expect(parseTimeZone(' 5 ')).toMatchObject({ kind: 'fixed', offsetMinutes: -300 });
    expect(parseTimeZone('7.0')).toMatchObject({ kind: 'fixed', offsetMinutes: -420 });
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

describe('LocalTimeConverter', () => {
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
  it('takes the first occurrence in the fall-back hour', () => {
    // 2011-11-06 01:30 happens twice in Denver: 07:30Z (MDT) then 08:30Z (MST)
    expect(utcOf('America/Denver', '2011-11-06T01:30:00')).toBe('2011-11-06T07:30:00.000Z');
    expect(utcOf('America/Denver', '2011-11-06T00:59:00')).toBe('2011-11-06T06:59:00.000Z');
    expect(utcOf('America/Denver', '2011-11-06T02:00:00')).toBe('2011-11-06T09:00:00.000Z');
  });
  it('moves a time in the spring-forward gap past the gap', () => {
    // 2012-03-11 02:30 does not exist in Denver
    expect(utcOf('America/Denver', '2012-03-11T02:30:00')).toBe('2012-03-11T09:30:00.000Z');
    expect(utcOf('America/Denver', '2012-03-11T03:00:00')).toBe('2012-03-11T09:00:00.000Z');
    expect(utcOf('America/Denver', '2012-03-11T01:45:00')).toBe('2012-03-11T08:45:00.000Z');
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
