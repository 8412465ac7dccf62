import type { PipelineQueues } from '@pv-pipeline/queue';
import type { Queue } from 'bullmq';
import express, { type ErrorRequestHandler } from 'express';
import type { ApiDeps } from './app.js';
import { createMetricsRegistry } from './metrics.js';

/**
 * The metrics endpoint, served on a port of its own (`PV_METRICS_PORT`, the
 * Prometheus convention): the Ingress routes the API port only, so queue
 * depths and totals are never published, and scrapes need no token. Also
 * `GET /queue-depth` (see {@link workerDepths}); anything else is 404.
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
  // the workers' real backlog, for an autoscaler (KEDA's metrics-api scaler: workers.demand)
  app.get('/queue-depth', async (_req, res) => {
    res.json(await workerDepths(deps.queues));
  });
  app.use((_req, res) => {
    res.status(404).json({ error: 'not found' });
  });
  // e.g. Redis down during a /queue-depth poll: one log line, a JSON 503, never a stack trace
  app.use(((err, _req, res, _next) => {
    deps.logger.warn({ err: (err as Error).message }, 'metrics request failed');
    res.status(503).json({ error: 'unavailable' });
  }) as ErrorRequestHandler);
  return app;
}

/** A queue's jobs by state, and what an autoscaler scales on. */
export interface QueueDepth {
  waiting: number;
  prioritized: number;
  delayed: number;
  active: number;
  /** Jobs no worker has taken yet: waiting + prioritized + delayed (scale up on these). */
  backlog: number;
  /** Backlog + active: the workers wanted (scale down only once active jobs are done too). */
  demand: number;
}

/** What `GET /queue-depth` reports: the two queues the workers take jobs from, and their sum. */
export interface WorkerDepths {
  transform: QueueDepth;
  /** Staged files of committed batches to delete (`gs://` staging; see the `cleanup` queue). */
  cleanup: QueueDepth;
  /** transform + cleanup: what KEDA scales the workers on, so that they stay until the cleanup is done. */
  workers: { backlog: number; demand: number };
}

/**
 * A queue's backlog as BullMQ keeps it: the wait list, the prioritized set
 * and the delayed set (a retry waiting its backoff), which the wait list's
 * length alone misses, and the active jobs.
 */
export async function queueDepth(queue: Queue): Promise<QueueDepth> {
  const c = await queue.getJobCounts('waiting', 'prioritized', 'delayed', 'active');
  const [waiting, prioritized, delayed, active] = [c.waiting ?? 0, c.prioritized ?? 0, c.delayed ?? 0, c.active ?? 0];
  const backlog = waiting + prioritized + delayed;
  return { waiting, prioritized, delayed, active, backlog, demand: backlog + active };
}

/** The depths of the queues the workers serve: transforms, and the cleanup the loader hands them. */
export async function workerDepths(queues: Pick<PipelineQueues, 'transform' | 'cleanup'>): Promise<WorkerDepths> {
  const [transform, cleanup] = await Promise.all([queueDepth(queues.transform), queueDepth(queues.cleanup)]);
  return {
    transform,
    cleanup,
    workers: { backlog: transform.backlog + cleanup.backlog, demand: transform.demand + cleanup.demand },
  };
}
