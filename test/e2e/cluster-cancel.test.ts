import { join } from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type S3FaultProxy, startS3FaultProxy } from '../chaos/s3-fault-proxy.js';
import { runCli, SAMPLE_MIRROR } from '../support/cli.js';
import { Deployment } from '../support/deployment.js';
import { query } from '../support/duckdb.js';
import { inlineRun } from '../support/ground-truth.js';
import { waitFor } from '../support/wait-for.js';

/**
 * A run cancelled halfway in a real cluster (api, planner, two workers, loader
 * as processes; the source behind a proxy adding latency so that the run is
 * still under way): its queued jobs go, what it loaded stays loaded and in the
 * ledger, exactly as the inline run loaded those objects, and nothing else.
 */
describe('cancelling a run of a cluster halfway', () => {
  const d = new Deployment();
  let proxy: S3FaultProxy;
  let inlineDb: string;

  beforeAll(async () => {
    await d.start(SAMPLE_MIRROR);
    proxy = await startS3FaultProxy({ target: d.s3.endpoint, latencyMs: 300 });
    d.s3Endpoint = proxy.url;
    await d.spawnCluster({ PV_WORKER_CONCURRENCY: '1' });
    inlineDb = join(d.work, 'inline.duckdb');
    await inlineRun(SAMPLE_MIRROR, '2010-01-01', '2025-12-31', inlineDb);
  });
  afterAll(async () => {
    await d.destroy();
    await proxy?.stop();
  });

  it('keeps what loaded, removes what waited, and records the run as cancelled', async () => {
    const id = await d.trigger({ systems: 'all', from: '2010-01-01', to: '2025-12-31', format: 'parquet' });
    await waitFor(async () => (await d.run(id)).counts.loaded >= 1, {
      timeoutMs: 120_000,
      what: 'a first object loaded',
    });
    const cli = await runCli(['runs', 'cancel', id, '--api', `http://127.0.0.1:${d.port}`, '--token', d.token]);
    expect(cli.code, cli.stderr).toBe(0);
    expect(cli.stdout).toBe(`run ${id} cancelled\n`);

    // what was under way finishes; then nothing of the run is queued or held
    const redis = new Redis(d.redis.url);
    try {
      await waitFor(
        async () => {
          const busy = await Promise.all(
            ['transform', 'load'].flatMap((q) => [
              redis.llen(`{pv}:${q}:wait`),
              redis.llen(`{pv}:${q}:active`),
              redis.zcard(`{pv}:${q}:prioritized`),
              redis.zcard(`{pv}:${q}:delayed`),
            ]),
          );
          return busy.every((n) => n === 0);
        },
        { timeoutMs: 120_000, what: 'the queues to empty' },
      );
      // no object waits for a run, and no detach is remembered: every job that ran has reported
      expect(await redis.keys('{pv}:obj:*')).toEqual([]);
    } finally {
      redis.disconnect();
    }
    const run = await d.run(id);
    expect(run.state).toBe('cancelled');
    // cancelled while it was still being planned (pages) or worked through: not everything loaded
    expect(run.counts.planned).toBeLessThanOrEqual(34);
    expect(run.counts.loaded).toBeGreaterThanOrEqual(1);
    expect(run.counts.loaded).toBeLessThan(34);
    expect(run.recorded).toBe(true);

    await d.stop('loader');
    const ledger = await query(d.db, `SELECT source_key FROM pv_ingest_ledger WHERE run_id = '${id}' ORDER BY ALL`);
    expect(ledger.length).toBe(run.counts.loaded);
    const keys = ledger.map((r) => `'${r.source_key}'`).join(', ');
    // whole rows: exactly the inline run's rows of those objects, and no others
    const rows = `SELECT * FROM pv_readings ORDER BY ALL`;
    const inlineRows = `SELECT * FROM pv_readings WHERE source_key IN (${keys}) ORDER BY ALL`;
    expect(await query(d.db, rows)).toEqual(await query(inlineDb, inlineRows));
    // the run's recorded row counts what the ledger holds of it, objects loaded after the cancel included
    expect(await query(d.db, `SELECT state, loaded, readings FROM pv_runs WHERE run_id = '${id}'`)).toEqual([
      { state: 'cancelled', loaded: run.counts.loaded, readings: run.counts.readings },
    ]);
  });
});
