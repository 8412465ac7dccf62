import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect } from 'vitest';
import { ensureMirror, type MirrorParams } from '../../bench/generate-mirror.js';
import { duplicateKeysSql, perSensorSql } from '../support/bigquery-fake/test-helpers.js';
import { Deployment, type RunRecord } from '../support/deployment.js';
import { query } from '../support/duckdb.js';
import { inlineRun } from '../support/ground-truth.js';
import type { ServiceProcess } from '../support/services.js';
import { waitFor } from '../support/wait-for.js';
import { CHAOS, CHAOS_MIRROR_DIR } from './chaos-settings.js';
import { FigureBook } from './figures.js';
import { type S3FaultProxy, startS3FaultProxy } from './s3-fault-proxy.js';
import { type Slice, SliceAllocator, sliceRows } from './slices.js';
import { openStagingFault, type StagingFault } from './staging-fault.js';

/**
 * The deployment the chaos scenarios share: its own Redis (AOF on), an s3rver
 * with a generated mirror reached through the S3 fault proxy, staging on a
 * directory that can be made full or unwritable, the api, planner, two workers
 * and the loader as processes; and the ground truth, an inline run of the
 * whole mirror into its own DuckDB file.
 */
export class ChaosCluster {
  readonly d = new Deployment();
  readonly figures: FigureBook;
  readonly slices: SliceAllocator;
  readonly mirrorParams: MirrorParams;
  proxy!: S3FaultProxy;
  staging!: StagingFault;
  /** The inline run's DuckDB file: the ground truth. */
  truthDb = '';
  /** Every slice any run was triggered for (the table must hold exactly these). */
  readonly loaded: Slice[] = [];

  constructor(suite: string, params: MirrorParams) {
    this.figures = new FigureBook(suite);
    this.mirrorParams = params;
    this.slices = new SliceAllocator(params);
  }

  async start(): Promise<void> {
    await ensureMirror(CHAOS_MIRROR_DIR, this.mirrorParams);
    await this.d.start(CHAOS_MIRROR_DIR, { aof: true });
    this.proxy = await startS3FaultProxy({ target: this.d.s3.endpoint, seed: CHAOS.seed });
    this.d.s3Endpoint = this.proxy.url;
    this.staging = openStagingFault(join(this.d.work, 'staging'));
    try {
      await this.d.spawnCluster(this.env());
    } catch (err) {
      throw new Error(`${(err as Error).message}\n${this.logTails()}`);
    }
    this.truthDb = join(this.d.work, 'truth.duckdb');
    const p = this.mirrorParams;
    const month = `${p.year}-${String(p.month).padStart(2, '0')}`;
    await inlineRun(CHAOS_MIRROR_DIR, `${month}-01`, `${month}-${p.days}`, this.truthDb);
  }

  /** The services' environment: staging on the faulty directory. */
  env(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
    return { PV_STAGING: `file://${this.staging.dir}`, ...extra };
  }

  /** Starts (or restarts, like a Deployment would) a service process. */
  spawn(role: string, tag = role, extra: NodeJS.ProcessEnv = {}): ServiceProcess {
    return this.d.spawn(role, tag, this.env(extra));
  }

  /**
   * Triggers a run of `slice`, runs `during(runId)` alongside, and returns the
   * run once finished (and, with `settled`, once its report satisfies it: a
   * redo may be reported after the run completed).
   */
  async run(
    scenario: string,
    slice: Slice,
    during?: (runId: string) => Promise<void>,
    settled?: { what: string; ok: (r: RunRecord) => boolean },
  ): Promise<RunRecord> {
    const id = await this.d.trigger(slice.request);
    if (!this.loaded.includes(slice)) this.loaded.push(slice);
    await during?.(id);
    let run = await this.d.finished(id, 180_000);
    if (settled) run = await this.until(id, settled.what, settled.ok);
    this.note(scenario, run);
    return run;
  }

  /** Adds a finished run to the scenario's figures. */
  note(scenario: string, run: RunRecord): void {
    const f = this.figures.scenario(scenario);
    f.runs++;
    if (run.state === 'completed' || run.state === 'partial') f.runsCompleted++;
    f.retriesReported += run.counts.retried;
    f.objectsFailed += run.counts.failed;
    for (const r of run.retries) this.figures.reason(scenario, r.reason);
    for (const e of run.failures) this.figures.reason(scenario, e.reason);
  }

  /**
   * The check after a scenario: stops the loader (DuckDB has one writer), then
   * the scenario's slices must hold exactly the ground truth's readings per
   * (ss_id, sensor) (count and sum), the whole table no duplicated key and no
   * reading of a slice not loaded; restarts the loader.
   */
  async verify(scenario: string, slices: readonly Slice[]): Promise<void> {
    await this.d.stop('loader');
    try {
      const got = await query(this.d.db, perSensorSql(sliceRows('pv_readings', slices)));
      const want = await query(this.truthDb, perSensorSql(sliceRows('pv_readings', slices)));
      const count = (rows: Array<Record<string, unknown>>) => rows.reduce((s, r) => s + Number(r.n), 0);
      const f = this.figures.scenario(scenario);
      f.objects += slices.reduce((s, x) => s + x.keys.length, 0);
      f.readingsExpected += count(want);
      f.readingsLost += Math.max(0, count(want) - count(got));
      const duplicated = await query(this.d.db, duplicateKeysSql('pv_readings'));
      f.readingsDuplicated += Number(duplicated[0]!.n);
      expect(got).toEqual(want);
      expect(duplicated).toEqual([{ n: 0 }]);
      const total = await query(this.d.db, 'SELECT count(*) AS n FROM pv_readings');
      const expected = await query(this.truthDb, `SELECT count(*) AS n FROM ${sliceRows('pv_readings', this.loaded)}`);
      expect(total).toEqual(expected);
    } finally {
      this.spawn('loader');
    }
  }

  /** The last lines of every service's log (for a failure message). */
  logTails(lines = 15): string {
    return [...this.d.procs.values()]
      .map((p) => {
        const text = existsSync(p.logFile) ? readFileSync(p.logFile, 'utf8').trim().split('\n') : [];
        return `--- ${p.logFile}\n${text.slice(-lines).join('\n')}`;
      })
      .join('\n');
  }

  /** Waits until a condition on the run holds (e.g. some objects transformed). */
  async until(id: string, what: string, ok: (r: RunRecord) => boolean, timeoutMs = 60_000): Promise<RunRecord> {
    return waitFor(
      async () => {
        const r = await this.d.run(id);
        return ok(r) ? r : null;
      },
      { timeoutMs, intervalMs: 50, what },
    );
  }

  async destroy(): Promise<void> {
    const file = this.figures.write();
    console.log(`chaos figures: ${file}`);
    for (const tag of [...this.d.procs.keys()]) await this.d.stop(tag, 'SIGKILL');
    await this.proxy?.stop();
    this.staging?.destroy();
    await this.d.destroy();
  }
}

/** Waits for a service process to exit by itself (e.g. at its crash point). */
export async function exited(p: ServiceProcess, what: string, timeoutMs = 60_000): Promise<void> {
  await waitFor(() => p.child.exitCode !== null || p.child.signalCode !== null, { timeoutMs, what });
}
