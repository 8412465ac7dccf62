import { describeError, isRetryable, type Logger, type StagedManifest } from '@pv-pipeline/core';
import { commitStaged, type StagingArea } from '@pv-pipeline/pipeline';
import type { SensorEntry, SystemCatalog } from '@pv-pipeline/pvdaq';
import type { Sink } from '@pv-pipeline/sinks';
import { type Job, UnrecoverableError } from 'bullmq';
import type { Redis } from 'ioredis';
import type { LoadJobData } from './job-payloads.js';
import type { LedgerCache } from './ledger-cache.js';
import { addMetrics } from './pipeline-metrics.js';
import type { PipelineQueues } from './queues.js';
import { enqueueFinalize } from './run-finalization.js';
import type { RunStore } from './run-store.js';
import { transformJobId } from './transform-job-id.js';

/** What the loader needs. */
export interface LoadProcessorDeps {
  /** An initialized sink; the loader is its only writer. */
  sink: Sink;
  staging: StagingArea;
  runs: RunStore;
  ledger: LedgerCache;
  queues: PipelineQueues;
  catalog: () => Promise<SystemCatalog>;
  redis: Redis;
  prefix: string;
  logger: Logger;
  /** Commit when this many rows wait. */
  batchRows: number;
  /** Commit when this many objects wait (the worker's concurrency must exceed it). */
  batchObjects: number;
  /** Commit what waits after this many ms. */
  maxWaitMs: number;
  /**
   * Whether nothing more is on its way (no transform job waiting or active, no
   * load job waiting). Checked every {@link LoadProcessorDeps.idlePollMs} while
   * manifests wait: when it says so, they commit at once instead of after
   * `maxWaitMs`. Default none (age and size only).
   */
  upstreamIdle?: () => Promise<boolean>;
  /** How often `upstreamIdle` is asked while manifests wait, ms. Default 200. */
  idlePollMs?: number;
  /** Called as the loader passes each of its steps (a test hook, see {@link LoaderStep}); default none. */
  step?: (name: LoaderStep) => void;
}

/**
 * The loader's steps, in order, as {@link LoadProcessorDeps.step} sees them:
 * a batch was taken; the sink's ledger was checked; the batch was committed;
 * the Redis ledger cache was updated; the runs were told (and finalization
 * enqueued); the staged files were removed (next: the jobs complete). And,
 * for a finished run, its `pv_runs` row was written (next: its keys expire).
 */
export const LOADER_STEPS = [
  'batch',
  'ledger-checked',
  'committed',
  'cached',
  'recorded',
  'removed',
  'finalized',
] as const;
/** One of {@link LOADER_STEPS}. */
export type LoaderStep = (typeof LOADER_STEPS)[number];

interface Pending {
  job: Job<LoadJobData>;
  manifest: StagedManifest;
  runId: string;
  resolve: (v: { rows: number }) => void;
  reject: (e: unknown) => void;
}

/**
 * The loader: holds each readings job open until its batch commits (by rows,
 * objects or age), so a job completes only once its rows are durable. A
 * crash before that leaves the jobs to stall and be redone; the sink's ledger,
 * checked before every commit, makes the redo a no-op for objects already in.
 * Dimension refreshes and run finalization run between commits, one at a time.
 */
export class LoadProcessor {
  readonly #d: LoadProcessorDeps;
  #pending: Pending[] = [];
  #pendingRows = 0;
  #timer: NodeJS.Timeout | null = null;
  #idlePoll: NodeJS.Timeout | null = null;
  #chain: Promise<void> = Promise.resolve();

  constructor(deps: LoadProcessorDeps) {
    this.#d = deps;
  }

