import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../support/cli.js';
import { query } from '../support/duckdb.js';
import { PRIZE_MIRROR_OFFSETS, type PrizeFileSpec, prizeTruthSql, writePrizeMirror } from '../support/prize-files.js';

const CHANNEL_ID = /_(?:o|inv|meter)_(\d+)$/;
const PER_CHANNEL = `SELECT ss_id, metric_id, any_value(sensor) AS sensor, any_value(units) AS units, count(*) AS n,
  round(fsum(value), 4) AS s, min(measured_on) AS lo, max(measured_on) AS hi, min(timestamp) AS ts_lo
  FROM pv_readings GROUP BY ALL ORDER BY ALL`;
const DUPLICATE_KEYS = `SELECT count(*) AS n FROM (SELECT ss_id, timestamp, sensor FROM pv_readings GROUP BY ALL HAVING count(*) > 1)`;

describe('pv-pipeline run --format prize (2023 Solar Data Prize CSVs)', () => {
  let work: string;
  let mirror: string;
  let specs: PrizeFileSpec[];
  const truth = new Map<number, { n: number; s: number; lo: string; hi: string }>();

  beforeAll(async () => {
    work = mkdtempSync(join(tmpdir(), 'pv-prize-'));
    mirror = join(work, 'mirror');
    specs = await writePrizeMirror(mirror, 3000);
    for (const spec of specs) {
      for (const row of await query(null, prizeTruthSql(join(mirror, spec.key), spec.columns))) {
        const id = Number(CHANNEL_ID.exec(String(row.col))![1]);
        truth.set(id, { n: Number(row.n), s: Number(row.s), lo: String(row.lo), hi: String(row.hi) });
      }
    }
  });
  afterAll(() => rmSync(work, { recursive: true, force: true }));

  /** `pv-pipeline run --format prize` on the mirror into a DuckDB file. */
  const runPrize = (db: string, ...extra: string[]) =>
    runCli(
      ['run', '--source', `file://${mirror}`, '--format', 'prize', ...extra, '--sink', `duckdb://${db}`, '--json'],
      {
        timeoutMs: 180_000,
      },
    );

  it('splits files into byte ranges and loads every reading once, with units from names and UTC from the zone', async () => {
    const db = join(work, 'split.duckdb');
    const r = await runPrize(db, '--part-mb', '0.01');
    expect(r.code, r.stderr).toBe(0);
    const summary = JSON.parse(r.stdout);
    expect(summary.counts.failed).toBe(0);
    expect(summary.counts.planned).toBeGreaterThan(specs.length * 5); // several parts per file
    const rows = await query(db, PER_CHANNEL);
    expect(rows.length).toBe(truth.size);
    for (const row of rows) {
      const t = truth.get(Number(row.metric_id))!;
      expect({ id: row.metric_id, n: row.n, s: row.s }).toEqual({ id: row.metric_id, n: t.n, s: t.s });
      // UTC = naive local time + the system's offset (fixed for the months generated)
      const offsetMs = PRIZE_MIRROR_OFFSETS[Number(row.ss_id)]! * 3_600_000;
      expect(new Date(String(row.ts_lo)).getTime() - new Date(String(row.lo)).getTime()).toBe(offsetMs);
    }
    expect((await query(db, DUPLICATE_KEYS))[0]!.n).toBe(0);
    expect(summary.counts.readings).toBe([...truth.values()].reduce((a, t) => a + t.n, 0));

    const units = Object.fromEntries(
      (await query(db, 'SELECT metric_id, units FROM pv_sensors')).map((s) => [s.metric_id, s.units]),
    );
    expect(units[150953]).toBe('kW'); // inverter_01_ac_power_(kw)_inv_150953
    expect(units[151942]).toBe('A'); // …_dc_current_string_01_(a)_o_151942
    expect(units[149583]).toBeNull(); // inv_01_ac_power_inv_149583: no unit anywhere
    expect(units[149574]).toBe('W/m^2'); // from the metadata JSON's Metrics
    const sensors = await query(db, `SELECT DISTINCT sensor, units FROM pv_readings WHERE metric_id = 150953`);
    expect(sensors).toEqual([{ sensor: 'inverter_01_ac_power', units: 'kW' }]);
    const systems = await query(db, 'SELECT ss_id, timezone, public_name FROM pv_systems ORDER BY ss_id');
    expect(systems.map((s) => s.ss_id)).toEqual([2107, 7334, 9069]); // 7333_5_min_OEDI is system 7334
    expect(systems[0]).toMatchObject({ timezone: 'PST8PDT', public_name: 'Prize 2107' });

    // the same files unsplit give the same rows
    const whole = join(work, 'whole.duckdb');
    const w = await runPrize(whole);
    expect(w.code, w.stderr).toBe(0);
    expect(JSON.parse(w.stdout).counts.planned).toBe(specs.length);
    expect(await query(whole, PER_CHANNEL)).toEqual(rows);

    // a re-run is a no-op
    const again = await runPrize(db, '--part-mb', '0.01');
    expect(again.code, again.stderr).toBe(0);
    const s2 = JSON.parse(again.stdout);
    expect(s2.counts).toMatchObject({ transformed: 0, loaded: 0, failed: 0, skipped: summary.counts.planned });
    expect(await query(db, PER_CHANNEL)).toEqual(rows);
  }, 300_000);

  it('fails a bad prize file alone, naming it and the reason', async () => {
    const data = join(mirror, '2023-solar-data-prize/2107_OEDI/data');
    writeFileSync(join(data, '2107_no_channels.csv'), 'measured_on,comment\n2021-06-01 00:00:00,x\n');
    writeFileSync(
      join(data, '2107_bad_cell.csv'),
      'measured_on,poa_irradiance_o_149590\n2021-06-01 00:00:00,1.5\n2021-06-01 00:01:00,oops\n',
    );
    writeFileSync(join(data, '2107_bad_time.csv'), 'measured_on,poa_irradiance_o_149591\nyesterday,1.5\n');
    const db = join(work, 'bad.duckdb');
    const r = await runPrize(db, '--systems', '2107');
    expect(r.code, r.stderr).toBe(2);
    const failures = JSON.parse(r.stdout).failures as Array<{ key: string; reason: string }>;
    const reasons = Object.fromEntries(
      failures.map((f) => [f.key.replace(/^.*\/data\//, '').replace(/#bytes=0-\d+$/, ''), f.reason]),
    );
    expect(Object.keys(reasons).sort()).toEqual(['2107_bad_cell.csv', '2107_bad_time.csv', '2107_no_channels.csv']);
    expect(reasons['2107_no_channels.csv']).toMatch(/no channel columns/);
    expect(reasons['2107_bad_cell.csv']).toMatch(/line 3, column "poa_irradiance_o_149590": "oops" is not a number/);
    expect(reasons['2107_bad_time.csv']).toMatch(/line 2: measured_on "yesterday" is not a timestamp/);
    // the good files of 2107 loaded in full, nothing of the bad ones
    const loaded = await query(db, 'SELECT metric_id, count(*) AS n FROM pv_readings GROUP BY ALL ORDER BY ALL');
    const want = [149574, 149578, 149583, 149584].map((id) => ({ metric_id: id, n: truth.get(id)!.n }));
    expect(loaded).toEqual(want);
  }, 180_000);
});
