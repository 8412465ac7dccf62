import type { Logger, ServiceConfig } from '@pv-pipeline/core';
import {
  allQueues,
  countStalledJobs,
  createPlanProcessor,
  createRedisConnection,
  LedgerCache,
  openQueues,
  QUEUE_NAMES,
  RunStore,
  tuningFrom,
  workerOptions,
} from '@pv-pipeline/queue';
import { openSource, type RunningService, whileRedisUp } from '@pv-pipeline/runtime';
import { partBytesFromMb } from '@pv-pipeline/stages';
import { Worker } from 'bullmq';
import { scheduleRescan } from './rescan-schedule.js';

/** The planner role: one plan job at a time; optionally the periodic re-scan schedule. */
export async function startPlanner(config: ServiceConfig, logger: Logger): Promise<RunningService> {
  const connection = createRedisConnection(config.REDIS_URL, { blocking: true, name: 'pv-planner', logger });
  const store = openSource(config);
  const prefix = config.PV_QUEUE_PREFIX;
  const queues = openQueues(connection, prefix, tuningFrom(config));
  // while Redis is down the connection logs one line per reconnect attempt; BullMQ's copies of its errors go to debug
  const reportError = (what: string) => (err: Error) =>
    logger[connection.status === 'ready' ? 'error' : 'debug']({ err: err.message }, what);
  for (const q of allQueues(queues)) q.on('error', reportError('queue error'));
  const runs = new RunStore(connection, prefix);
  await scheduleRescan(config, queues, logger);
  const worker = new Worker(
    QUEUE_NAMES.plan,
    createPlanProcessor({
      store,
      runs,
      ledger: new LedgerCache(connection, prefix),
      queues,
      logger,
      metrics: { redis: connection, prefix },
      partBytes: partBytesFromMb(config.PV_PART_MB),
      highWater: config.PV_PLAN_HIGH_WATER,
    }),
    workerOptions(config, connection, 1),
  );
  worker.on('error', reportError('planner worker error'));
  countStalledJobs(worker, connection, prefix);
  return {
    async close() {
      // Redis down: nothing to wait for (a plan job left is picked up again as stalled)
      await whileRedisUp(connection, () => worker.close(), config.PV_SHUTDOWN_GRACE_MS);
      await whileRedisUp(connection, () => queues.close(), config.PV_SHUTDOWN_GRACE_MS);
      await store.close();
      connection.disconnect();
    },
  };
}
