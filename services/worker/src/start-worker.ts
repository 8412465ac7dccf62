import { describeError, type Logger, type ServiceConfig } from '@pv-pipeline/core';
import {
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
import { catalogProvider, openSource, type RunningService, withGrace } from '@pv-pipeline/runtime';
import { DecodePool, openStagingArea } from '@pv-pipeline/stages';
import { Worker } from 'bullmq';

/**
 * The transform worker role: `PV_WORKER_CONCURRENCY` objects at once, decoded
 * on `PV_WORKER_THREADS` worker threads so that the main thread stays free to
 * renew job locks. Scale it out with more processes (`kubectl scale`).
 */
export async function startWorker(config: ServiceConfig, logger: Logger): Promise<RunningService> {
  const connection = createRedisConnection(config.REDIS_URL, { blocking: true, name: 'pv-worker' });
  const store = openSource(config);
  const prefix = config.PV_QUEUE_PREFIX;
  const queues = openQueues(connection, prefix, tuningFrom(config));
  const staging = openStagingArea(config.PV_STAGING, config.S3_ENDPOINT ? { s3Endpoint: config.S3_ENDPOINT } : {});
  await staging.init();
  const pool = config.PV_WORKER_THREADS > 0 ? new DecodePool(config.PV_WORKER_THREADS) : null;
  const runs = new RunStore(connection, prefix);
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
      logger,
    }),
    workerOptions(config, connection, config.PV_WORKER_CONCURRENCY),
  );
  worker.on('error', (err) => logger.error({ err: err.message }, 'transform worker error'));
  worker.on(
    'failed',
    createStalledOutListener({ runs, redis: connection, prefix, queues, logger }, 'transform', transformJobObject),
  );
  return {
    async close() {
      // stop taking jobs; let active ones finish within the grace period
      const r = await withGrace(() => worker.close(), config.PV_SHUTDOWN_GRACE_MS);
      if (r === 'timeout') {
        logger.warn('grace period over; leaving active jobs to be picked up as stalled');
        await worker.close(true).catch((err) => logger.error({ err: describeError(err) }, 'force close failed'));
      }
      await pool?.close();
      await queues.close();
      await store.close();
      connection.disconnect();
    },
  };
}