  /** The BullMQ processor of the load queue. */
  process = async (job: Job<LoadJobData>): Promise<unknown> => {
    const data = job.data;
    switch (data.kind) {
      case 'readings':
        if (job.stalledCounter > 0) {
          const m = data.manifest;
          await this.#d.runs.recordRetry(
            transformJobId(m.key, m.etag),
            m.key,
            `load-stall:${job.stalledCounter}`,
            'load: loader lost before the commit was acknowledged (stalled), redone',
            data.runId,
          );
        }
        return new Promise((resolve, reject) => {
          this.#pending.push({ job, manifest: data.manifest, runId: data.runId, resolve, reject });
          this.#pendingRows += data.manifest.rows;
          if (this.#pendingRows >= this.#d.batchRows || this.#pending.length >= this.#d.batchObjects) this.#flush();
          else {
            this.#timer ??= setTimeout(() => this.#flush(), this.#d.maxWaitMs);
            this.#pollIdle();
          }
        });
      case 'dimensions':
        return this.#serial(() => this.#dimensions(data.systems));
      case 'finalize':
        return this.#serial(() => this.#finalize(data.runId));
    }
  };

  /** Commits whatever waits and resolves when every commit is done. */
  async drain(): Promise<void> {
    if (this.#idlePoll) clearTimeout(this.#idlePoll);
    this.#idlePoll = null;
    this.#flush();
    await this.#chain;
  }

  #serial<T>(fn: () => Promise<T>): Promise<T> {
    const p = this.#chain.then(fn);
    this.#chain = p.then(
      () => undefined,
      () => undefined,
    );
    return p;
  }

  /**
   * While manifests wait, asks now and then whether more can come; if not, commits
   * them at once. Small commits cost the sink far more per row than large ones
   * (DuckDB writes a batch under one row group to its WAL and compresses it again
   * at checkpoint), so the age limit can stay long without delaying a run's end.
   */
  #pollIdle(): void {
    const idle = this.#d.upstreamIdle;
    if (!idle || this.#idlePoll) return;
    this.#idlePoll = setTimeout(async () => {
      let flush = false;
      try {
        flush = await idle();
      } catch (err) {
        this.#d.logger.warn({ err: describeError(err) }, 'upstream idle check failed');
      }
      this.#idlePoll = null;
      if (this.#pending.length === 0) return;
      if (flush) this.#flush();
      else this.#pollIdle();
    }, this.#d.idlePollMs ?? 200);
  }

  #flush(): void {
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = null;
    if (this.#pending.length === 0) return;
    const batch = this.#pending;
    this.#pending = [];
    this.#pendingRows = 0;
    void this.#serial(() => this.#commit(batch));
  }

  async #commit(batch: Pending[]): Promise<void> {
    const { sink, logger } = this.#d;
    this.#step('batch');
    // Objects a previous (crashed) attempt already committed: the sink's ledger is the truth.
    let done: Map<string, string>;
    try {
      const days = batch.map((p) => p.manifest.day).sort();
      done = await sink.ledgerEtags({
        ssIds: [...new Set(batch.map((p) => p.manifest.ss_id))],
        from: days[0]!,
        to: days[days.length - 1]!,
      });
    } catch (err) {
      for (const p of batch) await this.#retry(p, err);
      return;
    }
    this.#step('ledger-checked');
    const already = batch.filter((p) => done.get(p.manifest.key) === p.manifest.etag);
    if (already.length > 0) await this.#succeeded(already);
    const todo = batch.filter((p) => done.get(p.manifest.key) !== p.manifest.etag);
    const byRun = new Map<string, Pending[]>();
    for (const p of todo) byRun.set(p.runId, [...(byRun.get(p.runId) ?? []), p]);
    for (const [runId, group] of byRun) {
      try {
        await commitStaged(
          sink,
          this.#d.staging,
          group.map((p) => p.manifest),
          runId,
        );
        this.#step('committed');
        await this.#succeeded(group);
      } catch (err) {
        if (group.length > 1) {
          logger.warn({ objects: group.length, err: describeError(err) }, 'batch commit failed; committing one by one');
          for (const p of group) await this.#commit([p]);
        } else await this.#failed(group[0]!, err);
      }
    }
  }

  async #succeeded(group: Pending[]): Promise<void> {
    const { runs, ledger, staging } = this.#d;
    try {
      await ledger.set(group.map((p) => [p.manifest.key, p.manifest.etag] as const));
      this.#step('cached');
      const finished = new Set<string>();
      for (const p of group) {
        const m = p.manifest;
        for (const r of await runs.recordOutcome(transformJobId(m.key, m.etag), m.key, 'loaded', m.rows))
          finished.add(r);
      }
      for (const r of finished) await this.#enqueueFinalize(r);
      this.#step('recorded');
      await addMetrics(this.#d.redis, this.#d.prefix, {
        readings_loaded: group.reduce((s, p) => s + p.manifest.rows, 0),
        objects_loaded: group.length,
      });
      await staging.remove(group.map((p) => p.manifest.staged));
      this.#step('removed');
      for (const p of group) p.resolve({ rows: p.manifest.rows });
    } catch (err) {
      // The rows are committed; a redo finds them in the ledger.
      for (const p of group) await this.#retry(p, err);
    }
  }

  /** Lets BullMQ try a job again, telling its runs why. */
  async #retry(p: Pending, err: unknown): Promise<void> {
    const m = p.manifest;
    try {
      await this.#d.runs.recordRetry(
        transformJobId(m.key, m.etag),
        m.key,
        `load:${p.job.attemptsMade}`,
        `load: ${describeError(err)}`,
        p.runId,
      );
    } finally {
      p.reject(err);
    }
  }

  #step(name: LoaderStep): void {
    this.#d.step?.(name);
  }

  async #failed(p: Pending, err: unknown): Promise<void> {
    const reason = `commit failed: ${describeError(err)}`;
    const last = !isRetryable(err) || p.job.attemptsMade + 1 >= (p.job.opts.attempts ?? 1);
    this.#d.logger.error({ key: p.manifest.key, err: reason, last }, 'commit failed');
    if (!last) return this.#retry(p, err);
    try {
      const m = p.manifest;
      for (const r of await this.#d.runs.recordOutcome(transformJobId(m.key, m.etag), m.key, 'failed', 0, reason)) {
        await this.#enqueueFinalize(r);
      }
      await addMetrics(this.#d.redis, this.#d.prefix, { objects_failed: 1 });
      await this.#d.staging.remove([m.staged]);
    } finally {
      p.reject(new UnrecoverableError(reason));
    }
  }

  async #enqueueFinalize(runId: string): Promise<void> {
    await enqueueFinalize(this.#d.queues, runId);
  }

  async #dimensions(systems: readonly number[]): Promise<{ systems: number; sensors: number }> {
    const catalog = await this.#d.catalog();
    await this.#d.sink.upsertSystems(catalog.systems());
    const sensors: SensorEntry[] = [];
    for (const id of systems) {
      try {
        sensors.push(...(await catalog.sensors(id)));
      } catch (err) {
        this.#d.logger.warn({ ss_id: id, err: describeError(err) }, 'no metrics dictionary');
      }
    }
    await this.#d.sink.upsertSensors(sensors);
    return { systems: catalog.systems().length, sensors: sensors.length };
  }

  async #finalize(runId: string): Promise<{ recorded: boolean }> {
    const run = await this.#d.runs.get(runId);
    if (!run) return { recorded: false };
    await this.#d.sink.recordRun({
      run_id: run.id,
      state: run.state,
      request: JSON.stringify(run.request),
      planned: run.counts.planned,
      loaded: run.counts.loaded,
      skipped: run.counts.skipped,
      failed: run.counts.failed,
      readings: run.counts.readings,
      errors: run.errors.length > 0 ? JSON.stringify(run.errors) : null,
      started_at: run.startedAt,
      finished_at: run.finishedAt,
    });
    this.#step('finalized');
    await this.#d.runs.expire(runId);
    return { recorded: true };
  }
}
