import type { Logger, ServiceConfig } from '@pv-pipeline/core';
import {
  allQueues,
  countStalledJobs,
  createCleanupProcessor,
  createRedisConnection,
  createStalledOutListener,
  createTransformProcessor,
  openQueues,
  QUEUE_NAMES,
  RunStore,
  transformJobObject,
  tuningFrom,
  workerOptions,
} from '@pv-pipeline/queue';
import {
  catalogProvider,
  openServiceStaging,
  openSource,
  type RunningService,
  untilRedisDown,
  whileRedisUp,
} from '@pv-pipeline/runtime';
import { openReadingsPlacement, ReadingsFileWriter, stagesChannelIndex, stagesReadingsFiles } from '@pv-pipeline/sinks';
import { DecodePool } from '@pv-pipeline/stages';
import { Worker } from 'bullmq';

/**
 * The transform worker role: `PV_WORKER_CONCURRENCY` objects at once, decoded
 * on `PV_WORKER_THREADS` worker threads so that the main thread stays free to
 * renew job locks. Scale it out with more processes (`kubectl scale`).
 */
/** Longest wait for one Redis step of a shutdown after the grace period. */
const CLOSE_STEP_MS = 5000;

/** Cleanup jobs a worker runs at once (each removes a batch's files, several requests at a time). */
const CLEANUP_CONCURRENCY = 1;

export async function startWorker(config: ServiceConfig, logger: Logger): Promise<RunningService> {
  const connection = createRedisConnection(config.REDIS_URL, { blocking: true, name: 'pv-worker', logger });
  const store = openSource(config);
  const prefix = config.PV_QUEUE_PREFIX;
  const queues = openQueues(connection, prefix, tuningFrom(config));
  // while Redis is down the connection logs one line per reconnect attempt; BullMQ's copies of its errors go to debug
  const reportError = (what: string) => (err: Error) =>
    logger[connection.status === 'ready' ? 'error' : 'debug']({ err: err.message }, what);
  for (const q of allQueues(queues)) q.on('error', reportError('queue error'));
  const staging = openServiceStaging(config);
  await staging.init();
  const pool = config.PV_WORKER_THREADS > 0 ? new DecodePool(config.PV_WORKER_THREADS) : null;
  const runs = new RunStore(connection, prefix);
  // a Parquet dataset's readings files (and BigQuery's load-ready files in gs:// staging) are written here,
  // by the workers, not by the one loader
  const readingsFiles = stagesReadingsFiles(config.PV_SINK, config.PV_STAGING) ? new ReadingsFileWriter() : null;
  // … and on object storage they go straight into the dataset, under names of their own
  const placement = openReadingsPlacement(config.PV_SINK, config.S3_ENDPOINT ? { s3Endpoint: config.S3_ENDPOINT } : {});
  const worker = new Worker(
    QUEUE_NAMES.transform,
    createTransformProcessor({
      store,
      catalog: catalogProvider(store, logger),
      staging,
      queues,
      runs,
      maxObjectBytes: config.PV_MAX_OBJECT_MB * 1024 * 1024,
      redis: connection,
      prefix,
      ...(pool ? { decode: pool.run } : {}),
      ...(readingsFiles ? { readingsFiles } : {}),
      ...(placement ? { placement } : {}),
      // a DuckDB sink's loader reads staged files without text
      ...(stagesChannelIndex(config.PV_SINK) ? { channelIndex: true } : {}),
      logger,
    }),
    workerOptions(config, connection, config.PV_WORKER_CONCURRENCY),
  );
  worker.on('error', reportError('transform worker error'));
  countStalledJobs(worker, connection, prefix);
  worker.on(
    'failed',
    createStalledOutListener({ runs, redis: connection, prefix, queues, logger }, 'transform', transformJobObject),
  );
  // the staged files of committed batches, where removing them costs a request each (gs://): the loader's cleanup jobs
  const cleaner = new Worker(
    QUEUE_NAMES.cleanup,
    createCleanupProcessor(staging),
    workerOptions(config, connection, CLEANUP_CONCURRENCY),
  );
  cleaner.on('error', reportError('cleanup worker error'));
  countStalledJobs(cleaner, connection, prefix);
  cleaner.on('failed', (job, err) => {
    if (job && job.attemptsMade >= (job.opts.attempts ?? 1)) {
      logger.warn(
        { files: job.data.staged.length, err: err.message },
        'staged files not removed (nothing refers to them)',
      );
    }
  });
  const workers = [worker, cleaner];
  return {
    async close() {
      // stop taking jobs; let active ones finish within the grace period, while Redis is there to take their results
      const closeAll = (force?: boolean) => Promise.all(workers.map((w) => w.close(force)));
      const r = await untilRedisDown(connection, () => closeAll(), config.PV_SHUTDOWN_GRACE_MS);
      if (r !== 'done') {
        logger.warn(
          r === 'timeout'
            ? 'grace period over; leaving active jobs to be picked up as stalled'
            : 'redis is down; leaving active jobs to be picked up as stalled',
        );
        await whileRedisUp(connection, () => closeAll(true), CLOSE_STEP_MS);
      }
      await pool?.close();
      await readingsFiles?.close();
      await whileRedisUp(connection, () => queues.close(), CLOSE_STEP_MS);
      await store.close();
      connection.disconnect();
    },
  };
}
