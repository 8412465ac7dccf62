import type { Axis, Tick } from './axes.js';
import { cssColour, NO_DATA, VIRIDIS } from './colour-scale.js';
import { escapeHtml as esc } from './escape.js';
import { renderHeatmapPng } from './heatmap-png.js';
import { textWidth } from './text-width.js';

/** A line drawn over the raster, with its legend entry (sunrise, sunset). */
export interface LineOverlay {
  label: string;
  colour: string;
  /** SVG `stroke-dasharray`, for a dashed line. */
  dash?: string;
  /** Points in cells: `[column, row]`, fractional; null breaks the line (a day without a value). */
  points: ReadonlyArray<readonly [number, number] | null>;
}

/** What {@link renderHeatmapSvg} draws. */
export interface HeatmapSvgOptions {
  /** Prefix of the SVG's element ids; unique within the page. */
  id: string;
  title: string;
  /** `rows × cols` values, row by row; NaN where there is none. */
  values: Float64Array;
  rows: number;
  cols: number;
  /** Range of the colour scale (values outside it take its end colours). */
  min: number;
  max: number;
  /** The colour bar's label, with the unit: `AC power (W)`. */
  scaleLabel: string;
  /** Formats a value of the colour bar. @defaultValue three significant digits */
  format?: (v: number) => string;
  /** The horizontal axis (along columns) and the vertical one (along rows, first row at the top). */
  x: Axis;
  y: Axis;
  /** Pixels per cell. @defaultValue 4 × 4 */
  cellWidth?: number;
  cellHeight?: number;
  lines?: LineOverlay[];
}

const PAD = 10;
const TITLE_FONT = 15;
const AXIS_FONT = 12;
const TICK_FONT = 11;
const TICK_LEN = 4;
const LABEL_GAP = 4;

/** Three significant digits, thousands grouped. */
export function formatValue(v: number): string {
  const r = Number(v.toPrecision(3));
  return Math.abs(r) >= 1000 ? r.toLocaleString('en-US') : String(r);
}

const n = (x: number) => String(Math.round(x * 100) / 100);

/**
 * Renders a raster as an SVG figure: the raster as an embedded PNG, a title,
 * labelled axes, a colour bar with its unit, a swatch for "no reading" and
 * the overlay lines with their legend entries. Margins follow from the
 * longest labels, and tick labels that would overlap are left out, so
 * nothing overlaps or is clipped.
 */
