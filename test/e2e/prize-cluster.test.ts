import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../support/cli.js';
import { Deployment, DUPLICATE_KEYS, PER_SENSOR } from '../support/deployment.js';
import { query } from '../support/duckdb.js';
import { type PrizeFileSpec, writePrizeFile, writePrizeMirror } from '../support/prize-files.js';
import { waitFor } from '../support/wait-for.js';

describe('prize CSVs in cluster mode: byte ranges of one file shared by two worker processes', () => {
  const d = new Deployment();
  let mirror: string;
  let wholeDb: string;
  let specs: PrizeFileSpec[];

  /** One process, each file whole, into a fresh DuckDB file: the reference. */
  const reference = async (name: string) => {
    const db = join(d.work, name);
    const r = await runCli(['run', '--source', `file://${mirror}`, '--format', 'prize', '--sink', `duckdb://${db}`]);
    expect(r.code, r.stderr).toBe(0);
    return db;
  };

  beforeAll(async () => {
    mirror = join(d.work, 'prize-mirror');
    specs = await writePrizeMirror(mirror, 4000);
    await d.start(mirror);
    await d.spawnCluster({ PV_PART_MB: '0.005', PV_LOG_LEVEL: 'debug' });
    wholeDb = await reference('whole.duckdb');
  });
  afterAll(() => d.destroy());

  it('loads the rows of the unsplit run, none duplicated at part boundaries', async () => {
    const id = await d.trigger({ systems: 'all', from: '2020-01-01', to: '2020-01-01', format: 'prize' });
    const run = await d.finished(id, 180_000);
    expect(run.state).toBe('completed');
    expect(run.counts.failed).toBe(0);
    expect(run.counts.planned).toBeGreaterThan(6 * 10); // every file split in many parts
    await d.stop('loader');
    expect(await query(d.db, PER_SENSOR)).toEqual(await query(wholeDb, PER_SENSOR));
    expect((await query(d.db, DUPLICATE_KEYS))[0]!.n).toBe(0);
    // both workers took parts of the same file
    const partsOf = (tag: string) =>
      new Set(
        readFileSync(d.procs.get(tag)!.logFile, 'utf8')
          .split('\n')
          .filter((l) => l.includes('"msg":"transformed"') && l.includes('2107_electrical_data.csv#bytes='))
          .map((l) => JSON.parse(l).key as string),
      );
    const [a, b] = [partsOf('worker-1'), partsOf('worker-2')];
    expect(a.size).toBeGreaterThan(0);
    expect(b.size).toBeGreaterThan(0);
    expect([...a].filter((k) => b.has(k))).toEqual([]);
    d.spawn('loader');
  }, 240_000);

  it('after files shrink and grow, a new run leaves the rows of the changed files, no vanished or doubled reading', async () => {
    const rewrite = async (name: string, lines: number) => {
      const spec = specs.find((s) => s.key.includes(name))!;
      await writePrizeFile(mirror, { ...spec, lines });
      await d.s3.putObject('oedi-mirror', `pvdaq/${spec.key}`, readFileSync(join(mirror, spec.key)));
    };
    await rewrite('2107_electrical_data', 1500); // the parts past its new end are retired
    await rewrite('9069_electrical_ac', 5000); // its last part is cut longer, new parts follow
    const changedDb = await reference('changed.duckdb');
    const id = await d.trigger({ systems: 'all', from: '2020-01-01', to: '2020-01-01', format: 'prize' });
    const run = await d.finished(id, 180_000);
    expect(run.state).toBe('completed');
    expect(run.counts.failed).toBe(0);
    await d.stop('loader');
    expect(await query(d.db, PER_SENSOR)).toEqual(await query(changedDb, PER_SENSOR));
    expect((await query(d.db, DUPLICATE_KEYS))[0]!.n).toBe(0);
    expect(await query(d.db, PER_SENSOR)).not.toEqual(await query(wholeDb, PER_SENSOR));
    d.spawn('loader');
  }, 240_000);

  it('a file rewritten after planning fails its parts with that reason (no two versions mixed); the next run loads it', async () => {
    const spec = specs.find((s) => s.key.includes('2107_irradiance_data'))!;
    // same length, other times: the same byte ranges, other content
    const rewrite = async (start: string) => {
      await writePrizeFile(mirror, { ...spec, start });
      await d.s3.putObject('oedi-mirror', `pvdaq/${spec.key}`, readFileSync(join(mirror, spec.key)));
    };
    await rewrite('2021-03-21 00:00:00');
    await d.stop('worker-1');
    await d.stop('worker-2');
    const id = await d.trigger({ systems: [2107], from: '2020-01-01', to: '2020-01-01', format: 'prize' });
    await waitFor(async () => (await d.run(id)).counts.planned, { timeoutMs: 60_000, what: 'planning' });
    await rewrite('2021-03-22 00:00:00'); // while its parts wait in the queue
    d.spawn('worker', 'worker-1');
    d.spawn('worker', 'worker-2');
    const run = await d.finished(id, 180_000);
    const parts = run.counts.planned - run.counts.skipped; // the file's parts; 2107's other file is in already
    expect(parts).toBeGreaterThan(5);
    expect(run.counts.failed).toBe(parts);
    expect(run.failures).toHaveLength(parts);
    for (const e of run.failures) {
      expect(e.key.startsWith(`${spec.key}#bytes=`)).toBe(true);
      expect(e.reason).toMatch(
        /changed since it was listed \(ETag \w+ when planned, ETag \w+ now\); the next run loads/,
      );
    }
    const again = await d.finished(
      await d.trigger({ systems: [2107], from: '2020-01-01', to: '2020-01-01', format: 'prize' }),
      180_000,
    );
    expect(again.state).toBe('completed');
    expect(again.counts.failed).toBe(0);
    expect(again.counts.loaded).toBe(parts);
    const currentDb = await reference('rewritten.duckdb');
    await d.stop('loader');
    // with the times: the content differs from the earlier versions only there
    const perSensorTimes = `SELECT sensor, count(*) AS n, min(timestamp)::VARCHAR AS lo, max(timestamp)::VARCHAR AS hi,
      round(fsum(value), 4) AS s FROM pv_readings WHERE ss_id = 2107 GROUP BY ALL ORDER BY ALL`;
    expect(await query(d.db, perSensorTimes)).toEqual(await query(currentDb, perSensorTimes));
    expect(await query(d.db, PER_SENSOR)).toEqual(await query(currentDb, PER_SENSOR));
    expect((await query(d.db, DUPLICATE_KEYS))[0]!.n).toBe(0);
    d.spawn('loader');
  }, 420_000);
});
