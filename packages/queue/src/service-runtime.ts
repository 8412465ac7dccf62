import { BadInputError, createLogger, describeError, type Logger } from '@pv-pipeline/core';
import { type ObjectStore, openObjectStore, SystemCatalog } from '@pv-pipeline/pvdaq';
import type { WorkerOptions } from 'bullmq';
import type { Redis } from 'ioredis';
import { DEFAULT_TUNING, type QueueTuning } from './job-options.js';
import { loadServiceConfig, type ServiceConfig } from './service-config.js';

/** A started service role. */
export interface RunningService {
  /** Stops taking work, finishes what is active (bounded by the grace period), closes connections. */
  close(): Promise<void>;
}

/** Starts one role in this process. */
export type ServiceStarter = (config: ServiceConfig, logger: Logger) => Promise<RunningService>;

/** Queue tuning from the service configuration. */
export function tuningFrom(config: ServiceConfig): QueueTuning {
  return { ...DEFAULT_TUNING, attempts: config.PV_JOB_ATTEMPTS, backoffMs: config.PV_JOB_BACKOFF_MS };
}

/** BullMQ worker options shared by the roles. */
export function workerOptions(config: ServiceConfig, connection: Redis, concurrency: number): WorkerOptions {
  return {
    connection,
    prefix: config.PV_QUEUE_PREFIX,
    concurrency,
    lockDuration: config.PV_LOCK_DURATION_MS,
    stalledInterval: config.PV_STALLED_INTERVAL_MS,
    // a job whose worker died twice is still tried again, a third stall fails it
    maxStalledCount: 2,
  };
}

/** The source object store of a service. */
export function openSource(config: ServiceConfig): ObjectStore {
  return openObjectStore(config.PV_SOURCE, config.S3_ENDPOINT ? { s3Endpoint: config.S3_ENDPOINT } : {});
}

/** A system catalog read once and refreshed every `refreshMs` (default 10 min). */
export function catalogProvider(store: ObjectStore, logger: Logger, refreshMs = 600_000): () => Promise<SystemCatalog> {
  let current: Promise<SystemCatalog> | null = null;
  let loadedAt = 0;
  return () => {
    if (!current || Date.now() - loadedAt > refreshMs) {
      loadedAt = Date.now();
      current = SystemCatalog.load(store, { logger });
      current.catch(() => {
        current = null;
      });
    }
    return current;
  };
}

/** Runs `fn` but gives up waiting after `ms` (the work goes on in the background). */
export async function withGrace<T>(fn: () => Promise<T>, ms: number): Promise<T | 'timeout'> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<'timeout'>((resolve) => {
    timer = setTimeout(() => resolve('timeout'), ms);
  });
  try {
    return await Promise.race([fn(), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * The `main` of a service process: validates the environment (a bad value
 * exits 1 naming the variable), starts the role, stops it on SIGTERM/SIGINT.
 */
export async function runServiceMain(name: string, start: ServiceStarter): Promise<void> {
  let config: ServiceConfig;
  try {
    config = loadServiceConfig(process.env);
  } catch (err) {
    process.stderr.write(`pv-pipeline ${name}: ${err instanceof BadInputError ? err.message : describeError(err)}\n`);
    process.exit(1);
  }
  const logger = createLogger({ service: name }, { level: config.PV_LOG_LEVEL });
  let service: RunningService;
  try {
    service = await start(config, logger);
  } catch (err) {
    logger.fatal({ err: describeError(err) }, 'start failed');
    process.stderr.write(`pv-pipeline ${name}: ${describeError(err)}\n`);
    process.exit(1);
  }
  logger.info('started');
  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'stopping');
    const hardStop = setTimeout(() => process.exit(1), config.PV_SHUTDOWN_GRACE_MS + 10_000);
    hardStop.unref();
    await service.close().catch((err) => logger.error({ err: describeError(err) }, 'stop failed'));
    logger.info('stopped');
    process.exit(0);
  };
  process.once('SIGTERM', () => void stop('SIGTERM'));
  process.once('SIGINT', () => void stop('SIGINT'));
}