export function renderHeatmapSvg(options: HeatmapSvgOptions): string {
  const { id, rows, cols, min, max, x, y } = options;
  const format = options.format ?? formatValue;
  const cw = options.cellWidth ?? 4;
  const ch = options.cellHeight ?? 4;
  const plotW = cols * cw;
  const plotH = rows * ch;

  // the y title runs along the axis when the raster is tall enough, else it heads the labels
  const yTitleW = textWidth(y.title, AXIS_FONT);
  const yTitleAlong = yTitleW + 8 <= plotH;
  const yLabelW = Math.max(0, ...y.ticks.map((t) => textWidth(t.label, TICK_FONT)));
  const xLabelW = x.ticks.map((t) => textWidth(t.label, TICK_FONT));
  let left = PAD + (yTitleAlong ? AXIS_FONT * 1.3 + 6 : 0) + yLabelW + LABEL_GAP + TICK_LEN;
  if (!yTitleAlong) left = Math.max(left, PAD + yTitleW + LABEL_GAP + TICK_LEN);
  left = Math.max(left, PAD + (xLabelW[0] ?? 0) / 2);
  const top = PAD + TITLE_FONT * 1.4 + 6 + (yTitleAlong ? 0 : AXIS_FONT * 1.5);
  const xLabelsBase = top + plotH + TICK_LEN + LABEL_GAP + TICK_FONT;
  const xTitleBase = xLabelsBase + 8 + AXIS_FONT;
  const legendTop = xTitleBase + 16;
  const right = Math.max(PAD, (xLabelW.at(-1) ?? 0) / 2 + PAD);

  const legend = legendItems(options, format);
  const titleW = textWidth(options.title, TITLE_FONT, true) + 2 * PAD;
  let width = Math.max(left + plotW + right, titleW, textWidth(x.title, AXIS_FONT) + 2 * PAD);
  width = Math.max(width, ...legend.map((item) => item.width + 2 * PAD));
  const placed = flow(legend, PAD, legendTop, width - 2 * PAD);
  const height = Math.ceil(placed.bottom + PAD);

  // one pixel per cell: the browser scales it up crisply (pixelated), or down smoothly (a long span in a page's width)
  const png = renderHeatmapPng(options.values, { rows, cols, min, max });
  const out: string[] = [];
  out.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${Math.ceil(width)}" height="${height}" viewBox="0 0 ${Math.ceil(width)} ${height}" role="img" aria-labelledby="${id}-title" font-family="system-ui, 'DejaVu Sans', sans-serif" fill="#222">`,
    `<title id="${id}-title">${esc(options.title)}</title>`,
    `<defs><clipPath id="${id}-clip"><rect x="${n(left)}" y="${n(top)}" width="${plotW}" height="${plotH}"/></clipPath>`,
    `<linearGradient id="${id}-scale">${VIRIDIS.map((c, i) => `<stop offset="${n(i / (VIRIDIS.length - 1))}" stop-color="${cssColour(c)}"/>`).join('')}</linearGradient></defs>`,
    `<text x="${PAD}" y="${n(PAD + TITLE_FONT)}" font-size="${TITLE_FONT}" font-weight="bold">${esc(options.title)}</text>`,
    `<image x="${n(left)}" y="${n(top)}" width="${n(plotW)}" height="${n(plotH)}" preserveAspectRatio="none" style="image-rendering:${cw >= 1 && ch >= 1 ? 'pixelated' : 'auto'}" href="data:image/png;base64,${png.toString('base64')}"/>`,
  );
  for (const line of options.lines ?? []) out.push(overlay(line, left, top, cw, ch, `${id}-clip`));
  out.push(
    `<rect x="${n(left)}" y="${n(top)}" width="${plotW}" height="${plotH}" fill="none" stroke="#555" stroke-width="0.8"/>`,
  );

  // x axis: ticks below the raster, labels that fit, the title centred
  out.push(ticksAlongX(x.ticks, left, top + plotH, cw, xLabelsBase, width));
  const xTitleHalf = textWidth(x.title, AXIS_FONT) / 2;
  const xTitleAt = Math.min(width - PAD - xTitleHalf, Math.max(PAD + xTitleHalf, left + plotW / 2));
  out.push(
    `<text x="${n(xTitleAt)}" y="${n(xTitleBase)}" font-size="${AXIS_FONT}" text-anchor="middle">${esc(x.title)}</text>`,
  );
  // y axis: ticks left of the raster, labels right-aligned, the title rotated along it (or above the labels)
  out.push(ticksAlongY(y.ticks, left, top, ch));
  if (yTitleAlong) {
    const cx = PAD + AXIS_FONT;
    const cy = top + plotH / 2;
    out.push(
      `<text transform="translate(${n(cx)} ${n(cy)}) rotate(-90)" font-size="${AXIS_FONT}" text-anchor="middle">${esc(y.title)}</text>`,
    );
  } else {
    out.push(
      `<text x="${n(left - TICK_LEN - LABEL_GAP)}" y="${n(top - 6)}" font-size="${AXIS_FONT}" text-anchor="end">${esc(y.title)}</text>`,
    );
  }
  for (const p of placed.items) out.push(p.svg);
  out.push('</svg>');
  return out.join('\n');
}

/** A polyline per unbroken stretch of points, over a dark halo so it reads on any colour. */
function overlay(line: LineOverlay, left: number, top: number, cw: number, ch: number, clip: string): string {
  const runs: string[][] = [[]];
  for (const p of line.points) {
    if (p === null) runs.push([]);
    else runs.at(-1)!.push(`${n(left + p[0] * cw)},${n(top + p[1] * ch)}`);
  }
  const dash = line.dash ? ` stroke-dasharray="${line.dash}"` : '';
  const parts = runs
    .filter((r) => r.length > 0)
    .map(
      (r) =>
        `<polyline points="${r.join(' ')}" fill="none" stroke="#000" stroke-opacity="0.55" stroke-width="3.5" stroke-linejoin="round"${dash}/>` +
        `<polyline points="${r.join(' ')}" fill="none" stroke="${line.colour}" stroke-width="1.8" stroke-linejoin="round"${dash}/>`,
    );
  return `<g clip-path="url(#${clip})">${parts.join('')}</g>`;
}

/** Tick marks at every tick; labels centred under them, leaving out those that would overlap the one before or the edges. */
function ticksAlongX(ticks: readonly Tick[], left: number, axisY: number, cw: number, base: number, width: number) {
  const out: string[] = [];
  let lastRight = Number.NEGATIVE_INFINITY;
  for (const t of ticks) {
    const px = left + t.at * cw;
    out.push(`<line x1="${n(px)}" y1="${n(axisY)}" x2="${n(px)}" y2="${n(axisY + TICK_LEN)}" stroke="#555"/>`);
    const w = textWidth(t.label, TICK_FONT);
    if (px - w / 2 < lastRight + 8 || px - w / 2 < 0 || px + w / 2 > width) continue;
    lastRight = px + w / 2;
    out.push(label(t, px, base, 'middle'));
  }
  return out.join('');
}

