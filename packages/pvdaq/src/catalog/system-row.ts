import type { SystemRow } from '@pv-pipeline/schema';
import { parseTimestampText } from '../readers/timestamp-text.js';
import { ZoneClock } from '../rules/local-time.js';
import type { IndexRow } from './systems-index.js';
import { parseTimeZone } from './time-zone.js';

/** The sources merged into one system's row. */
export interface SystemSources {
  ssId: number;
  /** Rows of the systems index for this system (one per array orientation), in file order. */
  index: IndexRow[];
  site?: Record<string, unknown>;
  system?: Record<string, unknown>;
  mount?: Record<string, unknown>;
}

const text = (v: unknown): string | null => {
  if (v == null) return null;
  const s = String(v).trim();
  return s === '' || /^(nan|null|none)$/i.test(s) ? null : s;
};
const num = (v: unknown): number | null => {
  const s = text(v);
  if (s === null) return null;
  const n = Number(s.replace(/,/g, ''));
  return Number.isFinite(n) ? n : null;
};
const first = <T>(...vals: Array<T | null | undefined>): T | null => {
  for (const v of vals) if (v !== null && v !== undefined) return v;
  return null;
};

/**
 * Merges the systems index and the site / system / mount tables into one
 * typed row. Precedence: the newest systems index first, then the tables.
 *
 * Duplicate index rows (one per array orientation, e.g. 1332 at tilt 16.77
 * and 60) merge as: azimuth and tilt of the first row, `orientations` = their
 * count; `dc_capacity_kw` = the common value when every row repeats it, else
 * their sum (each row then describes one array); other fields from the first
 * row that has them.
 */
export function mergeSystemRow(src: SystemSources): SystemRow {
  const ix = src.index;
  const fromIndex = (col: string) => first(...ix.map((r) => text(r[col])));
  const numIndex = (col: string) => first(...ix.map((r) => num(r[col])));
  const caps = ix.map((r) => num(r.dc_capacity_kW ?? r.dc_capacity_kw ?? r.dc_capacity)).filter((c) => c !== null);
  const capacity =
    caps.length === 0 ? null : caps.every((c) => c === caps[0]) ? caps[0]! : caps.reduce((a, b) => a + b, 0);
  const tz = first(fromIndex('timezone_or_utc_offset'), text(src.system?.timezone_code));
  const site = src.site ?? {};
  const sys = src.system ?? {};
  const mount = src.mount ?? {};
  return {
    ss_id: src.ssId,
    public_name: first(
      fromIndex('system_public_name'),
      fromIndex('name'),
      text(sys.public_name),
      text(site.public_name),
    ),
    site_id: first(num(sys.site_id), num(site.site_id), numIndex('site_id')),
    site_location: first(fromIndex('site_location'), text(site.location)),
    latitude: first(numIndex('latitude'), numIndex('site_latitude'), num(site.latitude)),
    longitude: first(numIndex('longitude'), numIndex('site_longitude'), num(site.longitude)),
    elevation: first(numIndex('elevation_m'), numIndex('elevation'), numIndex('site_elevation'), num(site.elevation)),
    av_pressure: num(site.av_pressure),
    av_temp: num(site.av_temp),
    climate_type: first(text(site.climate_type), fromIndex('kg_climate'), fromIndex('climate_type')),
    mount_azimuth: first(num(ix[0]?.azimuth), num(mount.azimuth)),
    mount_tilt: first(num(ix[0]?.tilt), num(mount.tilt)),
    orientations: ix.length > 0 ? ix.length : null,
    tracking: first(fromIndex('tracking'), text(mount.tracking)),
    mount_type: first(fromIndex('type'), text(mount.type)),
    dc_capacity_kw: first(capacity, num(sys.power)),
    area_m2: num(sys.area),
    timezone: tz,
    started_on: toInstant(first(fromIndex('first_timestamp'), text(sys.started_on)), tz),
    ended_on: toInstant(first(fromIndex('last_timestamp'), text(sys.ended_on)), tz),
    qa_status: fromIndex('qa_status'),
    qa_issue: fromIndex('qa_issue'),
    available_sensor_channels: numIndex('available_sensor_channels'),
  };
}

/** A local timestamp text → ISO UTC instant, via the system's zone (UTC when unknown). */
function toInstant(s: string | null, tz: string | null): string | null {
  if (!s) return null;
  const p = parseTimestampText(s);
  if (!p) return null;
  let utc = p.utcUs;
  if (Number.isNaN(utc)) {
    try {
      utc = tz ? p.localUs - new ZoneClock(parseTimeZone(tz)).offsets(p.localUs).daylight : p.localUs;
    } catch {
      utc = p.localUs;
    }
  }
  const d = new Date(utc / 1000);
  return Number.isNaN(d.getTime()) ? null : d.toISOString();
}
