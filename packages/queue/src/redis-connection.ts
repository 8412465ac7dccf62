import { BadInputError } from '@pv-pipeline/core';
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
    retryStrategy: (times) => Math.min(100 * 2 ** times, 5_000),
    ...(options.name ? { connectionName: options.name } : {}),
  };
  return new Redis(url, opts);
}
