import type { AddressInfo } from 'node:net';
import { BadInputError, type Logger, type ServiceConfig } from '@pv-pipeline/core';
import { createRedisConnection, openQueues, RunStore, tuningFrom } from '@pv-pipeline/queue';
import { catalogProvider, openSource, type RunningService } from '@pv-pipeline/runtime';
import { createApiApp } from './app.js';

/** Shortest `PV_API_TOKEN` accepted. */
export const MIN_TOKEN_LENGTH = 16;

/** A running API. */
export interface RunningApi extends RunningService {
  /** The port it listens on. */
  port: number;
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
 * Starts the API on `PORT` / `PV_API_HOST` with its own non-blocking Redis
 * connection, the three queues, the run store and the source catalog
 * (re-read every 10 minutes). Used by `main.ts` and by `serve all`.
 */
export async function startApi(config: ServiceConfig, logger: Logger): Promise<RunningApi> {
  assertApiToken(config);
  const redis = createRedisConnection(config.REDIS_URL, { blocking: false, name: 'pv-api' });
  redis.on('error', (err) => logger.warn({ err: err.message }, 'redis connection error'));
  const queues = openQueues(redis, config.PV_QUEUE_PREFIX, tuningFrom(config));
  const runs = new RunStore(redis, config.PV_QUEUE_PREFIX);
  const store = openSource(config);
  const catalog = catalogProvider(store, logger);
  const systems = async () => (await catalog()).systems();
  const app = createApiApp({ config, runs, queues, redis, systems, logger });

  const release = async () => {
    await queues.close();
    await store.close();
    await redis.quit().catch(() => redis.disconnect());
  };
  const server = app.listen(config.PORT, config.PV_API_HOST);
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('listening', resolve);
      server.once('error', reject);
    });
  } catch (err) {
    await release();
    throw err;
  }
  const port = (server.address() as AddressInfo).port;
  logger.info({ port, host: config.PV_API_HOST }, 'api listening');

  let closing: Promise<void> | null = null;
  return {
    port,
    close() {
      closing ??= (async () => {
        await new Promise<void>((resolve) => {
          server.close(() => resolve());
          server.closeIdleConnections();
        });
        await release();
      })();
      return closing;
    },
  };
}
