import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { BadInputError, type Logger, type ServiceConfig } from '@pv-pipeline/core';
import type { SystemCatalog } from '@pv-pipeline/pvdaq';
import { allQueues, createRedisConnection, openQueues, RunStore, tuningFrom } from '@pv-pipeline/queue';
import { catalogProvider, openSource, type RunningService, whileRedisUp } from '@pv-pipeline/runtime';
import { listSourceSystems, type SystemListing, unknownSystems } from '@pv-pipeline/stages';
import type { Express } from 'express';
import { createApiApp } from './app.js';
import { createMetricsApp } from './metrics-app.js';

/** Shortest `PV_API_TOKEN` accepted. */
export const MIN_TOKEN_LENGTH = 16;

/** A running API. */
export interface RunningApi extends RunningService {
  /** The port it listens on. */
  port: number;
  /** The port of /metrics (`PV_METRICS_PORT`). */
  metricsPort: number;
}

/** Throws a BadInputError naming PV_API_TOKEN when it is missing or too short. */
export function assertApiToken(config: ServiceConfig): void {
  const token = config.PV_API_TOKEN;
  if (!token) {
    throw new BadInputError(
      'PV_API_TOKEN',
      `is required by the api (a bearer token of ${MIN_TOKEN_LENGTH}+ characters)`,
    );
  }
  if (token.length < MIN_TOKEN_LENGTH) {
    throw new BadInputError('PV_API_TOKEN', `is ${token.length} characters long; use ${MIN_TOKEN_LENGTH} or more`);
  }
}

/**
 * Starts the API on `PORT` / `PV_API_HOST` (and /metrics on `PV_METRICS_PORT`) with its own non-blocking Redis
 * connection, the three queues, the run store and the source catalog
 * (re-read every 10 minutes). Used by `main.ts` and by `serve all`.
 */
export async function startApi(config: ServiceConfig, logger: Logger): Promise<RunningApi> {
  assertApiToken(config);
  // while Redis is down the connection logs one line per reconnect attempt, never a stack trace
  const redis = createRedisConnection(config.REDIS_URL, { blocking: false, name: 'pv-api', logger });
  const queues = openQueues(redis, config.PV_QUEUE_PREFIX, tuningFrom(config));
  for (const q of allQueues(queues)) {
    q.on('error', (err: Error) =>
      logger[redis.status === 'ready' ? 'error' : 'debug']({ err: err.message }, 'queue error'),
    );
  }
  const runs = new RunStore(redis, config.PV_QUEUE_PREFIX);
  const store = openSource(config);
  const catalog = catalogProvider(store, logger);
  // the listing is as fresh as the catalog (re-read every 10 minutes)
  let listed: { catalog: SystemCatalog; systems: Promise<SystemListing[]> } | null = null;
  const systems = async () => {
    const current = await catalog();
    if (listed?.catalog !== current) listed = { catalog: current, systems: listSourceSystems(store, current) };
    const mine = listed;
    return mine.systems.catch((err) => {
      if (listed === mine) listed = null;
      throw err;
    });
  };
  const unknown = async (ids: number[]) => unknownSystems(store, ids, new Set((await systems()).map((s) => s.ss_id)));
  const app = createApiApp({ config, runs, queues, redis, systems, unknownSystems: unknown, logger });

  const release = async () => {
    // Redis down: close without waiting for it
    await whileRedisUp(redis, () => queues.close(), config.PV_SHUTDOWN_GRACE_MS);
    await store.close();
    if (redis.status === 'ready') await redis.quit().catch(() => redis.disconnect());
    else redis.disconnect();
  };
  const servers: Server[] = [];
  try {
    servers.push(await listen(app, config.PORT, config.PV_API_HOST));
    servers.push(
      await listen(createMetricsApp({ config, queues, redis, logger }), config.PV_METRICS_PORT, config.PV_API_HOST),
    );
  } catch (err) {
    await Promise.all(servers.map((s) => closeServer(s)));
    await release();
    throw err;
  }
  const [port, metricsPort] = servers.map((s) => (s.address() as AddressInfo).port) as [number, number];
  logger.info({ port, metricsPort, host: config.PV_API_HOST }, 'api listening');

  let closing: Promise<void> | null = null;
  return {
    port,
    metricsPort,
    close() {
      closing ??= (async () => {
        await Promise.all(servers.map((s) => closeServer(s)));
        await release();
      })();
      return closing;
    },
  };
}

/** Listens on a port; resolves once listening, rejects on an error (e.g. the port in use). */
async function listen(app: Express, port: number, host: string): Promise<Server> {
  const server = app.listen(port, host);
  await new Promise<void>((resolve, reject) => {
    server.once('listening', resolve);
    server.once('error', reject);
  });
  return server;
}

/** Stops accepting, closes idle keep-alive connections, and waits for the rest. */
function closeServer(server: Server): Promise<void> {
  return new Promise<void>((resolve) => {
    server.close(() => resolve());
    server.closeIdleConnections();
  });
}
