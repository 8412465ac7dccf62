import { READING_RULE_IDS } from '@pv-pipeline/core';
import { dayOf } from '../buckets.js';
import { FLAG_KINDS, type QualityFlag, type QualityJson, type SystemQuality } from '../quality-json.js';
import type { Availability, SystemDetail } from '../report.js';
import { escapeHtml as esc } from './escape.js';
import { availabilitySvg, channelHeatmapSvg, completenessSvg, middaySvg } from './figures.js';
import { FLAG_DESCRIPTIONS } from './flag-legend.js';

/** File name of a system's page, next to `index.html`. */
export function systemPageName(ssId: number): string {
  return `system-${ssId}.html`;
}

/** File name of the index page. */
export const INDEX_PAGE = 'index.html';

const STYLE = `
body { font: 14px/1.45 system-ui, 'DejaVu Sans', sans-serif; color: #222; margin: 0 auto; padding: 16px 24px 48px; max-width: 1280px; }
h1 { font-size: 22px; margin: 8px 0 4px; }
h2 { font-size: 17px; margin: 28px 0 8px; border-bottom: 1px solid #ccc; padding-bottom: 2px; }
a { color: #0645ad; }
table { border-collapse: collapse; margin: 6px 0 12px; }
th, td { border: 1px solid #bbb; padding: 3px 7px; vertical-align: top; }
th { background: #f1f1f1; text-align: left; font-weight: 600; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
td.num { white-space: nowrap; }
td.name { min-width: 17em; }
th { font-size: 13px; }
td.zero { color: #aaa; }
td.hit { background: #fde8e8; font-weight: 600; }
dl.meta { display: grid; grid-template-columns: max-content auto; gap: 2px 16px; margin: 8px 0; }
dl.meta dt { font-weight: 600; }
dl.meta dd { margin: 0; }
dl.kinds dt { font-family: ui-monospace, monospace; font-weight: 600; margin-top: 6px; }
dl.kinds dd { margin: 0 0 0 24px; }
figure { margin: 12px 0 20px; overflow-x: auto; }
figure svg { display: block; }
.note { color: #555; }
code { font-family: ui-monospace, monospace; }
`;

/** A complete HTML document. */
function page(title: string, body: string): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${esc(title)}</title>
<style>${STYLE}</style>
</head>
<body>
${body}
</body>
</html>
`;
}

/** A table: header cells and rows of cells, each cell already HTML, `num` for right-aligned numbers. */
interface Cell {
  html: string;
  cls?: string;
}
function table(head: Array<string | Cell>, rows: Array<Array<string | Cell>>): string {
  const cell = (tag: 'th' | 'td', c: string | Cell) =>
    typeof c === 'string' ? `<${tag}>${c}</${tag}>` : `<${tag}${c.cls ? ` class="${c.cls}"` : ''}>${c.html}</${tag}>`;
  return `<table>\n<thead><tr>${head.map((c) => cell('th', c)).join('')}</tr></thead>\n<tbody>\n${rows
    .map((r) => `<tr>${r.map((c) => cell('td', c)).join('')}</tr>`)
    .join('\n')}\n</tbody>\n</table>`;
}

const num = (html: string | number): Cell => ({ html: String(html), cls: 'num' });
const pct = (share: number, digits = 1) => `${(share * 100).toFixed(digits)} %`;
const int = (v: number) => v.toLocaleString('en-US');
/** A kind name that may break after its underscores. */
const kindHtml = (kind: string) => `<code>${esc(kind).replaceAll('_', '_<wbr>')}</code>`;

/** A figure with its stable `data-chart` key. */
const figure = (key: string, svg: string) => `<figure data-chart="${esc(key)}">\n${svg}\n</figure>`;

function flagRows(flags: ReadonlyArray<QualityFlag & { ss_id?: number }>, withSystem: boolean) {
  return flags.map((f) => [
    ...(withSystem && f.ss_id !== undefined ? [num(`<a href="${esc(systemPageName(f.ss_id))}">${f.ss_id}</a>`)] : []),
    kindHtml(f.kind),
    `<code>${esc(f.sensor)}</code>`,
    esc(f.from),
    esc(f.to),
    num(pct(f.share, 2)),
    num(f.shift_minutes === undefined ? '' : `${f.shift_minutes > 0 ? '+' : ''}${f.shift_minutes}`),
  ]);
}

const FLAG_HEAD = ['Kind', 'Sensor', 'From', 'To', num('Share'), num('Shift (min)')];

function flagTable(flags: ReadonlyArray<QualityFlag & { ss_id?: number }>, withSystem: boolean): string {
  if (flags.length === 0) return '<p class="note">No flags.</p>';
  return table(withSystem ? [num('System'), ...FLAG_HEAD] : FLAG_HEAD, flagRows(flags, withSystem));
}

function flagLegend(): string {
  return `<dl class="kinds">\n${FLAG_KINDS.map((k) => `<dt>${esc(k)}</dt><dd>${esc(FLAG_DESCRIPTIONS[k])}</dd>`).join('\n')}\n</dl>`;
}

const meanCompleteness = (s: SystemQuality) =>
  s.sensors.length === 0 ? Number.NaN : s.sensors.reduce((a, x) => a + x.completeness, 0) / s.sensors.length;

/**
 * The report's index page: the range and sink, a table of the systems
 * (linked to their pages) with their scores and flag counts, the
 * availability calendar, every flag, and what each kind of flag means.
 */
export function renderIndexPage(json: QualityJson, availability: Availability): string {
  const systems = json.systems.map((s) => {
    const mean = meanCompleteness(s);
    const counts = FLAG_KINDS.map((k) => s.flags.filter((f) => f.kind === k).length);
    return [
      num(`<a href="${esc(systemPageName(s.ss_id))}">${s.ss_id}</a>`),
      { html: s.name === null ? '<span class="note">—</span>' : esc(s.name), cls: 'name' },
      num(pct(s.score, 0)),
      num(s.days),
      num(Number.isNaN(mean) ? '—' : pct(mean)),
      ...counts.map((c): Cell => ({ html: String(c), cls: c > 0 ? 'num hit' : 'num zero' })),
    ];
  });
  const allFlags = json.systems.flatMap((s) => s.flags.map((f) => ({ ...f, ss_id: s.ss_id })));
  const body = `<h1>PV data quality report</h1>
