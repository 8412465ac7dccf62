import { mkdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Deployment, DUPLICATE_KEYS } from '../support/deployment.js';
import { query } from '../support/duckdb.js';
import { type PrizeFileSpec, prizeTruthSql, writePrizeFile, writePrizeMetadata } from '../support/prize-files.js';

const GiB = 1024 ** 3;

/** Peak resident memory (VmHWM) of a live process, bytes. */
function peakRss(pid: number): number {
  const m = /^VmHWM:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return Number(m![1]) * 1024;
}

/**
 * A prize CSV over 1 GiB, generated on the fly in the exact layout (system
 * 7333's 10-second tag-group file), loaded by the cluster: two worker
 * processes share its byte ranges. Their peak RSS must stay under 300 MB and
 * the fact rows must equal DuckDB's own reading of the file.
 */
describe('a prize CSV over 1 GiB through the cluster, streamed in bounded memory', () => {
  const d = new Deployment();
  const mirror = join(d.work, 'big-mirror');
  const spec: PrizeFileSpec = {
    key: '2023-solar-data-prize/7333_OEDI/data/7333_cmb_tag_list.csv_tag_group_1_20220101-20231231_recorded.csv',
    columns: [
      'cmb_01_dc_current_(a)_o_180001',
      'cmb_02_dc_current_(a)_o_180002',
      'inverter_01_ac_power_(kw)_inv_180003',
      'poa_irradiance_o_180004',
    ],
    start: '2022-01-01 00:00:00',
    stepSeconds: 10,
    lines: 3_600_000,
    padding: 260,
  };
  let truth: Array<Record<string, unknown>>;

  beforeAll(async () => {
    const bytes = await writePrizeFile(mirror, spec);
    expect(bytes).toBeGreaterThan(GiB);
    await writePrizeMetadata(mirror, '7333_OEDI', 7333, { System: { system_id: 7333, timezone_code: '8' } });
    truth = await query(null, prizeTruthSql(join(mirror, spec.key), spec.columns));
    // the cluster reads the file:// mirror; its s3rver stays empty
    mkdirSync(join(d.work, 'empty'));
    await d.start(join(d.work, 'empty'));
    await d.spawnCluster({ PV_SOURCE: `file://${mirror}`, PV_PART_MB: '32' });
  }, 600_000);
  afterAll(() => d.destroy());

  it('loads exactly the readings DuckDB finds in the file; workers stay under 300 MB', async () => {
    const size = statSync(join(mirror, spec.key)).size;
    const id = await d.trigger({ systems: [7333], from: '2022-01-01', to: '2022-01-01', format: 'prize' });
    const run = await d.finished(id, 900_000);
    expect(run.state).toBe('completed');
    expect(run.counts).toMatchObject({ planned: Math.ceil(size / (32 * 1024 * 1024)), failed: 0 });
    const workers = ['worker-1', 'worker-2'].map((t) => peakRss(d.procs.get(t)!.child.pid!));
    await d.stop('loader');
    const loaded = await query(
      d.db,
      `SELECT metric_id, count(*) AS n, round(fsum(value), 4) AS s, min(measured_on) AS lo, max(measured_on) AS hi
       FROM pv_readings GROUP BY ALL ORDER BY ALL`,
    );
    expect(loaded).toEqual(
      truth.map((t) => ({ metric_id: Number(/_(\d+)$/.exec(String(t.col))![1]), n: t.n, s: t.s, lo: t.lo, hi: t.hi })),
    );
    expect((await query(d.db, DUPLICATE_KEYS))[0]!.n).toBe(0);
    for (const rss of workers) expect(rss).toBeLessThan(300e6);
    console.log(
      `prize-large: ${(size / GiB).toFixed(2)} GiB, ${run.counts.readings} readings, worker peak RSS ${workers.map((b) => Math.round(b / 2 ** 20)).join(' / ')} MiB`,
    );
  }, 900_000);
});
