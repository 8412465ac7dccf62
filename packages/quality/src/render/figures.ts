import { SLOTS } from '../buckets.js';
import type { QualityJson } from '../quality-json.js';
import type { Availability, Heatmap, SystemDetail } from '../report.js';
import { sensorKind } from '../sensor-kinds.js';
import { categoryTicks, dayTicks, hourTicks } from './axes.js';
import { type LineOverlay, renderHeatmapSvg } from './heatmap-svg.js';
import { renderMiddayChart } from './line-chart.js';
import { textWidth } from './text-width.js';

/**
 * The figures of the pages, from the report's data: which raster, which
 * axes, which scale. Each returns an SVG string.
 */

const clamp = (v: number, lo: number, hi: number) => Math.min(hi, Math.max(lo, v));
/** Room a `YYYY-MM-DD` tick label needs along a horizontal axis. */
const DATE_SPACING = textWidth('0000-00-00', 11) + 14;
/** … and along a vertical one. */
const LINE_SPACING = 18;
const percent = (v: number) => `${Math.round(v * 100)} %`;

/** The q-quantiles of the finite values (NaN when there are none), from one sort. */
function quantiles(values: Float64Array, ...qs: number[]): number[] {
  const finite = values.filter((v) => Number.isFinite(v)).sort();
  if (finite.length === 0) return qs.map(() => Number.NaN);
  return qs.map((q) => finite[Math.min(finite.length - 1, Math.floor(q * (finite.length - 1)))]!);
}

/** A sensor's quantity and unit, for a scale: `AC power (W)`. */
export function quantityLabel(sensor: string, units: string | null): string {
  const kind = sensorKind(sensor, null, units);
  const name = kind === 'ac_power' ? 'AC power' : kind === 'irradiance' ? 'Irradiance' : sensor;
  return `${name} (${units === null ? 'units unknown' : units.replace('^2', '²')})`;
}

/** `v` rounded away from zero to two significant digits, for the ends of a scale. */
function nice(v: number, away: (x: number) => number): number {
  if (v === 0 || !Number.isFinite(v)) return v;
  const p = 10 ** (Math.floor(Math.log10(Math.abs(v))) - 1);
  return away(v / p) * p;
}

/** Pixels per day along the rows of a day × time-of-day raster: taller for short spans, under one for years. */
const dayRowHeight = (days: number) =>
  days > 400 ? Math.min(1, 1100 / days) : clamp(Math.round(360 / Math.max(1, days)), 2, 12);
/** Pixels per day along the columns of a category × day raster (under one past 760 days: the page's width). */
const dayColumnWidth = (days: number) => (days > 760 ? 760 / days : clamp(Math.floor(760 / Math.max(1, days)), 1, 24));

/**
 * A channel's day × time-of-day heatmap of 10-minute means, with sunrise and
 * sunset when the system has coordinates. The scale runs from 0 (or the
 * lowest values, when below) to the 99.9th percentile (rounded out to two digits), so that one spike
 * does not wash the raster out.
 */
export function channelHeatmapSvg(detail: SystemDetail, heatmap: Heatmap, id: string): string {
  const { firstDay, days, sun } = detail;
  const [p001, p999] = quantiles(heatmap.values, 0.001, 0.999) as [number, number];
  const lo = nice(Math.min(0, p001 || 0), Math.floor);
  let hi = nice(p999, Math.ceil);
  if (!(hi > lo)) hi = lo + 1;
  const ch = dayRowHeight(days);
  const lines: LineOverlay[] = [];
  if (sun) {
    const line = (pick: (s: NonNullable<SystemDetail['sun']>[number]) => number | null) =>
      sun.map((s, i): readonly [number, number] | null => {
        const m = pick(s);
        return m === null ? null : [m / 10, i + 0.5];
      });
    lines.push({ label: 'Sunrise', colour: '#ff9f1c', points: line((s) => s.sunrise) });
    lines.push({ label: 'Sunset', colour: '#ff4fd8', dash: '6 3', points: line((s) => s.sunset) });
  }
  const quantity = quantityLabel(heatmap.sensor, heatmap.units);
  return renderHeatmapSvg({
    id,
    title: `${quantity.replace(/ \(.*\)$/, '')} by time of day — sensor ${heatmap.sensor}, system ${detail.quality.ss_id}`,
    values: heatmap.values,
    rows: days,
    cols: SLOTS,
    min: lo,
    max: hi,
    scaleLabel: `${quantity}, 10-minute mean`,
    x: { title: 'Time of day (local standard time)', ticks: hourTicks(3, SLOTS / 24) },
    y: { title: 'Local day', ticks: dayTicks(firstDay, days, ch, LINE_SPACING) },
    cellWidth: 4,
    cellHeight: ch,
    lines,
  });
}

/** Daily completeness per sensor: sensors × days, 0–100 %. */
export function completenessSvg(detail: SystemDetail, id: string): string {
  const { sensors, values } = detail.completeness;
  const cw = dayColumnWidth(detail.days);
  return renderHeatmapSvg({
    id,
    title: `Daily completeness per sensor — system ${detail.quality.ss_id}`,
    values,
    rows: sensors.length,
    cols: detail.days,
    min: 0,
    max: 1,
    format: percent,
    scaleLabel: 'Completeness (% of expected readings)',
    x: { title: 'Local day', ticks: dayTicks(detail.firstDay, detail.days, cw, DATE_SPACING) },
    y: { title: 'Sensor', ticks: categoryTicks(sensors) },
    cellWidth: cw,
    cellHeight: 16,
  });
}

/** The availability calendar: systems × days of the report, each cell the mean completeness of the system's sensors. */
export function availabilitySvg(
  json: QualityJson,
  availability: Availability,
  href: (ssId: number) => string,
  id: string,
): string {
  const { firstDay, days, systems } = availability;
  const values = new Float64Array(systems.length * days);
  systems.forEach((s, i) => {
    values.set(s.values, i * days);
  });
  const names = new Map(json.systems.map((s) => [s.ss_id, s.name]));
  const label = (ssId: number) => {
    const name = names.get(ssId);
    const text = name ? `${ssId} · ${name}` : String(ssId);
    return text.length > 40 ? `${text.slice(0, 39)}…` : text;
  };
  const cw = dayColumnWidth(days);
  return renderHeatmapSvg({
    id,
    title: `Availability — daily completeness of every system, ${json.from} to ${json.to}`,
    values,
    rows: systems.length,
    cols: days,
    min: 0,
    max: 1,
    format: percent,
    scaleLabel: 'Mean completeness of the sensors (%)',
    x: { title: 'Local day', ticks: dayTicks(firstDay, days, cw, DATE_SPACING) },
    y: {
      title: 'System',
      ticks: categoryTicks(
        systems.map((s) => label(s.ss_id)),
        systems.map((s) => href(s.ss_id)),
      ),
    },
    cellWidth: cw,
    cellHeight: systems.length <= 80 ? 16 : clamp(Math.floor(1200 / systems.length), 1, 16),
  });
}

/** The time-shift drift chart of a system, or null when the check did not run. */
export function middaySvg(detail: SystemDetail): string | null {
  if (!detail.midday) return null;
  return renderMiddayChart(detail.midday, {
    firstDay: detail.firstDay,
    days: detail.days,
    title: `Time shift — measured midday of ${detail.midday.sensor} against solar noon, system ${detail.quality.ss_id}`,
  });
}
