import { inject } from 'vitest';

/** The suite's own redis-server (see test-redis-setup.ts). */
export function testRedisUrl(): string {
  return inject('testRedisUrl');
}
