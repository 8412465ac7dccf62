import { describeError, isRetryable, type Logger } from '@pv-pipeline/core';
import type { ObjectStore, SystemCatalog } from '@pv-pipeline/pvdaq';
import type { ReadingsFileWriter, ReadingsPlacement } from '@pv-pipeline/sinks';
import { type DecodeRunner, type StagingArea, transformObject } from '@pv-pipeline/stages';
import { type Job, UnrecoverableError } from 'bullmq';
import type { Redis } from 'ioredis';
import { JOB_NAMES, type TransformJobData } from './job-payloads.js';
import { addFailure, type FailureReason, failureReason } from './pipeline-metrics.js';
import { addFresh, type PipelineQueues } from './queues.js';
import { enqueueFinalize } from './run-finalization.js';
import type { RunStore } from './run-store.js';
import { loadJobId } from './transform-job-id.js';

/** What a transform worker needs. */
export interface TransformProcessorDeps {
  store: ObjectStore;
  /** The current catalog (refreshed by the caller now and then). */
  catalog: () => Promise<SystemCatalog>;
  staging: StagingArea;
  queues: PipelineQueues;
  runs: RunStore;
  maxObjectBytes: number;
  /** For the shared /metrics totals. */
  redis: Redis;
  prefix: string;
  /** Decoding off the main thread, so lock renewal never waits on CPU work. */
  decode?: DecodeRunner;
  /** For a `parquet://` sink: the worker writes the dataset's readings files (see TransformDeps). */
  readingsFiles?: ReadingsFileWriter;
  /** For a `parquet+s3://` sink: the readings files go straight into the dataset (see TransformDeps). */
  placement?: ReadingsPlacement;
  /** For a DuckDB sink: stage files without text (see TransformDeps). @defaultValue false */
  channelIndex?: boolean;
  logger: Logger;
}

/**
 * The transform worker: one source object → a staged Parquet file → a load
 * job (id derived from key + ETag). Bad input fails at once (no retry) with
 * its reason; retryable faults are retried with backoff, and the last failure
 * is reported to the runs.
 */
export function createTransformProcessor(deps: TransformProcessorDeps) {
  return async (job: Job<TransformJobData>): Promise<{ rows: number }> => {
    const { runId, object } = job.data;
    const jobId = job.id!;
    if (job.stalledCounter > 0) {
      await deps.runs.recordRetry(
        jobId,
        object.key,
        `stall:${job.stalledCounter}`,
        'transform: worker lost mid-job (stalled), taken over',
      );
    }
    try {
      const manifest = await transformObject(object, {
        store: deps.store,
        catalog: await deps.catalog(),
        staging: deps.staging,
        maxObjectBytes: deps.maxObjectBytes,
        ...(deps.decode ? { decode: deps.decode } : {}),
        ...(deps.readingsFiles ? { readingsFiles: deps.readingsFiles } : {}),
        ...(deps.placement ? { placement: deps.placement } : {}),
        ...(deps.channelIndex ? { channelIndex: true } : {}),
      });
      await deps.runs.recordOutcome(jobId, object.key, 'transformed');
      deps.logger.debug({ run: runId, job: jobId, key: object.key, rows: manifest.rows }, 'transformed');
      await addFresh(
        deps.queues.load,
        JOB_NAMES.readings,
        { kind: 'readings', runId, manifest },
        loadJobId(object.key, object.etag),
      );
      return { rows: manifest.rows };
    } catch (err) {
      const reason = describeError(err);
      const last = !isRetryable(err) || job.attemptsMade + 1 >= (job.opts.attempts ?? 1);
      deps.logger.warn({ run: runId, job: jobId, key: object.key, err: reason, last }, 'transform failed');
      if (!last) {
        await deps.runs.recordRetry(jobId, object.key, `attempt:${job.attemptsMade}`, `transform: ${reason}`);
        throw err;
      }
      await reportFailure(deps, { transformJobId: jobId, key: object.key, runId }, deps.queues.transform.toKey(jobId), {
        reason,
        kind: failureReason(err),
      });
      throw new UnrecoverableError(reason);
    }
  };
}

/**
 * Records an object's final failure for the runs attached to it (and the
 * failing job's own run), finalizing those that are done. `jobKey` is the
 * Redis key of the job that failed.
 */
async function reportFailure(
  deps: Pick<TransformProcessorDeps, 'runs' | 'redis' | 'prefix' | 'queues'>,
  object: FailedObject,
  jobKey: string,
  failure: { reason: string; kind: FailureReason },
): Promise<void> {
  const completed = await deps.runs.recordOutcome(object.transformJobId, object.key, 'failed', {
    reason: failure.reason,
    jobKey,
    jobRun: object.runId,
  });
  await addFailure(deps.redis, deps.prefix, failure.kind);
  for (const r of completed) {
    await enqueueFinalize(deps.queues, r);
  }
}

/** BullMQ's reason for a job whose workers were lost more often than the stall limit allows. */
const STALLED_OUT = 'job stalled more than allowable limit';

/** The object a failed job was about. */
export interface FailedObject {
  /** The transform job id its runs know it by. */
  transformJobId: string;
  key: string;
  /** The run the job worked for. */
  runId: string;
}

/** The object a stalled-out job was about (null for a job about no object). */
export type StalledObject<T> = (job: Job<T>) => FailedObject | null;

/** Transform jobs: the job itself. */
export const transformJobObject: StalledObject<TransformJobData> = (job) =>
  job.id ? { transformJobId: job.id, key: job.data.object.key, runId: job.data.runId } : null;

/**
 * A `failed` listener for a worker (transform or loader). A job whose worker
 * died more often than the stall limit allows is failed by BullMQ without
 * running the processor, so nothing would tell its runs: this records the
 * failure (with a reason saying so) and lets the runs finish instead of
 * staying "running".
 */
export function createStalledOutListener<T>(
  deps: Pick<TransformProcessorDeps, 'runs' | 'redis' | 'prefix' | 'queues' | 'logger'>,
  stage: 'transform' | 'load',
  objectOf: StalledObject<T>,
): (job: Job<T> | undefined, err: Error) => void {
  return (job, err) => {
    if (!job || err.message !== STALLED_OUT) return;
    const object = objectOf(job);
    if (!object) return;
    const reason = `${stage}: its worker was lost mid-job more often than the stall limit allows (crash loop?)`;
    const jobKey = job.id ? deps.queues[stage].toKey(job.id) : '';
    reportFailure(deps, object, jobKey, { reason, kind: 'stalled_out' }).catch((e) =>
      deps.logger.error({ job: job.id, err: describeError(e) }, 'could not report a stalled-out job'),
    );
  };
}
