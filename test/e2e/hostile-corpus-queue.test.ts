import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { isFinished } from '@pv-pipeline/stages';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SAMPLE_MIRROR } from '../support/cli.js';
import { query } from '../support/duckdb.js';
import {
  buildCorpusMirror,
  CORPUS_MAX_OBJECT_MB,
  type CorpusMirror,
  groundTruthCountsSql,
  loadCorpus,
} from '../support/hostile-corpus.js';
import { type ServeAll, startServeAll } from '../support/serve-all.js';
import { waitFor } from '../support/wait-for.js';

/*
 * The same hostile corpus as hostile-corpus.test.ts, through the queue path
 * (`serve all`: api → planner → worker → loader): each bad object fails alone
 * with its reason in the run's failures, nothing of it reaches the sink, and
 * every good object loads exactly as in the files.
 */
const corpus = loadCorpus();
const sample = SAMPLE_MIRROR.replace(/\/$/, '');
const FORMATS = ['parquet', 'csv'] as const;

interface RunStatus {
  state: string;
  counts: { failed: number; loaded: number };
  failures: Array<{ key: string; reason: string }>;
}

for (const format of FORMATS) {
  // one deployment per format: the same days in both formats would replace each other's rows
  describe(`the hostile-input corpus through the queues (\`serve all\`), --format ${format}`, () => {
    const cases = corpus.cases.filter((c) => c.format === format);
    const badKeys = cases.filter((c) => c.reason).map((c) => c.key);
    let m: CorpusMirror;
    let d: ServeAll;
    let run: RunStatus;
    let db: string;

    beforeAll(async () => {
      m = buildCorpusMirror(corpus);
      d = await startServeAll({
        mirror: m.mirror,
        env: { PV_MAX_OBJECT_MB: String(CORPUS_MAX_OBJECT_MB), PV_JOB_BACKOFF_MS: '100', PV_LOG_LEVEL: 'warn' },
      });
      const res = await d.api('/api/runs', {
        method: 'POST',
        body: JSON.stringify({ systems: 'all', from: '2010-01-01', to: '2025-12-31', format }),
      });
      expect(res.status, await res.clone().text()).toBe(202);
      const { runId: id } = (await res.json()) as { runId: string };
      run = await waitFor(
        async () => {
          const r = (await (await d.api(`/api/runs/${id}`)).json()) as RunStatus;
          return isFinished(r.state) ? r : null;
        },
        { timeoutMs: 180_000, what: `${format} run ${id}` },
      );
      // the loader holds the DuckDB file: stop the process to read it
      await d.service.kill('SIGTERM');
      db = join(d.work, 'pv.duckdb');
    }, 300_000);
    afterAll(async () => {
      await d?.destroy();
      if (m) rmSync(m.work, { recursive: true, force: true });
    });

    it('the run completes with exactly the bad objects failed, each with its reason', () => {
      expect(run.state).toBe('partial'); // some objects failed, the others loaded
      expect(run.failures.map((e) => e.key).sort()).toEqual([...badKeys].sort());
      for (const c of cases.filter((x) => x.reason)) {
        const e = run.failures.find((x) => x.key === c.key)!;
        expect(e.reason, c.id).toMatch(new RegExp(c.reason!));
        expect(e.reason, c.id).not.toMatch(/\n|\bat .*\.ts:\d+/);
      }
    });

    it('nothing of a bad object in the sink; good objects exactly as in the files, no key twice', async () => {
      const inSink = await query(
        db,
        'SELECT source_key FROM pv_readings UNION SELECT source_key FROM pv_ingest_ledger',
      );
      expect(inSink.map((r) => String(r.source_key)).filter((k) => badKeys.includes(k))).toEqual([]);
      const truth = await query(null, groundTruthCountsSql(sample, format));
      const got = await query(
        db,
        `SELECT source_key, count(*) AS n FROM pv_readings WHERE source_key IN (${truth.map((t) => `'${t.source_key}'`).join(',')}) GROUP BY ALL ORDER BY ALL`,
      );
      expect(got).toEqual(truth);
      for (const c of cases.filter((x) => x.rows)) {
        const rows = await query(
          db,
          `SELECT strftime(measured_on, '%Y-%m-%d %H:%M:%S') AS measured_on, sensor, value FROM pv_readings
           WHERE source_key = '${c.key}' ORDER BY measured_on`,
        );
        expect(rows, c.id).toEqual(c.rows);
      }
      const dup = await query(
        db,
        'SELECT count(*) AS n FROM (SELECT ss_id, timestamp, sensor FROM pv_readings GROUP BY ALL HAVING count(*) > 1)',
      );
      expect(dup[0]!.n).toBe(0);
    });
  });
}
