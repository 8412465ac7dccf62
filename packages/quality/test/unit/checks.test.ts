import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ReplacedDirectory } from '@pv-pipeline/core';
import { PNG } from 'pngjs';
import { describe, expect, it } from 'vitest';
import { facesTheEquator, type MiddayPoint, shiftRuns } from '../../src/checks/time-shift.js';
import { renderHeatmapPng } from '../../src/render/heatmap-png.js';
import { readQualityJson } from '../../src/report-dir.js';
import { standardOffsetMinutes } from '../../src/scope.js';
import { mainChannel, physicalLimits, sensorKind, wattsPerUnit } from '../../src/sensor-kinds.js';

const points = (offsets: Array<number | null>): MiddayPoint[] =>
  offsets.map((o, d) => ({ d, offset: o ?? 0, qualifies: o !== null }));

describe('time shift', () => {
  it('flags 3 or more judged days in a row 30 min or more off, the same way, with their median shift', () => {
    expect(shiftRuns(points([2, 3, 61, 62, 59, 60, 1, 2]), 0)).toEqual([{ from: 2, to: 5, shiftMinutes: 61 }]);
    // two days are not enough; a sign change ends a run; days not judged neither break nor extend one
    expect(shiftRuns(points([61, 62, 0, -45, -50, null, -48, 0]), 0)).toEqual([{ from: 3, to: 6, shiftMinutes: -48 }]);
    expect(shiftRuns(points([35, 40, -40, 45]), 0)).toEqual([]);
    // against the array's own baseline (an east-facing array peaks early every day)
    expect(shiftRuns(points([-40, -41, -39, -42, 20, 21, 19]), -40)).toEqual([{ from: 4, to: 6, shiftMinutes: 60 }]);
    expect(shiftRuns(points([29.9, 29.9, 29.9]), 0)).toEqual([]);
  });

  it('takes solar noon as on time for trackers and arrays facing within 20° of the equator', () => {
    expect(facesTheEquator(180, 'fixed', 39.7)).toBe(true);
    expect(facesTheEquator(199, null, 39.7)).toBe(true);
    expect(facesTheEquator(225, 'fixed', 39.7)).toBe(false);
    expect(facesTheEquator(0, 'fixed', -33.9)).toBe(true);
    expect(facesTheEquator(180, 'fixed', -33.9)).toBe(false);
    expect(facesTheEquator(null, 'single-axis tracker', 35)).toBe(true);
    expect(facesTheEquator(null, null, 35)).toBe(false);
  });
});

describe('sensors', () => {
  it('classifies channels by name, common name and units, and knows their limits and power units', () => {
    expect(sensorKind('ac_power_metered_kW', 'AC power', 'W')).toBe('ac_power');
    expect(sensorKind('dc_power__2', 'DC power', 'W')).toBe('dc_power');
    expect(sensorKind('poa_irradiance', null, 'W/m^2')).toBe('irradiance');
    expect(sensorKind('ambient_temp', 'Temperature ambient', 'C')).toBe('ambient_temperature');
    expect(sensorKind('inveter_temp', null, 'C')).toBe('temperature');
    expect(sensorKind('meter_ac_energy', 'AC energy', 'kWh')).toBe('energy');
    expect(sensorKind('power_factor', 'AC other', '')).toBe('other');
    expect(sensorKind('grid_freq', null, 'Hz')).toBe('frequency');
    expect(wattsPerUnit('kW')).toBe(1000);
    expect(wattsPerUnit('W/m^2')).toBeNull();
    expect(physicalLimits('irradiance', 'W/m^2')).toEqual([-20, 1600]);
    expect(physicalLimits('ambient_temperature', 'F')).toBeNull();
  });

  it('picks the plain AC power channel for the heatmap and time shift, then a meter, then an inverter', () => {
    const s = (sensor: string) => ({ ss_id: 1, sensor, units: 'W', common_name: null, kind: 'ac_power' as const });
    expect(mainChannel([s('ac_power_inv_2'), s('ac_power_meter_7'), s('ac_power__12')], 'ac_power')?.sensor).toBe(
      'ac_power__12',
    );
    expect(mainChannel([s('ac_power_inv_2'), s('ac_power_meter_7')], 'ac_power')?.sensor).toBe('ac_power_meter_7');
    expect(mainChannel([], 'irradiance')).toBeNull();
  });

  it('reads the standard offset of a zone label: the smaller of its January and July offsets', () => {
    expect(standardOffsetMinutes('America/Denver')).toBe(-420);
    expect(standardOffsetMinutes('PST8PDT')).toBe(-480);
    expect(standardOffsetMinutes('-7')).toBe(-420);
    expect(standardOffsetMinutes('Australia/Sydney')).toBe(600);
  });
});

describe('report directory', () => {
  it('replaces the report whole, and a failed write leaves the old one as it was', async () => {
    const root = mkdtempSync(join(tmpdir(), 'pv-report-dir-'));
    const dir = join(root, 'report');
    try {
      const first = await ReplacedDirectory.start(dir);
      await first.write('index.html', 'one');
      await first.write('quality.json', JSON.stringify({ systems: [{ ss_id: 1 }] }));
      await first.commit();
      expect(readFileSync(join(dir, 'index.html'), 'utf8')).toBe('one');
      const failed = await ReplacedDirectory.start(dir);
      await failed.write('index.html', 'half');
      await failed.abort();
      expect(readFileSync(join(dir, 'index.html'), 'utf8')).toBe('one');
      const second = await ReplacedDirectory.start(dir);
      await second.write('index.html', 'two');
      expect(await second.keep('quality.json')).toBe(true);
      expect(await second.keep('absent.html')).toBe(false);
      await second.commit();
      expect(readdirSync(dir).sort()).toEqual(['index.html', 'quality.json']);
      expect(readFileSync(join(dir, 'index.html'), 'utf8')).toBe('two');
      expect((await readQualityJson(dir))?.systems).toEqual([{ ss_id: 1 }]);
      expect(readdirSync(root)).toEqual(['report']); // no temporary folder left
      writeFileSync(join(dir, 'quality.json'), '{ not json');
      expect(await readQualityJson(dir)).toBeNull();
      expect(existsSync(join(root, 'nothing', 'quality.json'))).toBe(false);
      expect(await readQualityJson(join(root, 'nothing'))).toBeNull();
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });
});

describe('heatmap raster', () => {
  it('draws one pixel per cell on the viridis scale, clamped, and no-reading cells grey', () => {
    const png = PNG.sync.read(
      renderHeatmapPng(new Float64Array([0, 10, Number.NaN, 99]), { rows: 2, cols: 2, min: 0, max: 10 }),
    );
    expect([png.width, png.height]).toEqual([2, 2]);
    const px = (i: number) => [...png.data.subarray(i * 4, i * 4 + 3)];
    expect(px(0)).toEqual([68, 1, 84]); // viridis' first colour
    expect(px(1)).toEqual([253, 231, 37]); // … and its last
    expect(px(3)).toEqual(px(1)); // above the range: clamped
    expect(px(2)[0]).toBe(px(2)[1]); // grey
    expect(() => renderHeatmapPng(new Float64Array(3), { rows: 2, cols: 2, min: 0, max: 1 })).toThrow(
      /3 values, not 2 × 2/,
    );
  });
});
