import type { Logger, ServiceConfig } from '@pv-pipeline/core';
import {
  createPlanProcessor,
  createRedisConnection,
  LedgerCache,
  openQueues,
  QUEUE_NAMES,
  RunStore,
  tuningFrom,
  workerOptions,
} from '@pv-pipeline/queue';
import { openSource, type RunningService } from '@pv-pipeline/runtime';
import { partBytesFromMb } from '@pv-pipeline/stages';
import { Worker } from 'bullmq';
import { scheduleRescan } from './rescan-schedule.js';

/** The planner role: one plan job at a time; optionally the periodic re-scan schedule. */
export async function startPlanner(config: ServiceConfig, logger: Logger): Promise<RunningService> {
  const connection = createRedisConnection(config.REDIS_URL, { blocking: true, name: 'pv-planner' });
  const store = openSource(config);
  const prefix = config.PV_QUEUE_PREFIX;
  const queues = openQueues(connection, prefix, tuningFrom(config));
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
      partBytes: partBytesFromMb(config.PV_PART_MB),
    }),
    workerOptions(config, connection, 1),
  );
  worker.on('error', (err) => logger.error({ err: err.message }, 'planner worker error'));
  return {
    async close() {
      await worker.close();
      await queues.close();
      await store.close();
      connection.disconnect();
    },
  };
}
