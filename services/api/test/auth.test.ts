import { randomBytes } from 'node:crypto';
import { describe, expect, it, vi } from 'vitest';

// Spy on the comparison the token check must use: one timingSafeEqual of equal-length digests per candidate.
const calls = vi.hoisted(() => [] as Array<[number, number]>);
vi.mock('node:crypto', async (importOriginal) => {
  const actual = await importOriginal<typeof import('node:crypto')>();
  return {
    ...actual,
    timingSafeEqual: (a: NodeJS.ArrayBufferView, b: NodeJS.ArrayBufferView) => {
      calls.push([a.byteLength, b.byteLength]);
      return actual.timingSafeEqual(a, b);
    },
  };
});

const { tokenMatcher } = await import('../src/auth.js');
const { loggableUrl } = await import('../src/log-url.js');

describe('tokenMatcher', () => {
  const token = randomBytes(24).toString('hex');
  const matches = tokenMatcher(token);

  it('accepts the token only, comparing fixed-length digests in constant time whatever the candidate', () => {
    const candidates = [
      '',
      'x',
      token.slice(0, -1),
      `${token}x`,
      token.toUpperCase(),
      `${token.slice(0, -1)}${token.at(-1) === 'a' ? 'b' : 'a'}`,
      'é'.repeat(10_000),
      token,
    ];
    calls.length = 0;
    const results = candidates.map((c) => matches(c));
    expect(results).toEqual([false, false, false, false, false, false, false, true]);
    // every candidate, however long or short, costs exactly one comparison of two 32-byte digests:
    // no early exit on length, no byte-by-byte string compare
    expect(calls).toEqual(candidates.map(() => [32, 32]));
  });
});

describe('loggableUrl', () => {
  it('redacts credential-like query values and keeps the rest', () => {
    expect(loggableUrl('/api/runs')).toBe('/api/runs');
    expect(loggableUrl('/api/runs?limit=5')).toBe('/api/runs?limit=5');
    expect(loggableUrl('/x?token=abc&limit=5&access_token=def&X-Amz-Signature=s&api%5Fkey=k&flag')).toBe(
      '/x?token=[redacted]&limit=5&access_token=[redacted]&X-Amz-Signature=[redacted]&api%5Fkey=[redacted]&flag',
    );
    expect(loggableUrl('/x?%E0%A4%A=1&password=p')).toBe('/x?%E0%A4%A=1&password=[redacted]');
  });
});
