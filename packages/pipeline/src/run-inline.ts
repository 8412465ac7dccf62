import { mkdtemp, rm } from 'node:fs/promises';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { derivedId, describeError, isRetryable, type Logger, mapConcurrent } from '@pv-pipeline/core';
import { type ObjectStore, type SensorEntry, SystemCatalog } from '@pv-pipeline/pvdaq';
import type { Sink } from '@pv-pipeline/sinks';
import pRetry from 'p-retry';
import { BatchLoader } from './batch-loader.js';
import { planObjects } from './plan-objects.js';
import type { RunRequest } from './run-request.js';
import { emptyCounts, type ObjectFailure, type RunCounts, type RunSummary } from './run-summary.js';
import { StagePool } from './stage-pool.js';
import { LocalStagingArea } from './staging-area.js';
import { transformObject } from './transform-object.js';

/** Options of {@link runInline}. */
export interface InlineRunOptions {
  request: RunRequest;
  store: ObjectStore;
  /** An initialized sink. */
  sink: Sink;
  logger: Logger;
  /** Objects transformed at once. Default 4. */
  concurrency?: number;
  /**
   * Worker threads that decode and encode; 0 or 1 decodes in-process. Default:
   * cores − 1 on machines with more than two cores when at least
   * {@link POOL_MIN_OBJECTS} objects are to load, else in-process. On two
   * cores the sink's commits already take the second core, and threads only
   * add memory (measured in bench/RESULTS.md).
   */
  workerThreads?: number;
  /** Staging directory; default a fresh temp dir removed at the end. */
  stagingDir?: string;
  /** Largest object transformed, bytes. Default 256 MiB. */
  maxObjectBytes?: number;
  /** Largest byte range of a prize CSV transformed as one object. Default 16 MiB. */
  partBytes?: number;
  /** Fact rows per sink commit. Default 1,000,000. */
  batchRows?: number;
  /** Tries for an object that fails with a retryable error. Default 4. */
  attempts?: number;
  /** Run id; default derived from the request and the start time. */
  runId?: string;
  /** Called whenever counts change. */
  onProgress?: (counts: Readonly<RunCounts>) => void;
}

/** Objects to load from which the inline executor starts worker threads by default. */
export const POOL_MIN_OBJECTS = 100;

/**
 * The inline executor: plan → transform (N at a time) → batched load, in one
 * process with no Redis. The embedded default behind `pv-pipeline run`.
 */
export async function runInline(options: InlineRunOptions): Promise<RunSummary> {
  const started = performance.now();
  const startedAt = new Date().toISOString();
  const { request, store, sink } = options;
  const runId =
    options.runId ??
    `run-${new Date().toISOString().replace(/[-:.]/g, '').slice(0, 15)}-${derivedId(JSON.stringify(request), Date.now()).slice(0, 8)}`;
  const logger = options.logger.child({ run: runId });
  const counts = emptyCounts();
  const failures: ObjectFailure[] = [];
  const dropped = { missing: 0, duplicate: 0 };
  let replaced = 0;
  const progress = () => options.onProgress?.(counts);

  const catalog = await SystemCatalog.load(store, { logger });
  const plan = await planObjects(store, sink, request, {
    ...(options.partBytes ? { partBytes: options.partBytes } : {}),
  });
  counts.planned = plan.toLoad.length + plan.skipped.length;
  counts.skipped = plan.skipped.length;
  logger.info({ planned: counts.planned, toLoad: plan.toLoad.length, skipped: counts.skipped }, 'planned');
  progress();

  // Dimensions: every system the catalog knows, the dictionaries of the systems in range.
  await sink.upsertSystems(catalog.systems());
  const sensors: SensorEntry[] = [];
  for (const id of plan.systems) {
    try {
      sensors.push(...(await catalog.sensors(id)));
    } catch (err) {
      logger.warn({ ss_id: id, err: describeError(err) }, 'no metrics dictionary; its objects will fail');
    }
  }
  await sink.upsertSensors(sensors);

  const ownStaging = options.stagingDir === undefined;
  const staging = new LocalStagingArea(options.stagingDir ?? (await mkdtemp(join(tmpdir(), 'pv-staging-'))));
  await staging.init();
  const fail = (key: string, reason: string) => {
    counts.failed++;
    failures.push({ key, reason });
    logger.warn({ key, reason }, 'object failed');
    progress();
  };
  const loader = new BatchLoader({
    sink,
    staging,
    runId,
    logger,
    ...(options.batchRows ? { batchRows: options.batchRows } : {}),
    onCommitted: (batch, rows, rep) => {
      counts.loaded += batch.length;
      counts.readings += rows;
      replaced += rep;
      progress();
    },
    onFailed: (m, reason) => fail(m.key, reason),
  });

  const concurrency = options.concurrency ?? 4;
  const threads = Math.min(
    options.workerThreads ??
      (plan.toLoad.length >= POOL_MIN_OBJECTS && availableParallelism() > 2 ? availableParallelism() - 1 : 0),
    concurrency,
    plan.toLoad.length,
  );
  const pool = threads > 1 ? new StagePool(threads) : null;
  const deps = {
    store,
    catalog,
    staging,
    maxObjectBytes: options.maxObjectBytes ?? 256 * 1024 * 1024,
    ...(pool ? { runStage: pool.run } : {}),
  };
  try {
    await mapConcurrent(plan.toLoad, concurrency, async (obj) => {
      try {
        const manifest = await pRetry(() => transformObject(obj, deps), {
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
        counts.transformed++;
        dropped.missing += manifest.dropped.missing;
        dropped.duplicate += manifest.dropped.duplicate;
        await loader.add(manifest);
      } catch (err) {
        fail(obj.key, describeError(err));
      }
    });
    await loader.flush();
  } finally {
    await pool?.close();
    if (ownStaging) await rm(staging.dir, { recursive: true, force: true });
  }

  const seconds = (performance.now() - started) / 1000;
  failures.sort((a, b) => (a.key < b.key ? -1 : 1));
  const summary: RunSummary = {
    runId,
    state: counts.failed > 0 ? 'partial' : 'completed',
    source: store.url,
    sink: sink.url,
    request: { ...request },
    counts: { ...counts },
    replaced,
    dropped,
    seconds: Math.round(seconds * 1000) / 1000,
    readingsPerSecond: Math.round(counts.readings / Math.max(seconds, 1e-6)),
    peakRssMb: Math.round(process.resourceUsage().maxRSS / 1024),
    failures,
    warnings: [...catalog.warnings],
  };
  await sink.recordRun({
    run_id: runId,
    state: summary.state,
    request: JSON.stringify(request),
    planned: counts.planned,
    loaded: counts.loaded,
    skipped: counts.skipped,
    failed: counts.failed,
    readings: counts.readings,
    errors: failures.length > 0 ? JSON.stringify(failures) : null,
    started_at: startedAt,
    finished_at: new Date().toISOString(),
  });
  return summary;
}
