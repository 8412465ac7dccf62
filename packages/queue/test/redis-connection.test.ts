import { Writable } from 'node:stream';
import { createLogger } from '@pv-pipeline/core';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { startRedis, type TestRedis } from '../../../test/support/redis-server.js';
import { waitFor } from '../../../test/support/wait-for.js';
import { createRedisConnection, reconnectDelayMs } from '../src/redis-connection.js';

const LOST = 'redis connection lost; reconnecting';

describe('createRedisConnection with a logger (own redis-server, killed and restarted)', () => {
  let redis: TestRedis;
  beforeAll(async () => {
    redis = await startRedis();
  });
  afterAll(async () => {
    await redis?.destroy();
  });

  it('logs one line per reconnect attempt, with attempt and backoff and no stack, and comes back', async () => {
    // every write pino makes to its destination, as written
    const writes: string[] = [];
    const destination = new Writable({
      write(chunk, _encoding, done) {
        writes.push(String(chunk));
        done();
      },
    });
    const logger = createLogger({ service: 'test' }, { destination });
    const consoleError = vi.spyOn(console, 'error');
    const connection = createRedisConnection(redis.url, { blocking: true, name: 'pv-test', logger });
    try {
      expect(await connection.ping()).toBe('PONG');
      const records = () => writes.map((w) => JSON.parse(w) as Record<string, unknown>);
      const reconnects = () => records().filter((r) => r.msg === LOST);

      await redis.stop(true);
      await waitFor(() => reconnects().length >= 2, { timeoutMs: 30_000, what: 'two reconnect lines' });

      const lost = writes.filter((w) => w.includes(LOST));
      expect(lost.length).toBeGreaterThanOrEqual(2);
      for (const [i, line] of lost.entries()) {
        // one line each: a single trailing newline, no stack frames
        expect(line.indexOf('\n')).toBe(line.length - 1);
        expect(line).not.toMatch(/\bat .+:\d+:\d+/);
        const r = JSON.parse(line) as Record<string, unknown>;
        expect(r).toMatchObject({ level: 40, redis: 'pv-test', attempt: i + 1, delayMs: reconnectDelayMs(i + 1) });
        expect(typeof r.err).toBe('string');
        expect(r).not.toHaveProperty('stack');
      }
      // the reconnect lines are all there is: nothing else logged, nothing printed by ioredis
      expect(records().every((r) => r.msg === LOST)).toBe(true);
      expect(consoleError).not.toHaveBeenCalled();

      await redis.start();
      await waitFor(async () => connection.status === 'ready' && (await connection.ping()) === 'PONG', {
        timeoutMs: 30_000,
        what: 'the connection back once redis-server is restarted',
      });
      const restored = records().find((r) => r.msg === 'redis connection restored');
      expect(restored).toMatchObject({ level: 30, redis: 'pv-test' });
      expect(restored?.attempts).toBeGreaterThanOrEqual(2);
      expect(consoleError).not.toHaveBeenCalled();
    } finally {
      consoleError.mockRestore();
      connection.disconnect();
    }
  });
});
