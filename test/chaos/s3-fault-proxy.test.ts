import { randomBytes } from 'node:crypto';
import { RetryableError } from '@pv-pipeline/core';
import { S3ObjectStore } from '@pv-pipeline/pvdaq';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { S3RVER_CREDENTIALS, type S3Server, startS3Server } from '../support/s3-server.js';
import { type S3FaultKind, type S3FaultProxy, startS3FaultProxy } from './s3-fault-proxy.js';

describe('the S3 fault proxy, as the pipeline’s S3 store sees it', () => {
  let s3: S3Server;
  let proxy: S3FaultProxy;
  let store: S3ObjectStore;
  const body = randomBytes(200_000);

  beforeAll(async () => {
    s3 = await startS3Server();
    await s3.bucket('chaos-b');
    await s3.putObject('chaos-b', 'x/obj.bin', body);
    proxy = await startS3FaultProxy({ target: s3.endpoint, seed: 3, slowPauseMs: 5 });
    store = new S3ObjectStore({
      bucket: 'chaos-b',
      prefix: 'x',
      endpoint: proxy.url,
      credentials: S3RVER_CREDENTIALS,
      maxAttempts: 2,
    });
  });
  afterAll(async () => {
    await store?.close();
    await proxy?.stop();
    await s3?.stop();
  });

  const get = () => store.getBytes('obj.bin', { maxBytes: 1 << 20 });
  const only = (kind: S3FaultKind) => {
    proxy.rate = 1;
    proxy.kinds = [kind];
  };

  it('passes requests through untouched at rate 0', async () => {
    proxy.rate = 0;
    expect(Buffer.from(await get()).equals(body)).toBe(true);
  });

  it.each([
    ['error500', /HTTP 500/],
    ['error503', /HTTP 503/],
    ['slowDown', /SlowDown/],
    ['reset', /ECONNRESET|socket hang up/],
    ['truncatedBody', /reading the body/],
  ] as const)('%s: a retryable failure (never partial bytes), counted', async (kind, reason) => {
    only(kind);
    const before = proxy.injected[kind];
    const err = await get().catch((e: unknown) => e);
    proxy.rate = 0;
    expect(err).toBeInstanceOf(RetryableError);
    expect(String((err as Error).message)).toMatch(reason);
    expect(proxy.injected[kind]).toBeGreaterThan(before);
  });

  it('slowBody: the same bytes, late', async () => {
    only('slowBody');
    const before = proxy.injected.slowBody;
    const got = await get();
    proxy.rate = 0;
    expect(Buffer.from(got).equals(body)).toBe(true);
    expect(proxy.injected.slowBody).toBe(before + 1);
  });
});
