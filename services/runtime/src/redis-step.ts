import type { EventEmitter } from 'node:events';
import { withGrace } from './with-grace.js';

/** The part of an ioredis connection a shutdown step watches: its status and its `close` event. */
export type RedisLink = { readonly status: string } & Pick<EventEmitter, 'once' | 'off'>;

/** How a shutdown step ended: done, out of its grace period, or Redis gone before either. */
export type StepEnd = 'done' | 'timeout' | 'redis-down';

/**
 * Awaits a shutdown step that needs Redis (closing a BullMQ worker or queue):
 * within `ms` while the connection is ready, and no longer than the connection
 * stays up. A step whose Redis is down, or goes down while it waits (a Slurm
 * `scancel` signals Redis and the services at once), is left running: its
 * commands would wait for a reconnect that a stopping process does not need,
 * and the process would outlive its grace period (a Kubernetes SIGKILL, a
 * Slurm node drained). Active jobs left so are picked up again as stalled.
 */
export async function untilRedisDown(redis: RedisLink, step: () => Promise<unknown>, ms: number): Promise<StepEnd> {
  const running = step().then(
    () => 'done' as const,
    () => 'done' as const,
  );
  if (redis.status !== 'ready') return 'redis-down';
  let onClose: (() => void) | undefined;
  const lost = new Promise<'redis-down'>((resolve) => {
    onClose = () => resolve('redis-down');
    redis.once('close', onClose);
  });
  try {
    return await withGrace(() => Promise.race([running, lost]), ms);
  } finally {
    if (onClose) redis.off('close', onClose);
  }
}

/** {@link untilRedisDown}, when the caller needs no word on how the step ended. */
export async function whileRedisUp(redis: RedisLink, step: () => Promise<unknown>, ms: number): Promise<void> {
  await untilRedisDown(redis, step, ms);
}
