import express from 'express';
import type { ApiDeps } from './app.js';
import { createMetricsRegistry } from './metrics.js';

/**
 * The metrics endpoint, served on a port of its own (`PV_METRICS_PORT`, the
 * Prometheus convention): the Ingress routes the API port only, so queue
 * depths and totals are never published, and scrapes need no token. Anything
 * but `GET /metrics` is 404.
 */
export function createMetricsApp(
  deps: Pick<ApiDeps, 'config' | 'queues' | 'redis' | 'logger' | 'metricsCacheMs'>,
): express.Express {
  const registry = createMetricsRegistry({
    queues: deps.queues,
    redis: deps.redis,
    prefix: deps.config.PV_QUEUE_PREFIX,
    logger: deps.logger,
    ...(deps.metricsCacheMs !== undefined ? { durationCacheMs: deps.metricsCacheMs } : {}),
  });
  const app = express();
  app.disable('x-powered-by');
  app.get('/metrics', async (_req, res) => {
    const text = await registry.metrics();
    res.type(registry.contentType).send(text);
  });
  app.use((_req, res) => {
    res.status(404).json({ error: 'not found' });
  });
  return app;
}
