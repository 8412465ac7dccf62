import { randomBytes } from 'node:crypto';
import { createLogger, loadServiceConfig } from '@pv-pipeline/core';
import { createRedisConnection, DEFAULT_TUNING, openQueues } from '@pv-pipeline/queue';
import { afterAll, describe, expect, it } from 'vitest';
import { testRedisUrl } from '../../../test/support/test-redis.js';
import { RESCAN_SCHEDULER_ID, scheduleRescan } from '../src/rescan-schedule.js';

describe('periodic re-scan schedule (real Redis, own prefix)', () => {
  const prefix = `{pvtest-${randomBytes(4).toString('hex')}}`;
  const redis = createRedisConnection(testRedisUrl(), { blocking: false });
  const queues = openQueues(redis, prefix, DEFAULT_TUNING);
  const logger = createLogger({ service: 'test' }, { level: 'silent' });

  afterAll(async () => {
    await queues.plan.obliterate({ force: true });
    await queues.close();
    const keys = await redis.keys(`${prefix}*`);
    if (keys.length > 0) await redis.del(...keys);
    redis.disconnect();
  });

  it('keeps a job scheduler for the configured systems and removes it when unset', async () => {
    const config = loadServiceConfig({ PV_RESCAN_CRON: '0 3 * * *', PV_RESCAN_SYSTEMS: '4,50', PV_RESCAN_DAYS: '3' });
    await scheduleRescan(config, queues, logger);
    await scheduleRescan(config, queues, logger); // idempotent
    const schedulers = await queues.plan.getJobSchedulers();
    expect(schedulers).toHaveLength(1);
    expect(schedulers[0]).toMatchObject({ key: RESCAN_SCHEDULER_ID, pattern: '0 3 * * *' });
    const next = await queues.plan.getDelayed();
    expect(next.map((j) => j.data)).toEqual([{ rescan: { systems: [4, 50], days: 3, format: 'parquet' } }]);
    await scheduleRescan(loadServiceConfig({}), queues, logger);
    expect(await queues.plan.getJobSchedulers()).toHaveLength(0);
  });

  it('rejects a bad cron pattern naming the variable', async () => {
    await expect(
      scheduleRescan(loadServiceConfig({ PV_RESCAN_CRON: 'every tuesday' }), queues, logger),
    ).rejects.toThrow(/PV_RESCAN_CRON/);
  });

  it('rejects bad configuration naming the variable', () => {
    expect(() => loadServiceConfig({ PV_WORKER_CONCURRENCY: 'lots' })).toThrow(/^PV_WORKER_CONCURRENCY: /);
    expect(() => loadServiceConfig({ PORT: '70000' })).toThrow(/^PORT: /);
  });
});
