import { describeError, isRetryable, type Logger, type StagedManifest } from '@pv-pipeline/core';
import type { SystemCatalog } from '@pv-pipeline/pvdaq';
import type { Sink } from '@pv-pipeline/sinks';
import { commitOrSplit, commitStaged, LoadBatcher, runRowOf, type StagingArea, stagedRef } from '@pv-pipeline/stages';
import { type Job, UnrecoverableError } from 'bullmq';
import type { Redis } from 'ioredis';
import { DimensionRefresher } from './dimension-refresher.js';
import { JOB_NAMES, type LoadJobData } from './job-payloads.js';
import type { LedgerCache } from './ledger-cache.js';
import { addFailure, addMetrics, failureReason } from './pipeline-metrics.js';
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
  /**
   * Commit when this many objects wait. The load worker's concurrency must exceed twice this:
   * a job stays active until its batch commits, and the next batch fills while one commits.
   */
  batchObjects: number;
  /** Commit what waits after this many ms. */
  maxWaitMs: number;
  /**
   * Whether nothing more is on its way (no transform job waiting or active, no
   * load job waiting): then what waits commits at once instead of after
   * `maxWaitMs`. @defaultValue none (age and size only)
   */
  upstreamIdle?: () => Promise<boolean>;
  /** How often `upstreamIdle` is asked while manifests wait, ms. @defaultValue 200 */
  idlePollMs?: number;
  /**
   * Called after a finished run is recorded in the sink, in the loader's
   * serial lane (the quality report's refresh, `PV_REPORT_DIR`); an error is
   * logged, the run stays recorded. @defaultValue none
   */
  afterRun?: (runId: string) => Promise<void>;
  /** Called as the loader passes each of its steps (a test hook, see {@link LoaderStep}). @defaultValue none */
  step?: (name: LoaderStep) => void;
}

/**
 * The loader's steps, in order, as {@link LoadProcessorDeps.step} sees them:
 * a batch was taken; the sink's ledger was checked; the batch was committed;
 * the Redis ledger cache was updated; the runs were told (and finalization
 * enqueued); the staged files were removed, or their removal handed to the
 * workers (a cleanup job; next: the jobs complete). And,
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

/** Cleanup jobs kept once completed, and once failed for good (for a look at why). */
const KEPT = 100;

/** A readings job held open until its batch commits. */
interface Pending {
  job: Job<LoadJobData>;
  manifest: StagedManifest;
  runId: string;
  resolve: (v: { rows: number }) => void;
  reject: (e: unknown) => void;
}

/**
 * The loader: a BullMQ adapter around the load stage ({@link LoadBatcher},
 * {@link commitOrSplit}, {@link refreshDimensions}, {@link runRowOf}). It holds
 * each readings job open until its batch commits, so a job completes only once
 * its rows are durable. A crash before that leaves the jobs to stall and be
 * redone; the sink's ledger, checked before every commit, makes the redo a
 * no-op for objects already in. Dimension refreshes and run finalization run
 * between commits, on the batcher's chain.
 */
export class LoadProcessor {
  readonly #d: LoadProcessorDeps;
  readonly #batcher: LoadBatcher<Pending>;
  readonly #dimensions: DimensionRefresher;

