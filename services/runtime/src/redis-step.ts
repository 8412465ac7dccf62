import type { EventEmitter } from 'node:events';
import { withGrace } from './with-grace.js';

/** The part of an ioredis connection a shutdown step watches: its status and its `close` and `ready` events. */
export type RedisLink = { readonly status: string } & Pick<EventEmitter, 'on' | 'off'>;

/**
 * How long a shutdown step still waits once its connection is lost, for it
 * to come back: a blip (ioredis reconnects after 0.2, 0.6, 1.4, 3 s) does not
 * end the wait, a Redis that is gone (scancel) ends it after this.
 */
export const RECONNECT_WINDOW_MS = 5_000;

/** How a shutdown step ended: done, out of its grace period, or Redis gone before either. */
export type StepEnd = 'done' | 'timeout' | 'redis-down';

/**
 * Awaits a shutdown step that needs Redis (closing a BullMQ worker or queue):
 * within `ms` while the connection is ready, and no longer than the connection
 * stays away. A step whose Redis is down, or goes down while it waits and does
 * not come back within `reconnectMs` (a Slurm `scancel` signals Redis and the
 * services at once), is left running: its commands would wait for a reconnect
 * that a stopping process does not need, and the process would outlive its
 * grace period (a Kubernetes SIGKILL, a Slurm node drained). Active jobs left
 * so are picked up again as stalled. A connection that comes back within
 * `reconnectMs` (a blip) keeps the wait going, so its jobs are not redone.
 *
 * @param reconnectMs how long a lost connection may take to come back. @defaultValue {@link RECONNECT_WINDOW_MS}
 */
export async function untilRedisDown(
  redis: RedisLink,
  step: () => Promise<unknown>,
  ms: number,
  reconnectMs = RECONNECT_WINDOW_MS,
): Promise<StepEnd> {
  const running = step().then(
    () => 'done' as const,
    () => 'done' as const,
  );
  if (redis.status !== 'ready') return 'redis-down';
  let away: NodeJS.Timeout | undefined;
  let onClose: (() => void) | undefined;
  const onReady = () => {
    clearTimeout(away);
    away = undefined;
  };
  const lost = new Promise<'redis-down'>((resolve) => {
    onClose = () => {
      away ??= setTimeout(() => resolve('redis-down'), reconnectMs);
    };
    redis.on('close', onClose);
    redis.on('ready', onReady);
  });
  try {
    return await withGrace(() => Promise.race([running, lost]), ms);
  } finally {
    clearTimeout(away);
    if (onClose) redis.off('close', onClose);
    redis.off('ready', onReady);
  }
}

/** {@link untilRedisDown}, when the caller needs no word on how the step ended. */
export async function whileRedisUp(
  redis: RedisLink,
  step: () => Promise<unknown>,
  ms: number,
  reconnectMs = RECONNECT_WINDOW_MS,
): Promise<void> {
  await untilRedisDown(redis, step, ms, reconnectMs);
}
