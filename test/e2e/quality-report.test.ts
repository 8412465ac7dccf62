import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { FLAG_KINDS } from '@pv-pipeline/quality';
import { openSink } from '@pv-pipeline/sinks';
import { chromium } from 'playwright-core';
import { PNG } from 'pngjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { type BigQueryFake, startBigQueryFake } from '../support/bigquery-fake/index.js';
import { ROOT, runCli } from '../support/cli.js';
import { exec, query } from '../support/duckdb.js';
import {
  EXPECTED_FLAGS,
  type ExpectedFlag,
  FIRST_DAY,
  LAST_DAY,
  QUALITY_SYSTEMS,
  writeQualityMirror,
} from '../support/quality-mirror.js';

/**
 * The data-quality report end to end: a synthetic mirror in the real layout
 * with one known defect per system (and clean controls) is loaded by
 * `pv-pipeline run`, then `pv-pipeline report` must flag each defect with the
 * right kind, sensor and dates and nothing else, write its table into the
 * sink, read every sink alike, and render pages a real browser draws.
 */

const day = z.string().regex(/^\d{4}-\d{2}-\d{2}$/);
const dropped = z.strictObject({
  missing: z.number().int().min(0),
  sentinel: z.number().int().min(0),
  non_finite: z.number().int().min(0),
  duplicate: z.number().int().min(0),
});
/** The README's quality.json contract. */
const QualityJsonSchema = z.strictObject({
  generated_at: z.string().datetime(),
  sink: z.string(),
  from: day,
  to: day,
  systems: z.array(
    z.strictObject({
      ss_id: z.number().int(),
      name: z.string().nullable(),
      score: z.number().min(0).max(1),
      days: z.number().int().min(0),
      timezone: z.string().nullable(),
      sun_checks: z.boolean(),
      notes: z.array(z.string()),
      sensors: z.array(
        z.strictObject({
          sensor: z.string(),
          units: z.string().nullable(),
          interval_s: z.number().int().positive().nullable(),
          completeness: z.number().min(0).max(1),
          readings: z.number().int().min(0),
          dropped,
        }),
      ),
      flags: z.array(
        z.strictObject({
          kind: z.enum(FLAG_KINDS),
          sensor: z.string(),
          from: day,
          to: day,
          share: z.number().min(0).max(1),
          shift_minutes: z.number().optional(),
        }),
      ),
    }),
  ),
});
type QualityJson = z.infer<typeof QualityJsonSchema>;

const dayNumber = (d: string) => Date.parse(`${d}T00:00:00Z`) / 86_400_000;

/** Detected flags against the expected: a match has the system, kind and sensor, and dates within a day. */
function score(json: QualityJson, expected: readonly ExpectedFlag[]) {
  const detected = json.systems.flatMap((s) => s.flags.map((f) => ({ ss_id: s.ss_id, ...f })));
  const matches = (d: (typeof detected)[number], e: ExpectedFlag) =>
    d.ss_id === e.ss_id &&
    d.kind === e.kind &&
    d.sensor === e.sensor &&
    Math.abs(dayNumber(d.from) - dayNumber(e.from)) <= 1 &&
    Math.abs(dayNumber(d.to) - dayNumber(e.to)) <= 1;
  const truePositives = detected.filter((d) => expected.some((e) => matches(d, e)));
  const found = expected.filter((e) => detected.some((d) => matches(d, e)));
  return {
    detected,
    falsePositives: detected.filter((d) => !expected.some((e) => matches(d, e))),
    missed: expected.filter((e) => !detected.some((d) => matches(d, e))),
    precision: detected.length === 0 ? 1 : truePositives.length / detected.length,
    recall: found.length / expected.length,
  };
}