  constructor(deps: LoadProcessorDeps) {
    this.#d = deps;
    this.#batcher = new LoadBatcher<Pending>({
      // a worker-written readings file (linked into place, or placed in the bucket) costs the commit
      // its footer or its size, not its rows: only the object count bounds its batch
      rowsOf: (p) => (p.manifest.placed || p.manifest.layout === 'pv_readings' ? 0 : p.manifest.rows),
      commit: (batch) => this.#commit(batch),
      batchRows: deps.batchRows,
      batchObjects: deps.batchObjects,
      maxWaitMs: deps.maxWaitMs,
      ...(deps.upstreamIdle ? { upstreamIdle: deps.upstreamIdle } : {}),
      ...(deps.idlePollMs ? { idlePollMs: deps.idlePollMs } : {}),
      onIdleCheckError: (err) => deps.logger.warn({ err: describeError(err) }, 'upstream idle check failed'),
    });
    this.#dimensions = new DimensionRefresher({
      sink: deps.sink,
      catalog: deps.catalog,
      runs: deps.runs,
      logger: deps.logger,
      lane: (fn) => this.#batcher.serial(fn),
    });
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
          void this.#batcher.add({ job, manifest: data.manifest, runId: data.runId, resolve, reject });
        });
      case 'dimensions':
        return this.#dimensions.refresh(data.runId, data.systems);
      case 'finalize':
        return this.#batcher.serial(() => this.#finalize(data.runId));
    }
  };

  /** Commits whatever waits and resolves when every commit is done. */
  drain(): Promise<void> {
    return this.#batcher.flush();
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
    if (already.length > 0) await this.#succeeded(already, 0);
    const byRun = new Map<string, Pending[]>();
    for (const p of batch) {
      if (done.get(p.manifest.key) !== p.manifest.etag) byRun.set(p.runId, [...(byRun.get(p.runId) ?? []), p]);
    }
    for (const [runId, group] of byRun) {
      await commitOrSplit(
        group,
        async (part) => {
          const r = await commitStaged(
            sink,
            this.#d.staging,
            part.map((p) => p.manifest),
            runId,
          );
          this.#step('committed');
          await this.#succeeded([...part], r.replaced);
        },
        (p, err) => this.#failed(p, err),
        (err, size) =>
          logger.warn({ objects: size, err: describeError(err) }, 'batch commit failed; committing each half'),
      );
    }
  }

  /** Tells the runs about committed objects (and the rows they replaced), then completes their jobs. */
  async #succeeded(group: Pending[], replaced: number): Promise<void> {
    const { runs, ledger } = this.#d;
    try {
      await ledger.set(group.map((p) => [p.manifest.key, p.manifest.etag] as const));
      this.#step('cached');
      const finished = new Set<string>();
      if (replaced > 0) await runs.addReplaced(group[0]!.runId, replaced);
      // one script per object, all in flight at once (each is atomic on its own object and run counters)
      const outcomes = await Promise.all(
        group.map((p) => {
          const m = p.manifest;
          const jobKey = p.job.id ? this.#d.queues.load.toKey(p.job.id) : '';
          return runs.recordOutcome(transformJobId(m.key, m.etag), m.key, 'loaded', {
            rows: m.rows,
            dropped: m.dropped,
            jobKey,
            jobRun: p.runId,
          });
        }),
      );
      for (const runIds of outcomes) for (const r of runIds) finished.add(r);
      for (const r of finished) await enqueueFinalize(this.#d.queues, r);
      this.#step('recorded');
      await addMetrics(this.#d.redis, this.#d.prefix, {
        readings_loaded: group.reduce((s, p) => s + p.manifest.rows, 0),
        objects_loaded: group.length,
      });
      await this.#removeStaged(group.map((p) => stagedRef(p.manifest)));
      this.#step('removed');
      for (const p of group) p.resolve({ rows: p.manifest.rows });
    } catch (err) {
      // The rows are committed; a redo finds them in the ledger.
      for (const p of group) await this.#retry(p, err);
    }
  }

  /**
   * Removes staged files whose rows are committed: here, or, where the
   * staging area costs a request per file (`gs://`), by the workers, as one
   * cleanup job for the lot. Committed objects are in the ledger, so no run
   * stages them again under the same names before that job runs.
   */
  async #removeStaged(refs: ReadonlyArray<string | null>): Promise<void> {
    const staged = refs.filter((r): r is string => r !== null);
    if (staged.length === 0) return;
    if (this.#d.staging.removesFileByFile) {
      // a job lists a whole batch (tens of KB): only the last few are kept once done
      await this.#d.queues.cleanup.add(JOB_NAMES.cleanup, { staged }, { removeOnComplete: KEPT, removeOnFail: KEPT });
    } else await this.#d.staging.remove(staged);
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
      const jobKey = p.job.id ? this.#d.queues.load.toKey(p.job.id) : '';
      const outcome = this.#d.runs.recordOutcome(transformJobId(m.key, m.etag), m.key, 'failed', {
        reason,
        jobKey,
        jobRun: p.runId,
      });
      for (const r of await outcome) {
        await enqueueFinalize(this.#d.queues, r);
      }
      await addFailure(this.#d.redis, this.#d.prefix, failureReason(err));
      // here and now, never later by a worker: the object may be planned again, under the same staged name
      await this.#d.staging.remove([stagedRef(m)]);
    } finally {
      p.reject(new UnrecoverableError(reason));
    }
  }

  async #finalize(runId: string): Promise<{ recorded: boolean }> {
    const run = await this.#d.runs.get(runId);
    if (!run) return { recorded: false };
    await this.#d.sink.recordRun(runRowOf(run));
    if (this.#d.afterRun) {
      try {
        await this.#d.afterRun(runId);
      } catch (err) {
        this.#d.logger.warn({ run: runId, err: describeError(err) }, 'after-run step failed (the run is recorded)');
      }
    }
    this.#step('finalized');
    await this.#d.runs.expire(runId);
    return { recorded: true };
  }
}
