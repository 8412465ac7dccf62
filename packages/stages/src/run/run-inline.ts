import { mkdtemp, rm } from 'node:fs/promises';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  addDropped,
  DEFAULTS,
  derivedId,
  describeError,
  isRetryable,
  type Logger,
  mapConcurrent,
  type StagedManifest,
} from '@pv-pipeline/core';
import { type ObjectStore, SystemCatalog } from '@pv-pipeline/pvdaq';
import { commitBatchRows, type Sink } from '@pv-pipeline/sinks';
import pRetry from 'p-retry';
import { commitStaged, stagedRef } from '../load/commit-staged.js';
import { commitOrSplit, DEFAULT_BATCH_OBJECTS, LoadBatcher } from '../load/load-batcher.js';
import { refreshDimensions } from '../load/refresh-dimensions.js';
import { assertKnownSystems, unknownSystems } from '../plan/known-systems.js';
import { planObjects } from '../plan/plan-objects.js';
import { DEFAULT_PART_BYTES } from '../plan/plan-prize.js';
import { LocalStagingArea } from '../staging/staging-area.js';
import { DecodePool } from '../transform/decode-pool.js';
import { transformObject } from '../transform/transform-object.js';
import { emptyReport, finishedState, type RunCounts, type RunSummary, runRowOf } from './run-report.js';
import type { RunRequest } from './run-request.js';

/** Options of {@link runInline}. */
export interface InlineRunOptions {
  request: RunRequest;
  store: ObjectStore;
  /** An initialized sink. */
  sink: Sink;
  logger: Logger;
  /** Objects transformed at once. @defaultValue 4 */
  concurrency?: number;
  /**
   * Worker threads that decode and encode; 0 or 1 decodes in-process.
   * @defaultValue cores − 1 on machines with more than two cores when at least
   * {@link POOL_MIN_OBJECTS} objects are to load, else in-process. On two cores
   * the sink's commits already take the second core, and threads only add
   * memory (measured in bench/RESULTS.md).
   */
  workerThreads?: number;
  /** Staging directory. @defaultValue a fresh temp dir, removed at the end */
  stagingDir?: string;
  /** Largest object transformed, bytes. @defaultValue 256 MiB */
  maxObjectBytes?: number;
  /** Largest byte range of a prize CSV transformed as one object. @defaultValue 16 MiB */
  partBytes?: number;
  /** Fact rows per sink commit. @defaultValue the sink's (`commitBatchRows`): 1,000,000, BigQuery in load mode 10,000,000 */
  batchRows?: number;
  /** Tries for an object that fails with a retryable error. @defaultValue 4 */
  attempts?: number;
  /** Run id. @defaultValue derived from the request and the start time */
  runId?: string;
  /** Called whenever counts change. @defaultValue none */
  onProgress?: (counts: Readonly<RunCounts>) => void;
}

/** Objects to load from which the inline executor starts worker threads by default. */
export const POOL_MIN_OBJECTS = 100;

/** Default largest daily object transformed (`--max-object-mb`, `PV_MAX_OBJECT_MB`). */
export const DEFAULT_MAX_OBJECT_BYTES = DEFAULTS.maxObjectMb * 1024 * 1024;

/**
 * The inline executor: plan → transform (N at a time) → the load stage
 * (batched commits), in one process with no Redis. The embedded default
 * behind `pv-pipeline run`.
 */