<dl class="meta">
<dt>Sink</dt><dd><code>${esc(json.sink)}</code></dd>
<dt>Range</dt><dd>${esc(json.from)} to ${esc(json.to)} (local standard-time days)</dd>
<dt>Generated</dt><dd>${esc(json.generated_at)}</dd>
<dt>Systems</dt><dd>${json.systems.length}</dd>
<dt>Runs</dt><dd><a href="../runs">Runs</a> <span class="note">(the pipeline's runs; served by the API, not part of this static report)</span></dd>
</dl>
<h2>Systems</h2>
<p class="note">Score: share of the system's days with completeness ≥ 90 % and no flag. Completeness: readings present / expected, mean over the sensors. The other columns count flagged spans per kind.</p>
${table(
  [
    num('System'),
    'Name',
    num('Score'),
    num('Days'),
    num('Mean completeness'),
    ...FLAG_KINDS.map((k): Cell => ({ html: kindHtml(k), cls: 'num' })),
  ],
  systems,
)}
<h2>Availability</h2>
${
  availability.days > 0 && availability.systems.length > 0
    ? figure('availability', availabilitySvg(json, availability, systemPageName, 'availability'))
    : '<p class="note">No days to show.</p>'
}
<h2>Flags</h2>
${flagTable(allFlags, true)}
<h2>Flag kinds</h2>
${flagLegend()}`;
  return page(`PV data quality ${json.from} to ${json.to}`, body);
}

/**
 * A system's page: its notes, sensors and flags, the heatmaps of its AC power
 * and irradiance channels (with sunrise and sunset when it has coordinates),
 * the time-shift drift chart when that check ran, and the daily completeness
 * of every sensor.
 */
export function renderSystemPage(detail: SystemDetail, json: QualityJson): string {
  const q = detail.quality;
  const id = q.ss_id;
  const span = detail.days > 0 ? `${dayOf(detail.firstDay)} to ${dayOf(detail.firstDay + detail.days - 1)}` : '—';
  const sensors = q.sensors.map((s) => [
    `<code>${esc(s.sensor)}</code>`,
    s.units === null ? '<span class="note">—</span>' : esc(s.units),
    num(s.interval_s ?? '—'),
    num(pct(s.completeness)),
    num(int(s.readings)),
    ...READING_RULE_IDS.map((r) => num(int(s.dropped[r]))),
  ]);
  const sections: string[] = [];
  if (detail.days === 0) {
    sections.push('<h2>Plots</h2>\n<p class="note">No readings in the range reported: nothing to plot.</p>');
  } else {
    sections.push('<h2>Heatmaps</h2>');
    if (detail.heatmaps.length === 0) sections.push('<p class="note">No AC power or irradiance channel to draw.</p>');
    if (!detail.sun) sections.push('<p class="note">No coordinates: sunrise and sunset are not drawn.</p>');
    detail.heatmaps.forEach((h, i) => {
      sections.push(figure(`heatmap-${h.sensor}`, channelHeatmapSvg(detail, h, `heatmap-${i}`)));
    });
    sections.push('<h2>Time shift</h2>');
    const midday = middaySvg(detail);
    sections.push(
      midday
        ? figure('midday', midday)
        : '<p class="note">The time-shift check did not run (it needs coordinates and an AC power or irradiance channel).</p>',
    );
    sections.push('<h2>Completeness</h2>');
    sections.push(
      detail.completeness.sensors.length > 0
        ? figure('completeness', completenessSvg(detail, 'completeness'))
        : '<p class="note">No sensors with readings.</p>',
    );
  }
  const title = q.name ? `System ${id} — ${q.name}` : `System ${id}`;
  const body = `<p><a href="${INDEX_PAGE}">← All systems</a></p>
<h1>${esc(title)}</h1>
<dl class="meta">
<dt>Score</dt><dd>${pct(q.score, 0)} of ${q.days} days good</dd>
<dt>Days</dt><dd>${span}</dd>
<dt>Time zone</dt><dd>${q.timezone === null ? 'unknown (UTC days)' : esc(q.timezone)}</dd>
<dt>Sun checks</dt><dd>${q.sun_checks ? 'ran' : 'skipped (no coordinates)'}</dd>
<dt>Report</dt><dd>${esc(json.from)} to ${esc(json.to)}, generated ${esc(json.generated_at)}</dd>
</dl>
<h2>Notes</h2>
${q.notes.length > 0 ? `<ul>\n${q.notes.map((n) => `<li>${esc(n)}</li>`).join('\n')}\n</ul>` : '<p class="note">None.</p>'}
<h2>Sensors</h2>
${
  sensors.length > 0
    ? table(
        [
          'Sensor',
          'Units',
          num('Interval (s)'),
          num('Completeness'),
          num('Readings'),
          ...READING_RULE_IDS.map((r) => num(`Dropped: ${esc(r)}`)),
        ],
        sensors,
      )
    : '<p class="note">No sensors with readings.</p>'
}
<h2>Flags</h2>
${flagTable(q.flags, false)}
${sections.join('\n')}
<h2>Flag kinds</h2>
${flagLegend()}`;
  return page(title, body);
}
