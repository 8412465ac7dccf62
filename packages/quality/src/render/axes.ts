import { dayOf } from '../buckets.js';

/** A labelled tick, at a position in cells along its axis (0 = the raster's first edge). */
export interface Tick {
  at: number;
  label: string;
  /** Makes the label a link. */
  href?: string;
}

/** An axis of a raster: its title and ticks. */
export interface Axis {
  title: string;
  ticks: Tick[];
}

const DAY_MS = 86_400_000;

/** Ticks every `step` hours over a day of `slotsPerHour`-wide cells, labelled `HH:00`, from 00:00 to 24:00. */
export function hourTicks(step = 3, slotsPerHour = 6): Tick[] {
  const ticks: Tick[] = [];
  for (let h = 0; h <= 24; h += step) ticks.push({ at: h * slotsPerHour, label: `${String(h).padStart(2, '0')}:00` });
  return ticks;
}

/**
 * Date ticks (`YYYY-MM-DD`, at the middle of their day's cells) over `days`
 * days from the epoch day `firstDay`: every 1, 2, 3, 7 or 14 days, or on
 * the first of every 1, 2, 3, 6 or 12 months, the densest that keeps
 * `minSpacing` pixels between ticks at `pxPerDay`.
 */
export function dayTicks(firstDay: number, days: number, pxPerDay: number, minSpacing: number): Tick[] {
  const tick = (i: number): Tick => ({ at: i + 0.5, label: dayOf(firstDay + i) });
  const step = [1, 2, 3, 7, 14].find((s) => s * pxPerDay >= minSpacing);
  if (step !== undefined) return Array.from({ length: Math.ceil(days / step) }, (_, k) => tick(k * step));
  const months = [1, 2, 3, 6, 12, 24, 60].find((m) => m * 30 * pxPerDay >= minSpacing) ?? 120;
  const ticks: Tick[] = [];
  for (let i = 0; i < days; i++) {
    const date = new Date((firstDay + i) * DAY_MS);
    if (date.getUTCDate() === 1 && (date.getUTCFullYear() * 12 + date.getUTCMonth()) % months === 0)
      ticks.push(tick(i));
  }
  // a range too short to hold the first of a month still gets its first day
  return ticks.length > 0 ? ticks : [tick(0)];
}

/** One tick per category (a system, a sensor), at the middle of its row or column. */
export function categoryTicks(labels: readonly string[], hrefs?: ReadonlyArray<string | undefined>): Tick[] {
  return labels.map((label, i) => {
    const href = hrefs?.[i];
    return href === undefined ? { at: i + 0.5, label } : { at: i + 0.5, label, href };
  });
}
