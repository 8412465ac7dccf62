/**
 * The cluster loading into BigQuery (the fake of its REST API) while the fake
 * fails requests (500/503/429, half of them after the work was done), ends a
 * load job with a transient error, and holds a load job while the loader is
 * SIGKILLed. Each round loads the sample mirror into a fresh dataset; the rows
 * must equal the inline DuckDB run's, with no duplicated key.
 */
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type BigQueryFake, startBigQueryFake } from '../support/bigquery-fake/index.js';
import { duplicateKeysSql, perSensorSql } from '../support/bigquery-fake/test-helpers.js';
import { SAMPLE_MIRROR } from '../support/cli.js';
import { Deployment } from '../support/deployment.js';
import { query } from '../support/duckdb.js';
import { inlineRun } from '../support/ground-truth.js';
import { waitFor } from '../support/wait-for.js';
import { CHAOS } from './chaos-settings.js';
import { FigureBook } from './figures.js';

const NAME = 'bigquery-faults';
const SAMPLE_OBJECTS = 34;

const figures = new FigureBook('bigquery');
afterAll(() => console.log(`chaos figures: ${figures.write()}`));

/** One deployment per round (a fresh fake and Redis: nothing of an earlier round is reused). */
describe.each(Array.from({ length: CHAOS.rounds }, (_, round) => round))(
  'chaos: loading into BigQuery under API faults and a loader crash (round %i)',
  { timeout: 240_000 },
  (round) => {
    const d = new Deployment();
    let fake: BigQueryFake;
    let truth: Array<Record<string, unknown>>;
    const sink = () => ({ PV_SINK: `bigquery://proj/chaos_${round}`, BIGQUERY_API_ENDPOINT: fake.url });

    beforeAll(async () => {
      fake = await startBigQueryFake({ seed: CHAOS.seed + round });
      await d.start(SAMPLE_MIRROR);
      await d.spawnCluster(sink());
      const truthDb = join(d.work, 'truth.duckdb');
      await inlineRun(SAMPLE_MIRROR, '2010-01-01', '2025-12-31', truthDb);
      truth = await query(truthDb, perSensorSql('pv_readings'));
    }, 120_000);
    afterAll(async () => {
      await d.destroy();
      await fake?.stop();
    });

    it('every reading exactly once, the loader’s redo reported', async () => {
      const fromRequest = fake.requests.length;
      const conflictsBefore = fake.conflicts.length;
      let failedJob: string | null = null;
      let held: string | null = null;
      fake.faults.errorRate = 0.15;
      fake.faults.failJob = (job) => {
        if (job.kind !== 'load' || failedJob) return null;
        failedJob = job.jobId;
        return { reason: 'backendError', message: 'Injected backend error.' };
      };
      fake.faults.holdJob = (job) => {
        if (job.kind !== 'load' || held || !failedJob) return 0;
        held = job.jobId;
        return Number.POSITIVE_INFINITY; // PENDING until released
      };
      let run: Awaited<ReturnType<typeof d.finished>>;
      try {
        const id = await d.trigger({ systems: 'all', from: '2010-01-01', to: '2025-12-31', format: 'parquet' });
        await waitFor(() => held !== null && (fake.jobs.get(held)?.polls ?? 0) >= 2, {
          timeoutMs: 120_000,
          what: 'the loader polling a held load job',
        });
        await d.stop('loader', 'SIGKILL');
        fake.release(held!); // the job runs at its next poll, as a real one would finish meanwhile
        d.spawn('loader', 'loader', sink());
        run = await d.finished(id, 180_000);
      } finally {
        fake.faults.errorRate = 0;
        fake.faults.failJob = undefined;
        fake.faults.holdJob = undefined;
      }
      const injected = fake.requests.slice(fromRequest).filter((x) => x.injected);
      for (const x of injected) figures.fault(NAME, `http${x.status}${x.injected === 'after' ? 'AfterWork' : ''}`);
      figures.fault(NAME, 'loadJobTransientError');
      figures.fault(NAME, 'loaderSigkillDuringLoadJob');
      figures.fault(NAME, 'jobIdConflicts409', fake.conflicts.length - conflictsBefore); // a redo finding its job
      const f = figures.scenario(NAME);
      f.runs++;
      f.retriesReported += run.counts.retried;
      f.objectsFailed += run.counts.failed;
      for (const r of run.retries) figures.reason(NAME, r.reason);

      expect(run.counts).toMatchObject({ planned: SAMPLE_OBJECTS, loaded: SAMPLE_OBJECTS, failed: 0 });
      expect(run.retries.map((r) => r.reason).join('\n')).toMatch(/load: loader lost/);
      const table = `chaos_${round}.pv_readings`;
      const got = await fake.sql(perSensorSql(table));
      const duplicated = await fake.sql(duplicateKeysSql(table));
      const count = (rows: Array<Record<string, unknown>>) => rows.reduce((s, r) => s + Number(r.n), 0);
      f.objects += SAMPLE_OBJECTS;
      f.readingsExpected += count(truth);
      f.readingsLost += Math.max(0, count(truth) - count(got));
      f.readingsDuplicated += Number(duplicated[0]!.n);
      expect(got).toEqual(truth);
      expect(duplicated).toEqual([{ n: 0 }]);
      if (run.state === 'completed' || run.state === 'partial') f.runsCompleted++;
    });
  },
);
