import { EventEmitter } from 'node:events';
import { describe, expect, it, vi } from 'vitest';
import { RECONNECT_WINDOW_MS, untilRedisDown } from '../src/redis-step.js';

/** A connection whose status and `close` event the test drives, as ioredis reports them. */
class Link extends EventEmitter {
  status = 'ready';
  lose(): void {
    this.status = 'reconnecting';
    this.emit('close');
  }
  comeBack(): void {
    this.status = 'ready';
    this.emit('ready');
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

  it('stops waiting when the connection is lost and stays away (scancel signals Redis and the services at once)', async () => {
    const link = new Link();
    const end = untilRedisDown(link, never, HOUR, 10);
    link.lose();
    // an hour's grace: only the connection that did not come back ends this wait
    expect(await end).toBe('redis-down');
    expect([link.listenerCount('close'), link.listenerCount('ready')]).toEqual([0, 0]);
  });

  it('a blip does not end the wait: back within the window, the wait goes on until the step ends it', async () => {
    vi.useFakeTimers();
    try {
      const link = new Link();
      let finish!: () => void;
      const end = untilRedisDown(link, () => new Promise<void>((r) => (finish = r)), HOUR);
      let ended = false;
      void end.then(() => (ended = true));
      // two blips, each shorter than the window, 8 s in all: more than one window
      link.lose();
      await vi.advanceTimersByTimeAsync(RECONNECT_WINDOW_MS - 1_000);
      link.comeBack();
      link.lose();
      await vi.advanceTimersByTimeAsync(RECONNECT_WINDOW_MS - 1_000);
      link.comeBack();
      await vi.advanceTimersByTimeAsync(RECONNECT_WINDOW_MS * 2);
      expect(ended).toBe(false);
      finish();
      expect(await end).toBe('done');
      expect([link.listenerCount('close'), link.listenerCount('ready')]).toEqual([0, 0]);
    } finally {
      vi.useRealTimers();
    }
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
