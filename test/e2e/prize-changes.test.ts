import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../support/cli.js';
import { query } from '../support/duckdb.js';
import { type PrizeFileSpec, prizeTruthSql, writePrizeFile, writePrizeMetadata } from '../support/prize-files.js';

const CHANNEL_ID = /_(?:o|inv|meter)_(\d+)$/;

/** One prize file of system 2107 whose length changes between runs (its lines never do). */
const SPEC: PrizeFileSpec = {
  key: '2023-solar-data-prize/2107_OEDI/data/2107_electrical_data.csv',
  columns: ['inv_01_ac_power_inv_149583', 'inv_02_ac_power_inv_149584'],
  start: '2021-06-01 00:00:00',
  stepSeconds: 60,
  lines: 3000,
};

/** The two sinks, and how to read their facts with DuckDB. */
const SINKS = {
  duckdb: {
    url: (dir: string) => `duckdb://${join(dir, 'pv.duckdb')}`,
    from: (_dir: string) => 'pv_readings',
    db: (dir: string) => join(dir, 'pv.duckdb'),
  },
  parquet: {
    url: (dir: string) => `parquet://${join(dir, 'dataset')}`,
    from: (dir: string) =>
      `read_parquet('${join(dir, 'dataset', 'pv_readings')}/**/*.parquet', hive_partitioning = false)`,
    db: () => null,
  },
} as const;

describe('a prize file that grows, shrinks or is cut into other parts keeps every reading exactly once', () => {
  let work: string;
  let mirror: string;

  beforeAll(async () => {
    work = mkdtempSync(join(tmpdir(), 'pv-prize-changes-'));
    mirror = join(work, 'mirror');
    await writePrizeMetadata(mirror, '2107_OEDI', 2107, {
      System: { system_id: 2107, public_name: 'Prize 2107', timezone_code: 'PST8PDT' },
    });
  });
  afterAll(() => rmSync(work, { recursive: true, force: true }));

  /** Per channel: count and sum of the readings the file holds now (DuckDB SQL on the CSV). */
  const truth = async () =>
    (await query(null, `${prizeTruthSql(join(mirror, SPEC.key), SPEC.columns)} ORDER BY col`)).map((r) => ({
      metric_id: Number(CHANNEL_ID.exec(String(r.col))![1]),
      n: Number(r.n),
      s: Number(r.s),
    }));

  for (const [name, sink] of Object.entries(SINKS)) {
    it(`${name} sink`, async () => {
      const dir = mkdtempSync(join(work, `${name}-`));
      const loaded = async () => ({
        channels: await query(
          sink.db(dir),
          `SELECT metric_id, count(*) AS n, round(fsum(value), 4) AS s FROM ${sink.from(dir)} GROUP BY ALL ORDER BY ALL`,
        ),
        duplicates: Number(
          (
            await query(
              sink.db(dir),
              `SELECT count(*) AS n FROM (SELECT ss_id, timestamp, sensor FROM ${sink.from(dir)} GROUP BY ALL HAVING count(*) > 1)`,
            )
          )[0]!.n,
        ),
      });
      const run = async (partMb: string) => {
        const r = await runCli(
          [
            'run',
            '--source',
            `file://${mirror}`,
            '--format',
            'prize',
            '--systems',
            '2107',
            '--part-mb',
            partMb,
            '--sink',
            sink.url(dir),
            '--json',
          ],
          { timeoutMs: 120_000 },
        );
        expect(r.code, r.stderr).toBe(0);
        return JSON.parse(r.stdout).counts as {
          planned: number;
          transformed: number;
          failed: number;
          readings: number;
        };
      };
      const check = async (step: string) => {
        const got = await loaded();
        expect(got.duplicates, step).toBe(0);
        expect(got.channels, step).toEqual(await truth());
      };

      await writePrizeFile(mirror, SPEC);
      const first = await run('0.01'); // ~12 parts of 10 KiB
      expect(first.failed).toBe(0);
      await check('first load');

      // grows: its last part is cut at another end, and new parts follow
      await writePrizeFile(mirror, { ...SPEC, lines: 4500 });
      expect((await run('0.01')).failed).toBe(0);
      await check('after growing');

      // shrinks: the parts past its new end are retired, their readings deleted
      await writePrizeFile(mirror, { ...SPEC, lines: 1200 });
      const shrunk = await run('0.01');
      expect(shrunk.failed).toBe(0);
      await check('after shrinking');

      // the same file cut at another part size: every old part retired, no reading twice
      await writePrizeFile(mirror, { ...SPEC, lines: 2000 });
      expect((await run('0.02')).failed).toBe(0);
      await check('after re-cutting');

      // and again: nothing to do, retired parts stay retired
      const again = await run('0.02');
      expect(again).toMatchObject({ transformed: 0, failed: 0, readings: 0 });
      await check('after a re-run');
    }, 300_000);
  }
});
