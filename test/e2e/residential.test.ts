import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../support/cli.js';
import { query } from '../support/duckdb.js';

/**
 * The residential feed (ids ≥ 10000, docs/pvdaq-data.md §2.4): an unnamed date
 * column and `ac_power_inv_<id>_daily_max` style aggregates, no metrics
 * dictionary. It must load as its own schema, not fail as "no metric ids".
 */
describe('the residential daily feed under csv/pvdata', () => {
  let work: string;
  let mirror: string;
  const put = (key: string, text: string) => {
    mkdirSync(dirname(join(mirror, key)), { recursive: true });
    writeFileSync(join(mirror, key), text);
  };

  beforeAll(() => {
    work = mkdtempSync(join(tmpdir(), 'pv-residential-'));
    mirror = join(work, 'mirror');
    const header = ',ac_power_inv_52345_daily_max,ac_power_inv_52345_daily_mean,ac_energy_inv_52345_daily_sum\n';
    put(
      'csv/pvdata/system_id=10010/year=2020/month=1/day=1/system_10010__date_2020_01_01.csv',
      `${header}2020-01-01,3.25,1.5,9.75\n`,
    );
    put(
      'csv/pvdata/system_id=10010/year=2020/month=1/day=2/system_10010__date_2020_01_02.csv',
      `${header}2020-01-02,4,,-999\n`,
    );
    // a later file (outside the run's range) with a second inverter: its channel is a sensor too
    put(
      'csv/pvdata/system_id=10010/year=2020/month=2/day=1/system_10010__date_2020_02_01.csv',
      `${header.trimEnd()},ac_power_inv_52346_daily_max\n2020-02-01,1,1,1,2\n`,
    );
    // not in any systems index: the zone comes from the per-system JSON
    put('csv/system_metadata/10010_system_metadata.json', JSON.stringify({ System: { timezone_code: '8' } }));
  });
  afterAll(() => rmSync(work, { recursive: true, force: true }));

  /** `pv-pipeline run --format csv` over the mirror's `systems` and days into the DuckDB file `db`. */
  const run = (systems: string, from: string, to: string, db: string) =>
    runCli([
      'run',
      '--source',
      `file://${mirror}`,
      '--format',
      'csv',
      '--systems',
      systems,
      '--from',
      from,
      '--to',
      to,
      '--sink',
      `duckdb://${db}`,
      '--json',
    ]);

  it('loads the daily aggregates with units from the names, one row per channel and day, at local midnight', async () => {
    const db = join(work, 'r.duckdb');
    const r = await run('10010', '2020-01-01', '2020-01-31', db);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    const rows = await query(
      db,
      `SELECT strftime(measured_on, '%Y-%m-%d') AS day, strftime(timestamp, '%Y-%m-%d %H:%M') AS utc, sensor, metric_id, units, value
       FROM pv_readings ORDER BY day, sensor`,
    );
    expect(rows).toEqual([
      {
        day: '2020-01-01',
        utc: '2020-01-01 08:00',
        sensor: 'ac_energy_inv_52345_daily_sum',
        metric_id: 52345,
        units: 'kWh',
        value: 9.75,
      },
      {
        day: '2020-01-01',
        utc: '2020-01-01 08:00',
        sensor: 'ac_power_inv_52345_daily_max',
        metric_id: 52345,
        units: 'kW',
        value: 3.25,
      },
      {
        day: '2020-01-01',
        utc: '2020-01-01 08:00',
        sensor: 'ac_power_inv_52345_daily_mean',
        metric_id: 52345,
        units: 'kW',
        value: 1.5,
      },
      {
        day: '2020-01-02',
        utc: '2020-01-02 08:00',
        sensor: 'ac_power_inv_52345_daily_max',
        metric_id: 52345,
        units: 'kW',
        value: 4,
      },
    ]);
    // one pv_sensors row per column (the daily columns share metric id 52345), from the file headers
    expect(
      await query(db, 'SELECT ss_id, metric_id, sensor, units, aggregation_type FROM pv_sensors ORDER BY sensor'),
    ).toEqual([
      {
        ss_id: 10010,
        metric_id: 52345,
        sensor: 'ac_energy_inv_52345_daily_sum',
        units: 'kWh',
        aggregation_type: 'sum',
      },
      { ss_id: 10010, metric_id: 52345, sensor: 'ac_power_inv_52345_daily_max', units: 'kW', aggregation_type: 'max' },
      {
        ss_id: 10010,
        metric_id: 52345,
        sensor: 'ac_power_inv_52345_daily_mean',
        units: 'kW',
        aggregation_type: 'mean',
      },
      { ss_id: 10010, metric_id: 52346, sensor: 'ac_power_inv_52346_daily_max', units: 'kW', aggregation_type: 'max' },
    ]);
    const orphans = await query(
      db,
      'SELECT count(*) AS n FROM pv_readings r ANTI JOIN pv_sensors s USING (ss_id, sensor)',
    );
    expect(orphans).toEqual([{ n: 0 }]);
  });

  it('a residential object whose system has no known zone fails alone, naming the system and where a zone was looked for (issue #14, defect 6)', async () => {
    // 10020: in no systems index and without a metadata JSON; 10010 beside it loads
    put(
      'csv/pvdata/system_id=10020/year=2020/month=1/day=1/system_10020__date_2020_01_01.csv',
      ',ac_power_inv_61111_daily_max\n2020-01-01,2.5\n',
    );
    const db = join(work, 'nozone.duckdb');
    const r = await run('10010,10020', '2020-01-01', '2020-01-01', db);
    expect(r.code, r.stderr).toBe(2);
    const summary = JSON.parse(r.stdout) as { failures: Array<{ key: string; reason: string }>; state: string };
    expect(summary.state).toBe('partial');
    expect(summary.failures).toEqual([
      {
        key: 'csv/pvdata/system_id=10020/year=2020/month=1/day=1/system_10020__date_2020_01_01.csv',
        reason: expect.stringMatching(
          /system 10020 has no time zone \(looked in the systems index .*csv\/system_metadata\/10020_system_metadata\.json \(System\.timezone_code\)\)/,
        ),
      },
    ]);
    expect(await query(db, 'SELECT ss_id, count(*) AS n FROM pv_readings GROUP BY ss_id')).toEqual([
      { ss_id: 10010, n: 3 },
    ]);
  });
});
