import { getSpa, SPA_ZA_RTS } from 'nrel-spa';
import { describe, expect, it } from 'vitest';
import { sunDay, sunPosition } from '../../src/solar.js';

describe('solar geometry (NREL SPA)', () => {
  it("reproduces the SPA paper's published test case", () => {
    // Reda & Andreas (2008), Table A5.1: 2003-10-17 12:30:30 local (UTC−7), Golden CO
    const r = getSpa(new Date(Date.UTC(2003, 9, 17, 12, 30, 30)), 39.742476, -105.1786, -7, {
      elevation: 1830.14,
      pressure: 820,
      temperature: 11,
      delta_t: 67,
      slope: 30,
      azm_rotation: -10,
      atmos_refract: 0.5667,
      function: SPA_ZA_RTS,
    });
    expect(r.zenith).toBeCloseTo(50.11162, 4);
    expect(r.azimuth).toBeCloseTo(194.34024, 4);
    // sunrise 06:12:43, sunset 17:20:19 (local)
    expect(r.sunrise * 3600).toBeCloseTo(6 * 3600 + 12 * 60 + 43, -1);
    expect(r.sunset * 3600).toBeCloseTo(17 * 3600 + 20 * 60 + 19, -1);
  });

  it('gives positions at UTC instants and the day times on the local standard clock', () => {
    const golden = { latitude: 39.742476, longitude: -105.1786, elevation: 1830 };
    // 2003-10-17 19:30:30 UTC is the paper's instant (12:30:30 UTC−7)
    const p = sunPosition(golden, Date.UTC(2003, 9, 17, 19, 30, 30));
    expect(p.zenith).toBeCloseTo(50.11, 1);
    expect(p.elevation).toBeCloseTo(90 - p.zenith, 9);
    const d = sunDay(golden, '2003-10-17', -420);
    expect(d.sunrise!).toBeCloseTo(6 * 60 + 12.7, 0);
    expect(d.noon).toBeCloseTo(11 * 60 + 46.1, 0);
    expect(d.sunset!).toBeCloseTo(17 * 60 + 20.3, 0);
    // twilight bounds: 5° below before sunrise / after sunset; 10° above after sunrise / before sunset
    expect(d.darkEnd!).toBeLessThan(d.sunrise!);
    expect(d.darkStart!).toBeGreaterThan(d.sunset!);
    expect(d.highStart!).toBeGreaterThan(d.sunrise!);
    expect(d.highEnd!).toBeLessThan(d.sunset!);
  });
});
