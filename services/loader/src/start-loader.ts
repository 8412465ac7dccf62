import type { Logger, ServiceConfig } from '@pv-pipeline/core';
import {
  allQueues,
  countStalledJobs,
  createFinalizeRevival,
  createRedisConnection,
  createStalledOutListener,
  faultPoint,
  finalizeUnrecorded,
  LedgerCache,
  type LoadJobData,
  LoadProcessor,
  loadWorkerConcurrency,
  openQueues,
  QUEUE_NAMES,
  RunStore,
  transformJobId,
  tuningFrom,
  upstreamIdle,
  workerOptions,
} from '@pv-pipeline/queue';
import {
  catalogProvider,
  openServiceStaging,
  openSource,
  type RunningService,
  whileRedisUp,
} from '@pv-pipeline/runtime';
import { commitBatchRows, openSink, type Sink } from '@pv-pipeline/sinks';
import { Worker } from 'bullmq';

/**
 * The loader role: the sink's only writer. Warms the Redis ledger cache from
 * the sink, then commits staged manifests in batches (rows / objects / age).
 * Run one loader per sink.
 */
export async function startLoader(config: ServiceConfig, logger: Logger): Promise<RunningService> {
  const connection = createRedisConnection(config.REDIS_URL, { blocking: true, name: 'pv-loader', logger });
  const prefix = config.PV_QUEUE_PREFIX;
  const sink = openSink(config.PV_SINK, {
    from: 'PV_SINK',
    ...(config.BIGQUERY_API_ENDPOINT ? { bigqueryApiEndpoint: config.BIGQUERY_API_ENDPOINT } : {}),
    ...(config.S3_ENDPOINT ? { s3Endpoint: config.S3_ENDPOINT } : {}),
  });
  await sink.init();
  const ledger = new LedgerCache(connection, prefix);
  const known = await sink.ledgerEtags({ ssIds: 'all', from: '0001-01-01', to: '9999-12-31' });
  await ledger.replaceAll([...known]);
  logger.info({ objects: known.size }, 'ledger cache warmed from the sink');
  const store = openSource(config);
  const queues = openQueues(connection, prefix, tuningFrom(config));
  // while Redis is down the connection logs one line per reconnect attempt; BullMQ's copies of its errors go to debug
  const reportError = (what: string) => (err: Error) =>
    logger[connection.status === 'ready' ? 'error' : 'debug']({ err: err.message }, what);
  for (const q of allQueues(queues)) q.on('error', reportError('queue error'));
  const staging = openServiceStaging(config);
  await staging.init();
  const runs = new RunStore(connection, prefix);
  const processor = new LoadProcessor({
    sink,
    staging,
    runs,
    ledger,
    queues,
    catalog: catalogProvider(store, logger),
    redis: connection,
    prefix,
    logger,
    batchRows: commitBatchRows(sink, config.PV_LOAD_BATCH_ROWS),
    batchObjects: config.PV_LOAD_BATCH_OBJECTS,
    maxWaitMs: config.PV_LOAD_MAX_WAIT_MS,
    upstreamIdle: () => upstreamIdle(queues),
    ...(config.PV_REPORT_DIR ? { afterRun: reportRefresher(sink, config.PV_REPORT_DIR, logger) } : {}),
    step: faultPoint(process.env, logger), // test-only crash hook, off unless PV_FAULT_EXIT_AT is set
  });
  // finished runs never recorded in the sink (their finalize job was lost or failed for good)
  const unrecorded = await finalizeUnrecorded(runs, queues);
  if (unrecorded.length > 0) logger.warn({ runs: unrecorded }, 'finalizing runs not recorded in the sink');
  const worker = new Worker(
    QUEUE_NAMES.load,
    processor.process,
    workerOptions(config, connection, loadWorkerConcurrency(config.PV_LOAD_BATCH_OBJECTS)),
  );
  worker.on('error', reportError('loader worker error'));
  countStalledJobs(worker, connection, prefix);
  // a readings job whose loader kept dying on it: tell its runs (BullMQ fails it without the processor)
  worker.on(
    'failed',
    createStalledOutListener<LoadJobData>({ runs, redis: connection, prefix, queues, logger }, 'load', (job) =>
      job.data.kind === 'readings'
        ? {
            transformJobId: transformJobId(job.data.manifest.key, job.data.manifest.etag),
            key: job.data.manifest.key,
            runId: job.data.runId,
          }
        : null,
    ),
  );
  // a finalize job that failed is tried again later (a few times), so that its run is still recorded
  worker.on('failed', createFinalizeRevival({ queues, logger }));
  return {
    async close() {
      // Redis down: nothing to wait for (the batch not committed is loaded again, once, after a restart)
      const closing = worker.close();
      await whileRedisUp(connection, () => processor.drain(), config.PV_SHUTDOWN_GRACE_MS);
      await whileRedisUp(connection, () => closing, config.PV_SHUTDOWN_GRACE_MS);
      await whileRedisUp(connection, () => queues.close(), config.PV_SHUTDOWN_GRACE_MS);
      await sink.close();
      await store.close();
      connection.disconnect();
    },
  };
}

/** Refreshes the quality report in `dir` for the systems a finished run loaded. */
function reportRefresher(sink: Sink, dir: string, logger: Logger): (runId: string) => Promise<void> {
  return async (runId) => {
    // loaded on first use: a loader without a report does not load the renderers
    const { refreshReportAfterRun } = await import('@pv-pipeline/quality');
    const r = await refreshReportAfterRun(sink, dir, runId);
    if (r.json) logger.info({ run: runId, systems: r.systems, dir }, 'quality report refreshed');
  };
}
