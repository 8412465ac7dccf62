import type { TestProject } from 'vitest/node';
import { startRedis, type TestRedis } from './redis-server.js';

declare module 'vitest' {
  export interface ProvidedContext {
    /** The URL of the suite's own redis-server (never the shared one on 6379), see testRedisUrl(). */
    testRedisUrl: string;
  }
}

let redis: TestRedis | null = null;

/**
 * Vitest global setup: one redis-server of the suite's own on a free port,
 * for the tests that need a Redis but do not stop it (queue, api, planner);
 * each isolates itself by key prefix. Tests that stop or restart Redis start
 * one of their own (startRedis).
 */
export async function setup(project: TestProject): Promise<void> {
  redis = await startRedis();
  project.provide('testRedisUrl', redis.url);
}

export async function teardown(): Promise<void> {
  await redis?.destroy();
}
