import type * as Echarts from 'echarts';
import { dayOf } from '../buckets.js';
import { SHIFT_MINUTES, type TimeShiftResult } from '../checks/time-shift.js';
import { textWidth } from './text-width.js';

/** Size of a chart, pixels. */
export interface ChartSize {
  width: number;
  height: number;
}

let echarts: typeof Echarts | null = null;

/**
 * Loads ECharts (a large library: the report starts loading it while the
 * engine runs its bucket pass, so that it costs no time). Idempotent.
 */
export async function loadCharts(): Promise<void> {
  if (echarts) return;
  const lib = await import('echarts');
  // Without a canvas, ECharts guesses text widths on the narrow side, and its
  // legend entries then overlap: lay text out with the same wide estimate as
  // the rasters instead.
  lib.setPlatformAPI({
    measureText: (text: string, font?: string) => {
      const size = Number(/(\d+(?:\.\d+)?)px/.exec(font ?? '')?.[1] ?? 12);
      return { width: textWidth(text, size, /bold|[6-9]00/.test(font ?? '')) };
    },
  });
  echarts = lib;
}

/** Chart instances kept between renders, by size (an instance costs more to make than a chart to draw). */
const instances = new Map<string, Echarts.ECharts>();

/**
 * Renders an ECharts option to an SVG string on the server (no DOM, no
 * animation), for embedding in a page that runs no script ({@link loadCharts}
 * first). Instances are
 * reused: call {@link releaseCharts} when done (a live instance keeps the
 * process alive).
 */
export function renderChartSvg(option: Echarts.EChartsOption, size: ChartSize): string {
  if (!echarts) throw new Error('renderChartSvg before loadCharts()');
  const key = `${size.width}x${size.height}`;
  let chart = instances.get(key);
  if (!chart) {
    chart = echarts.init(null, null, { renderer: 'svg', ssr: true, width: size.width, height: size.height });
    instances.set(key, chart);
  }
  chart.setOption({ ...option, animation: false }, { notMerge: true });
  return chart.renderToSVGString();
}

/** Disposes the chart instances {@link renderChartSvg} keeps. */
export function releaseCharts(): void {
  for (const chart of instances.values()) chart.dispose();
  instances.clear();
}

const FONT = 'system-ui, sans-serif';
const JUDGED = '#1f5fa8';
const OTHER = '#9a9a9a';
const BASELINE = '#333333';
const BAND = '#2e8b57';
const RUN = '#d62728';

/** A step from `steps` that cuts `span` into at most `most` parts (the last when none does). */
const stepFor = (span: number, most: number, steps: readonly number[]) =>
  steps.find((s) => span / s <= most) ?? steps.at(-1)!;

/** What the drift chart spans and is called. */
export interface MiddayChartOptions {
  /** The system's span: first epoch day and number of days. */
  firstDay: number;
  days: number;
  title: string;
  /** @defaultValue 960 × 440 */
  size?: ChartSize;
}

/**
 * The time-shift drift chart: per day, measured midday minus solar noon
 * (judged days as a line of points, the others faint), the baseline
 * (dashed), the ±{@link SHIFT_MINUTES} min tolerance around it (a band with
 * dotted edges) and the flagged runs (shaded, labelled with their shift).
 * Days not judged that lie off the scale (it spans at most 3 h either side
 * of the baseline for them) are drawn as triangles at its edge.
 */
