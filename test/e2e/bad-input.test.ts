import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli, SAMPLE_MIRROR } from '../support/cli.js';
import { exec, query } from '../support/duckdb.js';

const day = (fmt: 'parquet' | 'csv', ss: number, d: number, name?: string) =>
  `${fmt}/pvdata/system_id=${ss}/year=2015/month=6/day=${d}/${name ?? `system_${ss}__date_2015_06_${String(d).padStart(2, '0')}${fmt === 'parquet' ? '.snappy.000.parquet' : '.csv'}`}`;
const GOOD_PARQUET = day('parquet', 4, 1);
const _GOOD_CSV = day('csv', 4, 1);

/** Each bad object, with the reason its failure must give. */
const BAD_PARQUET: Array<[string, string, RegExp]> = [
  [day('parquet', 4, 10), 'corrupt', /corrupt Parquet|not a Parquet file/],
  [day('parquet', 4, 11), 'truncated', /not a Parquet file \(no PAR1 magic/],
  [day('parquet', 4, 12), '', /empty object \(0 bytes\)/],
  [day('parquet', 77, 13), 'copy', /metrics dictionary of system 77 not found/],
  [
    day('parquet', 4, 14, 'system_4__date_2015_06_15.snappy.000.parquet'),
    'copy',
    /disagrees with its year\/month\/day folders/,
  ],
  [day('parquet', 4, 16, 'notes.parquet'), 'copy', /key outside the PVDAQ layout/],
  [day('parquet', 4, 17), 'unknown-metric', /metric id 9999 not in the metrics dictionary/],
  [day('parquet', 4, 18), 'wrong-schema', /Parquet schema lacks metric_id, value/],
];
const BAD_CSV: Array<[string, string, RegExp]> = [
  [
    day('csv', 4, 10),
    'measured_on,module_temp_1__321,system_id\n2015-06-10 00:00:00,21.5,4\n2015-06-10 00:15:00,2',
    /malformed CSV/,
  ],
  [
    day('csv', 4, 11),
    'measured_on,module_temp_1__321,system_id\n2015-06-11 00:00:00,21.5,4\n2015-06-11 00:15:00,warm,4\n',
    /line 3, column "module_temp_1__321": "warm" is not a number/,
  ],
  [day('csv', 4, 12), 'measured_on,module_temp_1,system_id\n2015-06-12 00:00:00,21.5,4\n', /no metric ids/],
  [day('csv', 4, 13), '', /empty object/],
];

describe('bad input fails only its own object', () => {
  let work: string;
  let mirror: string;

  beforeAll(async () => {
    work = mkdtempSync(join(tmpdir(), 'pv-bad-'));
    mirror = join(work, 'pvdaq');
    cpSync(SAMPLE_MIRROR, mirror, { recursive: true });
    const good = readFileSync(join(mirror, GOOD_PARQUET));
    for (const [key, kind] of BAD_PARQUET) {
      const path = join(mirror, key);
      mkdirSync(dirname(path), { recursive: true });
      if (kind === 'corrupt') {
        const b = Buffer.from(good);
        // smash the footer metadata, keep both PAR1 magics
        b.fill(0xff, b.length - 200, b.length - 8);
        writeFileSync(path, b);
      } else if (kind === 'truncated') writeFileSync(path, good.subarray(0, Math.floor(good.length / 2)));
      else if (kind === 'copy') writeFileSync(path, good);
      else if (kind === 'unknown-metric') {
        await exec(
          null,
          `COPY (SELECT measured_on, utc_measured_on, CASE WHEN row_number() OVER () = 5 THEN 9999 ELSE metric_id END AS metric_id, value FROM read_parquet('${join(mirror, GOOD_PARQUET)}')) TO '${path}' (FORMAT parquet)`,
        );
      } else if (kind === 'wrong-schema') {
        await exec(
          null,
          `COPY (SELECT measured_on, value AS reading FROM read_parquet('${join(mirror, GOOD_PARQUET)}')) TO '${path}' (FORMAT parquet)`,
        );
      } else writeFileSync(path, kind);
    }
    for (const [key, body] of BAD_CSV) {
      mkdirSync(dirname(join(mirror, key)), { recursive: true });
      writeFileSync(join(mirror, key), body);
    }
  });
  afterAll(() => rmSync(work, { recursive: true, force: true }));

  for (const format of ['parquet', 'csv'] as const) {
    it(`${format}: exit 2, each bad object named with its reason, the rest loaded, nothing of the bad ones`, async () => {
      const db = join(work, `${format}.duckdb`);
      const bad = format === 'parquet' ? BAD_PARQUET : BAD_CSV;
      const r = await runCli([
        'run',
        '--source',
        `file://${mirror}`,
        '--format',
        format,
        '--systems',
        '4,77',
        '--from',
        '2015-06-01',
        '--to',
        '2015-06-30',
        '--sink',
        `duckdb://${db}`,
        '--json',
        // parquet: decode on worker threads, so error classes must survive the thread boundary
        ...(format === 'parquet' ? ['--threads', '2'] : ['--threads', '0']),
      ]);
      expect(r.code, r.stderr).toBe(2);
      const s = JSON.parse(r.stdout);
      expect(s.state).toBe('partial');
      expect(s.counts.failed).toBe(bad.length);
      expect(s.counts.loaded).toBe(7);
      for (const [key, , reason] of bad) {
        const f = s.failures.find((x: { key: string }) => x.key === key);
        expect(f, `no failure reported for ${key}`).toBeDefined();
        expect(f.reason).toMatch(reason);
        expect(f.reason).toContain(key.split('/').pop()!.slice(0, 10));
      }
      const loaded = await query(db, `SELECT DISTINCT source_key FROM pv_readings ORDER BY 1`);
      expect(loaded.map((x) => x.source_key)).toEqual(
        Array.from({ length: 7 }, (_, i) => day(format, 4, i + 1)).sort(),
      );
      const ledger = await query(db, `SELECT count(*) AS n FROM pv_ingest_ledger`);
      expect(ledger[0]!.n).toBe(7);
    });
  }

  it('a fatal problem exits 1 with a one-line reason', async () => {
    const r = await runCli([
      'run',
      '--source',
      'ftp://nowhere/pvdaq',
      '--from',
      '2015-06-01',
      '--to',
      '2015-06-02',
      '--sink',
      `duckdb://${join(work, 'x.duckdb')}`,
    ]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/pv-pipeline run: --source: .*ftp:\/\/nowhere/);
    const r2 = await runCli(['run', '--source', `file://${mirror}`, '--from', '2015-06-09', '--to', '2015-06-01']);
    expect(r2.code).toBe(1);
    expect(r2.stderr).toMatch(/from: from is after to/);
  });

  it('unknown system ids are refused, named, with exit 1 and nothing loaded', async () => {
    const db = join(work, 'unknown.duckdb');
    const args = ['run', '--source', `file://${SAMPLE_MIRROR}`, '--from', '2010-01-01', '--to', '2025-12-31'];
    const r = await runCli([...args, '--systems', '4,99999,88888', '--sink', `duckdb://${db}`]);
    expect(r.code).toBe(1);
    expect(r.stderr.trim().split('\n').at(-1)).toBe(
      `pv-pipeline run: --systems: unknown systems 88888, 99999: not in the catalog of file://${SAMPLE_MIRROR} and no data folder there (pv-pipeline systems lists them)`,
    );
    expect(await query(db, 'SELECT count(*) AS n FROM pv_readings')).toEqual([{ n: 0 }]);
    // a known system without data in the days asked for is not unknown: it plans nothing
    const quiet = await runCli([
      ...args.slice(0, 3),
      '--from',
      '1999-01-01',
      '--to',
      '1999-01-02',
      '--systems',
      '4',
      '--sink',
      `duckdb://${db}`,
      '--json',
    ]);
    expect(quiet.code, quiet.stderr).toBe(0);
    expect(JSON.parse(quiet.stdout).counts.planned).toBe(0);
  });
});
