import type { Redis } from 'ioredis';

/** Totals the API exposes on /metrics, kept in one Redis hash (`<prefix>:metrics`) by every service. */
export type MetricField = 'readings_loaded' | 'objects_loaded' | 'objects_failed' | 'objects_skipped';

/** Adds to the shared totals. */
export async function addMetrics(
  redis: Redis,
  prefix: string,
  inc: Partial<Record<MetricField, number>>,
): Promise<void> {
  const m = redis.multi();
  for (const [field, n] of Object.entries(inc)) if (n) m.hincrby(`${prefix}:metrics`, field, n);
  await m.exec();
}
