import { getSpa, SPA_ZA, SPA_ZA_RTS } from 'nrel-spa';

/**
 * Solar geometry from NREL's Solar Position Algorithm (Reda & Andreas), by
 * the `nrel-spa` package: a faithful port of NREL's spa.c, which reproduces
 * the paper's published test case to 2e-6° (see test/unit/solar.test.ts).
 */

/** Where a system is. */
export interface Site {
  latitude: number;
  longitude: number;
  /** Metres above sea level. @defaultValue 0 */
  elevation?: number;
}

/** The sun's position at one instant, in degrees. */
export interface SunPosition {
  /** Topocentric zenith angle (0 = overhead, 90 = horizon). */
  zenith: number;
  /** Azimuth eastward from north. */
  azimuth: number;
  /** Elevation above the horizon, 90 − zenith. */
  elevation: number;
}

/**
 * Times of one local day, in minutes after local midnight of the day's local
 * (standard time) clock; null where the sun does not cross (polar day or night).
 */
export interface SunDay {
  /** Sunrise and sunset (the upper limb at the horizon, refraction included). */
  sunrise: number | null;
  sunset: number | null;
  /** Sun transit: solar noon. */
  noon: number;
  /** When the sun is 5° below the horizon, morning and evening: outside them is night. */
  darkEnd: number | null;
  darkStart: number | null;
  /** When the sun is 10° above the horizon: between them is full daylight. */
  highStart: number | null;
  highEnd: number | null;
}

const toMinutes = (hours: number): number | null => (Number.isFinite(hours) ? hours * 60 : null);

/**
 * The sun's position at a UTC instant (ms). SPA reads the Date's UTC fields
 * as the wall clock of the zone given (0 here: UTC).
 */
export function sunPosition(site: Site, utcMs: number): SunPosition {
  const r = getSpa(new Date(utcMs), site.latitude, site.longitude, 0, {
    elevation: site.elevation ?? 0,
    function: SPA_ZA,
  });
  return { zenith: r.zenith, azimuth: r.azimuth, elevation: 90 - r.zenith };
}

/**
 * Sunrise, solar noon, sunset and the twilight bounds of one local day.
 *
 * @param day `YYYY-MM-DD`, a local date of the system's standard-time clock
 * @param offsetMinutes the standard-time offset of that clock (local − UTC)
 */
export function sunDay(site: Site, day: string, offsetMinutes: number): SunDay {
  const [y, m, d] = day.split('-').map(Number) as [number, number, number];
  // SPA reads the Date's UTC fields as the local wall clock of the zone given (in hours)
  const r = getSpa(
    new Date(Date.UTC(y, m - 1, d, 12)),
    site.latitude,
    site.longitude,
    offsetMinutes / 60,
    { elevation: site.elevation ?? 0, function: SPA_ZA_RTS },
    [95, 80],
  );
  const dark = r.angles[0]!;
  const high = r.angles[1]!;
  return {
    sunrise: toMinutes(r.sunrise),
    sunset: toMinutes(r.sunset),
    noon: toMinutes(r.solarNoon) ?? 720,
    darkEnd: toMinutes(dark.sunrise),
    darkStart: toMinutes(dark.sunset),
    highStart: toMinutes(high.sunrise),
    highEnd: toMinutes(high.sunset),
  };
}
