import { withGrace } from './with-grace.js';

/**
 * Awaits a shutdown step that needs Redis (closing a BullMQ worker or queue):
 * within `ms` while the connection is ready; not at all while it is down.
 * Then the step is started and left: its commands would wait for a reconnect
 * that a stopping process does not need, and the process would outlive its
 * grace period (a Kubernetes SIGKILL, a Slurm node drained). Active jobs left
 * so are picked up again as stalled.
 */
export async function whileRedisUp(
  redis: { readonly status: string },
  step: () => Promise<unknown>,
  ms: number,
): Promise<void> {
  const running = step().catch(() => undefined);
  if (redis.status !== 'ready') return;
  await withGrace(() => running, ms);
}