export function renderMiddayChart(midday: TimeShiftResult, options: MiddayChartOptions): string {
  const size = options.size ?? { width: 960, height: 440 };
  const { baseline, points, runs } = midday;
  const round1 = (v: number) => Math.round(v * 10) / 10;
  const judged = points.filter((p) => p.qualifies);
  const other = points.filter((p) => !p.qualifies);
  const lo = baseline - SHIFT_MINUTES;
  const hi = baseline + SHIFT_MINUTES;

  // y: the band, the judged points and the other points up to 3 h off the baseline, in whole steps;
  // other points beyond the axis are drawn at its edge
  const ys = [lo, hi, ...judged.map((p) => p.offset)];
  ys.push(...other.map((p) => p.offset).filter((v) => Math.abs(v - baseline) <= 180));
  const yStep = stepFor(Math.max(...ys) - Math.min(...ys), 8, [10, 15, 30, 60, 120, 240, 480, 960]);
  const yMin = Math.floor((Math.min(...ys) - 2) / yStep) * yStep;
  const yMax = Math.ceil((Math.max(...ys) + 2) / yStep) * yStep;
  const cap = (v: number) => Math.max(yMin, Math.min(yMax, v));
  const offScale = other.filter((p) => cap(p.offset) !== p.offset).length;

  // x: epoch days, ticks every 1, 2, 7, … days (weekly ticks fall on the same weekday)
  const lastDay = options.firstDay + Math.max(1, options.days) - 1;
  const xStep = stepFor(lastDay - options.firstDay + 1, 9, [1, 2, 7, 14, 28, 56, 91, 182, 364, 728]);

  const subtitle = [
    `Baseline ${round1(baseline)} min`,
    `${judged.length} of ${points.length} days judged`,
    `${runs.length} flagged run${runs.length === 1 ? '' : 's'}`,
    ...(offScale > 0 ? [`${offScale} day${offScale === 1 ? '' : 's'} not judged off scale (▲▼ at the edge)`] : []),
  ].join(' · ');
  const option: Echarts.EChartsOption = {
    textStyle: { fontFamily: FONT },
    title: {
      text: options.title,
      subtext: subtitle,
      left: 10,
      top: 6,
      textStyle: { fontSize: 15, fontFamily: FONT, width: size.width - 30, overflow: 'truncate' },
      subtextStyle: { fontSize: 12, color: '#555', fontFamily: FONT },
    },
    legend: {
      top: 56,
      left: 10,
      itemGap: 18,
      textStyle: { fontSize: 12 },
      data: [
        { name: 'Judged days' },
        { name: 'Days not judged', icon: 'circle' },
        { name: `Baseline (${round1(baseline)} min)` },
        { name: `±${SHIFT_MINUTES} min tolerance`, icon: 'rect', itemStyle: { color: 'rgba(46,139,87,0.25)' } },
        { name: 'Flagged shift', icon: 'rect', itemStyle: { color: 'rgba(214,39,40,0.35)' } },
      ],
    },
    grid: { left: 80, right: 40, top: 100, bottom: 62 },
    xAxis: {
      type: 'value',
      name: 'Local day (standard time)',
      nameLocation: 'middle',
      nameGap: 36,
      min: options.firstDay - 0.5,
      max: lastDay + 0.5,
      interval: xStep,
      axisLabel: { formatter: (v: number) => dayOf(v), showMinLabel: false, showMaxLabel: false, fontSize: 11 },
      axisTick: { show: true },
      splitLine: { show: true, lineStyle: { color: '#eee' } },
    },
    yAxis: {
      type: 'value',
      name: 'Measured midday − solar noon (min)',
      nameLocation: 'middle',
      nameGap: 50,
      min: yMin,
      max: yMax,
      interval: yStep,
      axisLabel: { fontSize: 11 },
      splitLine: { lineStyle: { color: '#eee' } },
    },
    series: [
      {
        name: 'Judged days',
        type: 'line',
        color: JUDGED,
        data: judged.map((p) => [p.d, round1(p.offset)]),
        symbol: 'circle',
        symbolSize: 6,
        lineStyle: { width: 1.2 },
        z: 4,
      },
      {
        name: 'Days not judged',
        type: 'scatter',
        color: OTHER,
        data: other.map((p) => {
          const y = cap(p.offset);
          if (y === p.offset) return [p.d, round1(y)];
          return { value: [p.d, y], symbol: 'triangle', symbolRotate: y < p.offset ? 0 : 180, symbolSize: 8 };
        }),
        symbol: 'circle',
        symbolSize: 5,
        itemStyle: { opacity: 0.55 },
        z: 3,
      },
      {
        name: `Baseline (${round1(baseline)} min)`,
        type: 'line',
        color: BASELINE,
        data: [],
        symbol: 'none',
        lineStyle: { type: 'dashed', width: 1.5 },
        markLine: {
          silent: true,
          symbol: 'none',
          label: { show: false },
          lineStyle: { type: 'dashed', width: 1.5, color: BASELINE },
          data: [{ yAxis: baseline }],
        },
      },
      {
        name: `±${SHIFT_MINUTES} min tolerance`,
        type: 'line',
        color: BAND,
        data: [],
        symbol: 'none',
        markArea: {
          silent: true,
          itemStyle: { color: 'rgba(46,139,87,0.10)' },
          data: [[{ yAxis: lo }, { yAxis: hi }]],
        },
        markLine: {
          silent: true,
          symbol: 'none',
          label: { show: false },
          lineStyle: { type: 'dotted', width: 1.5, color: BAND },
          data: [{ yAxis: lo }, { yAxis: hi }],
        },
      },
      {
        name: 'Flagged shift',
        type: 'line',
        color: RUN,
        data: [],
        symbol: 'none',
        markArea: {
          silent: true,
          itemStyle: { color: 'rgba(214,39,40,0.14)', borderColor: 'rgba(214,39,40,0.6)', borderWidth: 1 },
          data: runs.map((r) => [
            {
              name: `${r.shiftMinutes > 0 ? '+' : ''}${r.shiftMinutes} min`,
              xAxis: r.from - 0.5,
              // the label goes on the side of the band away from the shifted points
              label: { position: r.shiftMinutes > 0 ? 'insideBottom' : 'insideTop', color: '#a01010', fontSize: 12 },
            },
            { xAxis: r.to + 0.5 },
          ]),
        },
      },
    ],
  };
  return renderChartSvg(option, size);
}
