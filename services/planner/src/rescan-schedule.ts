import { BadInputError, type Logger, parseSystemsOption, type ServiceConfig } from '@pv-pipeline/core';
import { JOB_NAMES, type PipelineQueues } from '@pv-pipeline/queue';

/** Id of the BullMQ job scheduler that re-scans the configured systems. */
export const RESCAN_SCHEDULER_ID = 'pv-rescan';

/**
 * With `PV_RESCAN_CRON` set, keeps a BullMQ job scheduler that emits a plan job
 * on that pattern for `PV_RESCAN_SYSTEMS` over the last `PV_RESCAN_DAYS` days,
 * picking up new days (and changed objects). Without it, removes the scheduler.
 */
export async function scheduleRescan(config: ServiceConfig, queues: PipelineQueues, logger: Logger): Promise<void> {
  if (!config.PV_RESCAN_CRON) {
    await queues.plan.removeJobScheduler(RESCAN_SCHEDULER_ID);
    return;
  }
  const systems = parseSystemsOption(config.PV_RESCAN_SYSTEMS);
  try {
    await queues.plan.upsertJobScheduler(
      RESCAN_SCHEDULER_ID,
      { pattern: config.PV_RESCAN_CRON, tz: 'UTC' },
      {
        name: JOB_NAMES.plan,
        data: { rescan: { systems, days: config.PV_RESCAN_DAYS, format: config.PV_RESCAN_FORMAT } },
      },
    );
  } catch (err) {
    throw new BadInputError(
      'PV_RESCAN_CRON',
      `"${config.PV_RESCAN_CRON}" is not a cron pattern: ${(err as Error).message}`,
    );
  }
  logger.info(
    { cron: config.PV_RESCAN_CRON, systems: config.PV_RESCAN_SYSTEMS, days: config.PV_RESCAN_DAYS },
    'rescan scheduled',
  );
}
