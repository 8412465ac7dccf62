import { BadInputError, type Logger } from '@pv-pipeline/core';
import { Redis, type RedisOptions } from 'ioredis';

/** Options of {@link createRedisConnection}. */
export interface RedisConnectionOptions {
  /**
   * For BullMQ workers and blocking clients: never fail a command while
   * reconnecting (`maxRetriesPerRequest: null`). Producers (the API) set false
   * so that a command fails after one reconnection attempt when Redis is down.
   */
  blocking: boolean;
  /** Connection name shown by `CLIENT LIST`. */
  name?: string;
  /**
   * Where the connection reports a lost Redis: one warn line per reconnect
   * attempt (attempt number, backoff delay, last error's message; no stack),
   * one info line once it is back. With a logger the connection has an
   * `error` listener, so ioredis prints no "Unhandled error event" traces.
   */
  logger?: Logger;
}

/** The delay before reconnect attempt `attempt` (1, 2, …): capped exponential backoff. */
export function reconnectDelayMs(attempt: number): number {
  return Math.min(100 * 2 ** attempt, 5_000);
}

/**
 * An ioredis connection from a `redis://` / `rediss://` URL, reconnecting with
 * capped exponential backoff. An unparseable URL is a BadInputError naming
 * REDIS_URL.
 */
export function createRedisConnection(url: string, options: RedisConnectionOptions): Redis {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new BadInputError('REDIS_URL', `"${url}" is not a URL (redis://host:port/db)`);
  }
  if (parsed.protocol !== 'redis:' && parsed.protocol !== 'rediss:') {
    throw new BadInputError('REDIS_URL', `"${parsed.protocol}" is not redis: or rediss:`);
  }
  const opts: RedisOptions = {
    maxRetriesPerRequest: options.blocking ? null : 1,
    enableOfflineQueue: true,
    retryStrategy: reconnectDelayMs,
    ...(options.name ? { connectionName: options.name } : {}),
  };
  const redis = new Redis(url, opts);
  if (options.logger) reportReconnects(redis, options.logger.child({ redis: options.name ?? redacted(parsed) }));
  return redis;
}

/**
 * Logs the reconnects of `redis`. Listeners are not copied by `duplicate()`, so
 * the copies BullMQ makes of a connection stay quiet: a process logs one line
 * per attempt of its own connection, not one per copy.
 */
function reportReconnects(redis: Redis, logger: Logger): void {
  let attempt = 0; // ioredis's own count (retryAttempts) is private: the same, counted here
  let lastError = '';
  redis.on('error', (err: Error) => {
    // the reconnect line that follows carries the message; the stack is never printed
    lastError = err.message;
    logger.debug({ err: err.message }, 'redis connection error');
  });
  redis.on('reconnecting', (delayMs: number) => {
    attempt++;
    logger.warn({ attempt, delayMs, err: lastError || 'connection closed' }, 'redis connection lost; reconnecting');
  });
  redis.on('ready', () => {
    if (attempt > 0) logger.info({ attempts: attempt }, 'redis connection restored');
    attempt = 0;
    lastError = '';
  });
}

/** The URL without its password, for logs. */
function redacted(url: URL): string {
  return `${url.protocol}//${url.host}${url.pathname === '/' ? '' : url.pathname}`;
}