/** Tick marks at every tick; labels right-aligned left of them, leaving out those closer than a line to the one before. */
function ticksAlongY(ticks: readonly Tick[], left: number, top: number, ch: number) {
  const out: string[] = [];
  let lastY = Number.NEGATIVE_INFINITY;
  for (const t of ticks) {
    const py = top + t.at * ch;
    out.push(`<line x1="${n(left - TICK_LEN)}" y1="${n(py)}" x2="${n(left)}" y2="${n(py)}" stroke="#555"/>`);
    if (py - lastY < TICK_FONT + 2) continue;
    lastY = py;
    out.push(label(t, left - TICK_LEN - LABEL_GAP, py + TICK_FONT * 0.35, 'end'));
  }
  return out.join('');
}

function label(t: Tick, x: number, y: number, anchor: 'middle' | 'end'): string {
  const text = `<text x="${n(x)}" y="${n(y)}" font-size="${TICK_FONT}" text-anchor="${anchor}"${t.href ? ' fill="#0645ad"' : ''}>${esc(t.label)}</text>`;
  return t.href ? `<a href="${esc(t.href)}">${text}</a>` : text;
}

/** A legend entry: its size and its SVG at a given top-left corner. */
interface LegendItem {
  width: number;
  height: number;
  draw: (x: number, y: number) => string;
}

/** Height of the colour bar entry, and where its bar's middle is (the other entries line up with it). */
const BAR_ITEM_H = AXIS_FONT + 4 + 12 + 4 + TICK_FONT + 2;
const BAR_MID = AXIS_FONT + 4 + 6;

function legendItems(options: HeatmapSvgOptions, format: (v: number) => string): LegendItem[] {
  const { id, min, max, values } = options;
  // mark the ends of the scale that values run past
  let below = false;
  let above = false;
  for (const v of values) {
    if (v < min) below = true;
    else if (v > max) above = true;
  }
  const labels = [
    { text: `${below ? '≤ ' : ''}${format(min)}`, at: 0, anchor: 'start' },
    { text: format((min + max) / 2), at: 0.5, anchor: 'middle' },
    { text: `${above ? '≥ ' : ''}${format(max)}`, at: 1, anchor: 'end' },
  ];
  const barW = Math.max(180, labels.reduce((s, l) => s + textWidth(l.text, TICK_FONT), 0) + 40);
  const items: LegendItem[] = [
    {
      width: Math.max(barW, textWidth(options.scaleLabel, AXIS_FONT, true)),
      height: BAR_ITEM_H,
      draw: (x, y) =>
        `<text x="${n(x)}" y="${n(y + AXIS_FONT)}" font-size="${AXIS_FONT}" font-weight="bold">${esc(options.scaleLabel)}</text>` +
        `<rect x="${n(x)}" y="${n(y + AXIS_FONT + 4)}" width="${barW}" height="12" fill="url(#${id}-scale)" stroke="#555" stroke-width="0.5"/>` +
        labels
          .map(
            (l) =>
              `<text x="${n(x + l.at * barW)}" y="${n(y + BAR_ITEM_H - 2)}" font-size="${TICK_FONT}" text-anchor="${l.anchor}">${esc(l.text)}</text>`,
          )
          .join(''),
    },
  ];
  const entry = (text: string, sample: (x: number, y: number) => string): LegendItem => ({
    width: 26 + textWidth(text, TICK_FONT),
    height: BAR_MID + 7,
    draw: (x, y) =>
      sample(x, y + BAR_MID) +
      `<text x="${n(x + 26)}" y="${n(y + BAR_MID + TICK_FONT * 0.35)}" font-size="${TICK_FONT}">${esc(text)}</text>`,
  });
  items.push(
    entry(
      'No reading',
      (x, y) =>
        `<rect x="${n(x)}" y="${n(y - 6)}" width="20" height="12" fill="${cssColour(NO_DATA)}" stroke="#555" stroke-width="0.5"/>`,
    ),
  );
  for (const line of options.lines ?? []) {
    const dash = line.dash ? ` stroke-dasharray="${line.dash}"` : '';
    items.push(
      entry(
        line.label,
        (x, y) =>
          `<line x1="${n(x)}" y1="${n(y)}" x2="${n(x + 20)}" y2="${n(y)}" stroke="#000" stroke-opacity="0.55" stroke-width="3.5"${dash}/>` +
          `<line x1="${n(x)}" y1="${n(y)}" x2="${n(x + 20)}" y2="${n(y)}" stroke="${line.colour}" stroke-width="1.8"${dash}/>`,
      ),
    );
  }
  return items;
}

/** Lays legend entries out left to right, wrapping at `maxWidth`. */
function flow(items: readonly LegendItem[], x0: number, y0: number, maxWidth: number) {
  const placed: Array<{ svg: string }> = [];
  let x = x0;
  let y = y0;
  let rowH = 0;
  for (const item of items) {
    if (x > x0 && x + item.width > x0 + maxWidth) {
      x = x0;
      y += rowH + 8;
      rowH = 0;
    }
    placed.push({ svg: item.draw(x, y) });
    x += item.width + 24;
    rowH = Math.max(rowH, item.height);
  }
  return { items: placed, bottom: y + rowH };
}
