import { EventEmitter } from 'node:events';
import { describe, expect, it } from 'vitest';
import { untilRedisDown } from '../src/redis-step.js';

/** A connection whose status and `close` event the test drives, as ioredis reports them. */
class Link extends EventEmitter {
  status = 'ready';
  lose(): void {
    this.status = 'reconnecting';
    this.emit('close');
  }
}

const HOUR = 3_600_000;
const never = () => new Promise<never>(() => undefined);

describe('untilRedisDown: a shutdown step waits only while Redis is there', () => {
  it('ends with the step while the connection stays up', async () => {
    const link = new Link();
    expect(await untilRedisDown(link, async () => 'closed', HOUR)).toBe('done');
    expect(link.listenerCount('close')).toBe(0);
  });

  it('does not wait at all when the connection is already down, but starts the step', async () => {
    const link = new Link();
    link.status = 'reconnecting';
    let started = false;
    const end = await untilRedisDown(
      link,
      () => {
        started = true;
        return never();
      },
      HOUR,
    );
    expect([end, started]).toEqual(['redis-down', true]);
  });

  it('stops waiting when the connection is lost during the wait (scancel signals Redis and the services at once)', async () => {
    const link = new Link();
    const end = untilRedisDown(link, never, HOUR);
    link.lose();
    // an hour's grace: only the lost connection ends this wait
    expect(await end).toBe('redis-down');
    expect(link.listenerCount('close')).toBe(0);
  });

  it('ends at the grace period when the step outlasts it with Redis up', async () => {
    const link = new Link();
    expect(await untilRedisDown(link, never, 10)).toBe('timeout');
    expect(link.listenerCount('close')).toBe(0);
  });

  it('a step that fails still ends the wait', async () => {
    const link = new Link();
    expect(await untilRedisDown(link, () => Promise.reject(new Error('closed twice')), HOUR)).toBe('done');
  });
});