describe('pv-pipeline report: the data-quality report', () => {
  let work: string;
  let mirror: string;
  let db: string;
  let out: string;
  let json: QualityJson;
  let fake: BigQueryFake;

  const load = async (sink: string, systems = 'all', ...extra: string[]) => {
    const r = await runCli(
      [
        'run',
        '--source',
        `file://${mirror}`,
        '--systems',
        systems,
        '--from',
        FIRST_DAY,
        '--to',
        LAST_DAY,
        '--sink',
        sink,
        ...(sink.startsWith('bigquery') ? ['--bigquery-endpoint', fake.url] : []),
        ...extra,
        '--json',
      ],
      { timeoutMs: 300_000 },
    );
    expect(r.code, r.stderr).toBe(0);
    return r;
  };
  const report = (sink: string, dir: string, ...extra: string[]) =>
    runCli(
      [
        'report',
        '--sink',
        sink,
        '--out',
        dir,
        ...(sink.startsWith('bigquery') ? ['--bigquery-endpoint', fake.url] : []),
        ...extra,
        '--json',
      ],
      { timeoutMs: 300_000 },
    );

  beforeAll(async () => {
    work = mkdtempSync(join(tmpdir(), 'pv-quality-'));
    mirror = join(work, 'mirror');
    db = join(work, 'warehouse.duckdb');
    out = join(work, 'report');
    await writeQualityMirror(mirror);
    await load(`duckdb://${db}`);
    const r = await report(`duckdb://${db}`, out);
    expect(r.code, r.stderr).toBe(0);
    json = QualityJsonSchema.parse(JSON.parse(r.stdout));
    fake = await startBigQueryFake();
  }, 600_000);

  afterAll(async () => {
    await fake?.stop();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  it('flags every injected defect with its kind, sensor and dates, and nothing on the clean systems', () => {
    const s = score(json, EXPECTED_FLAGS);
    process.stdout.write(
      `quality detection: ${s.detected.length} flags, precision ${s.precision.toFixed(2)}, recall ${s.recall.toFixed(2)}\n`,
    );
    expect(s.falsePositives).toEqual([]);
    expect(s.missed).toEqual([]);
    expect(s.precision).toBe(1);
    expect(s.recall).toBe(1);
    // the clock an hour ahead reads as a midday an hour late
    const shift = s.detected.find((f) => f.kind === 'time_shift')!;
    expect(Math.abs(shift.shift_minutes! - 60)).toBeLessThanOrEqual(10);
    // the controls and the system without coordinates: no flag, full score
    for (const id of [9108, 9109]) {
      const sys = json.systems.find((x) => x.ss_id === id)!;
      expect(sys.flags).toEqual([]);
      expect(sys.score).toBe(1);
    }
  });

  it('follows the quality.json contract, covers the days loaded, and writes the pages', () => {
    expect(json.from).toBe(FIRST_DAY);
    expect(json.to).toBe(LAST_DAY);
    expect(json.sink).toBe(`duckdb://${db}`);
    expect(json.systems.map((s) => s.ss_id)).toEqual(QUALITY_SYSTEMS.map((s) => s.id));
    expect(JSON.parse(readFileSync(join(out, 'quality.json'), 'utf8'))).toEqual(json);
    expect(readdirSync(out).sort()).toEqual(
      ['index.html', 'quality.json', ...QUALITY_SYSTEMS.map((s) => `system-${s.id}.html`)].sort(),
    );
    // the missing week costs its share of days and of the score
    const gap = json.systems.find((s) => s.ss_id === 9105)!;
    expect(gap.flags).toEqual([
      { kind: 'missing_days', sensor: '*', from: '2023-04-10', to: '2023-04-16', share: 0.1148 },
    ]);
    expect(gap.days).toBe(61);
    expect(gap.score).toBeCloseTo(54 / 61, 2);
  });

  it('infers each sensor cadence, counts what ingest dropped per sensor, and says what it skipped without coordinates', () => {
    const control = json.systems.find((s) => s.ss_id === 9108)!;
    expect(control.sensors.map((s) => [s.sensor, s.units, s.interval_s])).toEqual([
      ['ac_power', 'W', 60],
      ['ambient_temp', 'C', 60],
      ['module_temp', 'C', 60],
      ['poa_irradiance', 'W/m^2', 60],
    ]);
    const ac = control.sensors.find((s) => s.sensor === 'ac_power')!;
    expect(ac.dropped).toEqual({ missing: 5, sentinel: 12, non_finite: 0, duplicate: 0 });
    // 61 days of 1,440 minutes, less the 17 dropped, less the last civil hour (its standard-time day is 1 May)
    expect(ac.readings).toBe(61 * 1440 - 17 - 60);
    expect(json.systems.find((s) => s.ss_id === 9105)!.sensors[0]!.interval_s).toBe(900);
    const blind = json.systems.find((s) => s.ss_id === 9109)!;
    expect(blind.sun_checks).toBe(false);
    expect(blind.notes.join(' ')).toMatch(/no latitude\/longitude.*time shift, night generation.*skipped/);
    expect(blind.sensors.every((s) => s.completeness === 1)).toBe(true);
  });

  it('writes pv_quality_daily and pv_sensors.interval_s into the sink; a second report replaces them', async () => {
    const rowsOf = () =>
      query(
        db,
        `SELECT ss_id, sensor, CAST(day AS VARCHAR) AS day, interval_s, expected, present, completeness, flags
         FROM pv_quality_daily WHERE ss_id = 9105 AND sensor = 'ac_power' AND day BETWEEN '2023-04-08' AND '2023-04-18'
         ORDER BY day`,
      );
    const row = (d: string, present: number, flags: string | null) => ({
      ss_id: 9105,
      sensor: 'ac_power',
      day: d,
      interval_s: 900,
      expected: 96,
      present,
      completeness: Math.round((present / 96) * 1e6) / 1e6,
      flags,
    });
    // standard-time days of a DST zone: a day's last hour is the next civil day's first (its file, when there)
    const expected = [
      row('2023-04-08', 96, null),
      row('2023-04-09', 92, null),
      row('2023-04-10', 0, 'missing_days'),
      ...['11', '12', '13', '14', '15'].map((d) => row(`2023-04-${d}`, 0, 'missing_days')),
      row('2023-04-16', 4, 'missing_days'),
      row('2023-04-17', 96, null),
      row('2023-04-18', 96, null),
    ];
    expect(await rowsOf()).toEqual(expected);
    const count = `SELECT count(*) AS n, count(DISTINCT (ss_id, sensor, day)) AS keys FROM pv_quality_daily`;
    const before = await query(db, count);
    expect(before).toEqual([{ n: 9 * 4 * 61, keys: 9 * 4 * 61 }]);
    expect(
      await query(db, 'SELECT ss_id, sensor, interval_s FROM pv_sensors WHERE ss_id IN (9105, 9108) ORDER BY ALL'),
    ).toEqual([
      ...['ac_power', 'ambient_temp', 'module_temp', 'poa_irradiance'].map((sensor) => ({
        ss_id: 9105,
        sensor,
        interval_s: 900,
      })),
      ...['ac_power', 'ambient_temp', 'module_temp', 'poa_irradiance'].map((sensor) => ({
        ss_id: 9108,
        sensor,
        interval_s: 60,
      })),
    ]);
    const again = await report(`duckdb://${db}`, join(work, 'report-again'));
    expect(again.code, again.stderr).toBe(0);
    expect(await query(db, count)).toEqual(before);
    expect(await rowsOf()).toEqual(expected);
    // a new load keeps the cadence the report inferred
    await load(`duckdb://${db}`, '9105');
    expect(await query(db, 'SELECT DISTINCT interval_s FROM pv_sensors WHERE ss_id = 9105')).toEqual([
      { interval_s: 900 },
    ]);
  });

  it('reports the systems and days asked for', async () => {
    const dir = join(work, 'subset');
    const r = await report(
      `duckdb://${db}`,
      dir,
      '--systems',
      '9104,9106',
      '--from',
      '2023-03-10',
      '--to',
      '2023-04-06',
    );
    expect(r.code, r.stderr).toBe(0);
    const sub = QualityJsonSchema.parse(JSON.parse(r.stdout));
    expect([sub.from, sub.to]).toEqual(['2023-03-10', '2023-04-06']);
    expect(sub.systems.map((s) => [s.ss_id, s.days, s.flags.map((f) => [f.kind, f.from, f.to])])).toEqual([
      [9104, 28, [['night_generation', '2023-03-15', '2023-03-17']]],
      [9106, 28, [['over_capacity', '2023-04-05', '2023-04-06']]],
    ]);
  });

  it('reads a Parquet dataset and BigQuery as it reads DuckDB', async () => {
    const systems = '9101,9104,9109';
    const duck = await report(`duckdb://${db}`, join(work, 'r-duck'), '--systems', systems);
    const parquetDir = join(work, 'dataset');
    await load(`parquet://${parquetDir}`, systems);
    const pq = await report(`parquet://${parquetDir}`, join(work, 'r-parquet'));
    const bq = 'bigquery://quality-project/warehouse';
    await load(bq, systems);
    const big = await report(bq, join(work, 'r-bigquery'));
    for (const r of [duck, pq, big]) expect(r.code, r.stderr).toBe(0);
    const systemsOf = (r: { stdout: string }) => QualityJsonSchema.parse(JSON.parse(r.stdout)).systems;
    expect(systemsOf(pq)).toEqual(systemsOf(duck));
    expect(systemsOf(big)).toEqual(systemsOf(duck));
    // the table is in each sink
    expect(
      await query(null, `SELECT count(*) AS n FROM read_parquet('${parquetDir}/pv_quality_daily/*.parquet')`),
    ).toEqual([{ n: 3 * 4 * 61 }]);
    expect(await fake.sql('SELECT count(*) AS n FROM warehouse.pv_quality_daily')).toEqual([{ n: 3 * 4 * 61 }]);
  });

  it('run --report refreshes the systems the run loaded and keeps the rest of the report', async () => {
    const dir = join(work, 'after-runs');
    const sink = `duckdb://${join(work, 'runs.duckdb')}`;
    const first = await load(sink, '9102,9104', '--report', dir);
    expect(first.stderr).toContain('quality report refreshed for system(s) 9102, 9104');
    const firstJson = QualityJsonSchema.parse(JSON.parse(readFileSync(join(dir, 'quality.json'), 'utf8')));
    expect(firstJson.systems.map((s) => s.ss_id)).toEqual([9102, 9104]);
    await load(sink, '9106', '--report', dir);
    const merged = QualityJsonSchema.parse(JSON.parse(readFileSync(join(dir, 'quality.json'), 'utf8')));
    expect(merged.systems.map((s) => s.ss_id)).toEqual([9102, 9104, 9106]);
    expect(merged.systems.filter((s) => s.ss_id !== 9106)).toEqual(firstJson.systems);
    expect(merged.systems.find((s) => s.ss_id === 9106)!.flags.map((f) => f.kind)).toEqual(['over_capacity']);
    expect(readdirSync(dir).sort()).toEqual(
      ['index.html', 'quality.json', 'system-9102.html', 'system-9104.html', 'system-9106.html'].sort(),
    );
    // a re-run loads nothing: the report is left as it was
    const idle = await load(sink, '9106', '--report', dir);
    expect(idle.stderr).toContain('quality report left as it was: the run loaded nothing');
  });

  it('refuses bad input with one clear line and exit 1, and leaves the report in place', async () => {
    const before = readFileSync(join(out, 'quality.json'), 'utf8');
    const empty = join(work, 'empty.duckdb');
    const noTables = join(work, 'other.duckdb');
    await exec(noTables, 'CREATE TABLE something_else (x INTEGER)');
    const emptySink = openSink(`duckdb://${empty}`);
    await emptySink.init(); // a warehouse with its tables and nothing loaded
    await emptySink.close();
    const cases: Array<[string[], RegExp]> = [
      [
        ['--sink', `duckdb://${db}`, '--systems', '9101,777'],
        /--systems: no readings of system 777 in duckdb:.*\(it has 9101, /,
      ],
      [['--sink', `duckdb://${db}`, '--systems', 'nine'], /--systems: "nine" is not "all" or a comma-separated list/],
      [['--sink', `duckdb://${db}`, '--from', '2023-02-30'], /--from: "2023-02-30" is not a day/],
      [
        ['--sink', `duckdb://${db}`, '--from', '2024-01-01', '--to', '2024-01-31'],
        /--from: no readings of the systems asked for between 2024-01-01 and 2024-01-31/,
      ],
      [['--sink', `duckdb://${empty}`], /--sink: duckdb:.*empty\.duckdb holds no readings/],
      [['--sink', `duckdb://${noTables}`], /--sink: .*other\.duckdb has no pv_readings table/],
      [['--sink', `duckdb://${join(work, 'absent.duckdb')}`], /--sink: .*absent\.duckdb/],
    ];
    for (const [args, message] of cases) {
      const r = await runCli(['report', '--out', out, ...args]);
      expect(r.code, `${args.join(' ')}: ${r.stderr}`).toBe(1);
      expect(r.stderr.trim().split('\n'), args.join(' ')).toHaveLength(1);
      expect(r.stderr).toMatch(/^pv-pipeline report: /);
      expect(r.stderr).toMatch(message);
    }
    expect(readFileSync(join(out, 'quality.json'), 'utf8')).toBe(before);
    expect(readdirSync(work).filter((n) => n.includes('.tmp-'))).toEqual([]);
  });

  it('renders pages Chromium draws: every plot has pixels, no console errors (screenshots saved)', async () => {
    const shots = join(ROOT, 'test-results', 'quality');
    mkdirSync(shots, { recursive: true });
    const browser = await chromium.launch({
      executablePath: '/usr/bin/chromium',
      headless: true,
      args: [
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
      ],
    });
    try {
      for (const page of ['index.html', 'system-9101.html', 'system-9109.html']) {
        const tab = await browser.newPage({ viewport: { width: 1280, height: 900 } });
        const problems: string[] = [];
        tab.on('console', (m) => {
          if (m.type() === 'error' || m.type() === 'warning') problems.push(`${m.type()}: ${m.text()}`);
        });
        tab.on('pageerror', (e) => problems.push(`pageerror: ${e.message}`));
        tab.on('requestfailed', (r) => problems.push(`request failed: ${r.url()}`));
        await tab.goto(pathToFileURL(join(out, page)).href, { waitUntil: 'load' });
        const charts = tab.locator('[data-chart]');
        const n = await charts.count();
        expect(n, `${page} has plots`).toBeGreaterThan(0);
        for (let i = 0; i < n; i++) {
          const chart = charts.nth(i);
          const name = await chart.getAttribute('data-chart');
          await chart.scrollIntoViewIfNeeded();
          const png = await chart.screenshot();
          expect(distinctColours(png), `${page} ${name} draws something`).toBeGreaterThan(8);
        }
        await tab.screenshot({ path: join(shots, page.replace('.html', '.png')), fullPage: true });
        expect(problems, page).toEqual([]);
        await tab.close();
      }
      // a system with coordinates has its heatmaps, the midday drift and sun lines; one without has no sun lines
      const tab = await browser.newPage();
      await tab.goto(pathToFileURL(join(out, 'system-9101.html')).href);
      const names = await tab
        .locator('[data-chart]')
        .evaluateAll((els) => els.map((e) => e.getAttribute('data-chart')));
      expect(names).toEqual(
        expect.arrayContaining(['heatmap-ac_power', 'heatmap-poa_irradiance', 'midday', 'completeness']),
      );
      await tab.close();
    } finally {
      await browser.close();
    }
    expect(existsSync(join(shots, 'index.png'))).toBe(true);
  });
});

/** How many distinct colours a PNG screenshot holds (a blank plot has one or two). */
function distinctColours(png: Buffer): number {
  const img = PNG.sync.read(png);
  const seen = new Set<number>();
  for (let i = 0; i < img.data.length && seen.size < 1000; i += 4 * 7) {
    seen.add((img.data[i]! << 16) | (img.data[i + 1]! << 8) | img.data[i + 2]!);
  }
  return seen.size;
}