export async function runInline(options: InlineRunOptions): Promise<RunSummary> {
  const started = performance.now();
  const { request, store, sink } = options;
  const runId =
    options.runId ??
    `run-${new Date().toISOString().replace(/[-:.]/g, '').slice(0, 15)}-${derivedId(JSON.stringify(request), Date.now()).slice(0, 8)}`;
  const logger = options.logger.child({ run: runId });
  const report = emptyReport(runId, request);
  const { counts } = report;
  const progress = () => options.onProgress?.(counts);

  const catalog = await SystemCatalog.load(store, { logger });
  report.warnings.push(...catalog.warnings);
  if (request.systems !== 'all') {
    // a typo is refused, not run as a success that planned nothing
    const known = new Set(catalog.systems().map((s) => s.ss_id));
    assertKnownSystems(await unknownSystems(store, request.systems, known), store.url);
  }
  const plan = await planObjects(store, sink, request, { partBytes: options.partBytes ?? DEFAULT_PART_BYTES });
  counts.planned = plan.toLoad.length + plan.skipped.length;
  counts.skipped = plan.skipped.length;
  logger.info({ planned: counts.planned, toLoad: plan.toLoad.length, skipped: counts.skipped }, 'planned');
  progress();

  report.warnings.push(...(await refreshDimensions(sink, catalog, plan.systems, logger)).warnings);

  const ownStaging = options.stagingDir === undefined;
  // a run's own staging folder goes with the run: nothing in it needs to survive a crash
  const staging = new LocalStagingArea(options.stagingDir ?? (await mkdtemp(join(tmpdir(), 'pv-staging-'))), {
    durable: !ownStaging,
  });
  await staging.init();
  const fail = (key: string, reason: string) => {
    counts.failed++;
    report.failures.push({ key, reason });
    logger.warn({ key, reason }, 'object failed');
    progress();
  };
  const loader = new LoadBatcher<StagedManifest>({
    rowsOf: (m) => m.rows,
    batchRows: commitBatchRows(sink, options.batchRows),
    batchObjects: DEFAULT_BATCH_OBJECTS,
    commit: (batch) =>
      commitOrSplit(
        batch,
        async (group) => {
          const r = await commitStaged(sink, staging, group, runId);
          counts.loaded += group.length;
          counts.readings += r.rows;
          report.replaced += r.replaced;
          for (const m of group) addDropped(report.dropped, m.dropped);
          progress();
          await staging.remove(group.map(stagedRef));
        },
        async (m, err) => {
          logger.error({ key: m.key, err: describeError(err) }, 'commit failed');
          fail(m.key, `commit failed: ${describeError(err)}`);
          await staging.remove([stagedRef(m)]);
        },
        (err, size) =>
          logger.warn({ objects: size, err: describeError(err) }, 'batch commit failed; committing each half'),
      ),
  });

  const concurrency = options.concurrency ?? DEFAULTS.concurrency;
  const threads = Math.min(
    options.workerThreads ??
      (plan.toLoad.length >= POOL_MIN_OBJECTS && availableParallelism() > 2 ? availableParallelism() - 1 : 0),
    concurrency,
    plan.toLoad.length,
  );
  const pool = threads > 1 ? new DecodePool(threads) : null;
  const deps = {
    store,
    catalog,
    staging,
    maxObjectBytes: options.maxObjectBytes ?? DEFAULT_MAX_OBJECT_BYTES,
    ...(pool ? { decode: pool.run } : {}),
    ...(sink.readsChannelIndex ? { channelIndex: true } : {}),
  };
  try {
    await mapConcurrent(plan.toLoad, concurrency, async (obj) => {
      let manifest: StagedManifest;
      try {
        manifest = await pRetry(() => transformObject(obj, deps), {
          retries: (options.attempts ?? 4) - 1,
          minTimeout: 200,
          factor: 2,
          randomize: true,
          shouldRetry: ({ error }) => isRetryable(error),
          onFailedAttempt: ({ error, retriesLeft }) => {
            if (retriesLeft > 0 && isRetryable(error))
              logger.info({ key: obj.key, err: describeError(error), retriesLeft }, 'retrying');
          },
        });
      } catch (err) {
        fail(obj.key, describeError(err));
        return;
      }
      counts.transformed++;
      await loader.add(manifest);
    });
    await loader.flush();
  } finally {
    await pool?.close();
    if (ownStaging) await rm(staging.dir, { recursive: true, force: true });
  }

  const seconds = (performance.now() - started) / 1000;
  report.failures.sort((a, b) => (a.key < b.key ? -1 : 1));
  report.state = finishedState(counts);
  report.finishedAt = new Date().toISOString();
  await sink.recordRun(runRowOf(report));
  return {
    ...report,
    counts: { ...counts },
    source: store.url,
    sink: sink.url,
    seconds: Math.round(seconds * 1000) / 1000,
    readingsPerSecond: Math.round(counts.readings / Math.max(seconds, 1e-6)),
    peakRssMb: Math.round(process.resourceUsage().maxRSS / 1024),
  };
}
