import { randomBytes } from 'node:crypto';
import { appRoutes } from '@bull-board/api/dist/routes.js';
import { isFinished } from '@pv-pipeline/stages';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SAMPLE_MIRROR } from '../support/cli.js';
import { type ServeAll, startServeAll } from '../support/serve-all.js';
import { waitFor } from '../support/wait-for.js';

/** Obviously fake credentials, made for this run only: none may reach a log line. */
const REDIS_PASSWORD = `redis-pw-${randomBytes(12).toString('hex')}`;
const AWS_ACCESS_KEY_ID = `AKIAFAKE${randomBytes(6).toString('hex').toUpperCase()}`;
const AWS_SECRET_ACCESS_KEY = `fake-secret-${randomBytes(16).toString('hex')}`;
const WRONG = `wrong-${randomBytes(16).toString('hex')}`;
const RUN = { systems: 'all', from: '2010-01-01', to: '2025-12-31', format: 'parquet' };

/** Anything that would tell a client about the code or the machine. */
const LEAK = /\bat \S+ \(|\bat [^\s]+:\d+:\d+|node_modules|\/work\/|\/tmp\/|\.ts\b|\.js:\d|Error:|stack/i;

/** The security headers every answer must carry. */
function expectHardened(res: Response, what: string): void {
  expect(res.headers.get('x-content-type-options'), what).toBe('nosniff');
  expect(res.headers.get('x-frame-options'), what).toBe('SAMEORIGIN');
  expect(res.headers.get('content-security-policy'), what).toContain("default-src 'self'");
  expect(res.headers.get('strict-transport-security'), what).toBeTruthy();
  expect(res.headers.get('referrer-policy'), what).toBe('no-referrer');
  expect(res.headers.get('x-powered-by'), what).toBeNull();
}

/**
 * A JSON `{error}` answer with `status`, no stack or path in it, hardened; returns the error
 * text (the dashboard's API answers `{error: {key}}`: then the key).
 */
async function expectCleanError(res: Response, status: number, what: string): Promise<string> {
  expect(res.status, what).toBe(status);
  expect(res.headers.get('content-type'), what).toMatch(/^application\/json/);
  expectHardened(res, what);
  const text = await res.text();
  expect(text, what).not.toMatch(LEAK);
  const body = JSON.parse(text) as { error?: string | { key: string } };
  expect(body.error, what).toBeDefined();
  return typeof body.error === 'string' ? body.error : body.error!.key;
}

/** Every mutating route of the dashboard's API (from Bull Board's own route table). */
const dashboardMutations = appRoutes.api.flatMap((r) =>
  [r.method]
    .flat()
    .filter((m) => m !== 'get')
    .flatMap((method) =>
      [r.route].flat().map((route) => ({
        method: method.toUpperCase(),
        path: `/admin/queues${route.replace(':queueName', 'plan').replace(/:[A-Za-z]+/g, 'x')}`,
      })),
    ),
);

describe('API security, on `pv-pipeline serve all` with a known token and credentials', () => {
  let d: ServeAll;
  const basic = (user: string, password: string) => `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;

  beforeAll(async () => {
    d = await startServeAll({
      mirror: SAMPLE_MIRROR,
      redisPassword: REDIS_PASSWORD,
      // this test makes ~200 failed attempts from one address on purpose: above the default limit
      env: {
        AWS_ACCESS_KEY_ID,
        AWS_SECRET_ACCESS_KEY,
        AWS_REGION: 'us-east-1',
        PV_LOG_LEVEL: 'debug',
        PV_AUTH_FAILURE_LIMIT: '10000',
      },
    });
  });
  afterAll(() => d?.destroy());

  it('refuses every mutating route (API and dashboard) and the reads without the right token', async () => {
    const routes = [
      { method: 'POST', path: '/api/runs' },
      { method: 'GET', path: '/api/runs' },
      { method: 'GET', path: '/api/runs/run-20200101T000000-deadbeef' },
      { method: 'GET', path: '/api/systems' },
      { method: 'GET', path: '/admin/queues' },
      { method: 'GET', path: '/admin/queues/api/queues' },
      ...dashboardMutations,
    ];
    expect(dashboardMutations.length).toBeGreaterThan(15);
    const attempts: Array<[string, Record<string, string>, string]> = [
      ['no credentials', {}, ''],
      ['a wrong bearer token', { authorization: `Bearer ${WRONG}` }, ''],
      ['the token minus its last character', { authorization: `Bearer ${d.token.slice(0, -1)}` }, ''],
      ['the token plus a character', { authorization: `Bearer ${d.token}x` }, ''],
      ['Basic with a wrong password', { authorization: basic('admin', WRONG) }, ''],
      ['Basic with the token as the user name', { authorization: basic(d.token, '') }, ''],
      ['the token in the query string', {}, `?token=${d.token}&access_token=${d.token}`],
      ['the token in another header', { 'x-api-key': d.token, cookie: `token=${d.token}` }, ''],
    ];
    for (const { method, path } of routes) {
      for (const [what, headers, query] of attempts) {
        const res = await fetch(`${d.base}${path}${query}`, {
          method,
          headers: { 'content-type': 'application/json', ...headers },
          ...(method === 'GET' ? {} : { body: JSON.stringify({ ...RUN, name: 'x', data: {} }) }),
        });
        await expectCleanError(res, 401, `${method} ${path} with ${what}`);
        expect(res.headers.get('www-authenticate'), `${method} ${path}`).toMatch(/^Bearer realm="pv-pipeline"/);
      }
    }
    // nothing happened: no run, no job, no queue paused
    const queues = (await (await d.api('/admin/queues/api/queues')).json()) as {
      queues: Array<{ name: string; isPaused: boolean; counts: Record<string, number> }>;
    };
    for (const q of queues.queues) {
      expect(q.isPaused, q.name).toBe(false);
      expect(
        Object.values(q.counts).reduce((a, b) => a + b, 0),
        q.name,
      ).toBe(0);
    }
    expect(((await (await d.api('/api/runs')).json()) as { runs: unknown[] }).runs).toEqual([]);
  });

  it('serves the API with the bearer token and the dashboard with it or with Basic carrying it', async () => {
    expect((await d.api('/api/runs')).status).toBe(200);
    const page = await fetch(`${d.base}/admin/queues`, { headers: { authorization: basic('anyone', d.token) } });
    expect(page.status).toBe(200);
    expectHardened(page, 'dashboard');
    // Basic is for the dashboard only
    expect((await fetch(`${d.base}/api/runs`, { headers: { authorization: basic('x', d.token) } })).status).toBe(401);
  });

  it('runs a triggered run to completion (so the logs hold a real run)', async () => {
    const res = await d.api('/api/runs', { method: 'POST', body: JSON.stringify(RUN) });
    expect(res.status).toBe(202);
    const { runId: id } = (await res.json()) as { runId: string };
    const run = await waitFor(
      async () => {
        const r = (await (await d.api(`/api/runs/${id}`)).json()) as { state: string; counts: { loaded: number } };
        return isFinished(r.state) ? r : null;
      },
      { timeoutMs: 60_000, intervalMs: 200, what: 'the run to finish' },
    );
    expect(run).toMatchObject({ state: 'completed', counts: { loaded: 34 } });
  });

  it('answers bad requests with clear JSON 4xx, never a stack or a path', async () => {
    const post = (body: string, headers: Record<string, string> = {}) =>
      d.api('/api/runs', { method: 'POST', body, headers });
    expect(await expectCleanError(await post('{"systems": all'), 400, 'malformed JSON')).toBe(
      'the body is not valid JSON',
    );
    expect(await expectCleanError(await post(JSON.stringify({ ...RUN, pad: 'x'.repeat(40_000) })), 413, 'huge')).toBe(
      'the body is larger than 16 kB',
    );
    expect(
      await expectCleanError(await post('systems=all', { 'content-type': 'text/plain' }), 400, 'wrong content type'),
    ).toMatch(/Content-Type: application\/json/);
    expect(
      await expectCleanError(await post('{}', { 'content-type': 'application/json; charset=latin-9' }), 415, 'charset'),
    ).toMatch(/charset/);
    expect(await expectCleanError(await post(JSON.stringify({ ...RUN, from: '2020-13-01' })), 400, 'bad date')).toMatch(
      /^from /,
    );
    expect(await expectCleanError(await post(JSON.stringify({ ...RUN, format: 'xlsx' })), 400, 'bad format')).toMatch(
      /format must be/,
    );
    expect(await expectCleanError(await post('[1,2,3]'), 400, 'array')).toMatch(/JSON object/);
    expect(
      await expectCleanError(await post(`{"a":${'['.repeat(5000)}${']'.repeat(5000)}}`), 400, 'deep'),
    ).toBeTruthy();
    await expectCleanError(await d.api('/api/runs?limit=abc'), 400, 'bad limit');
    await expectCleanError(await d.api('/api/runs/%E0%A4%A'), 400, 'bad percent-encoding');
    await expectCleanError(await d.api(`/api/runs/${'x'.repeat(5000)}`), 404, 'long run id');
    expect(await expectCleanError(await d.api('/nope'), 404, 'unknown route')).toBe('not found');
    expect(await expectCleanError(await d.api('/api/nope', { method: 'DELETE' }), 404, 'unknown API route')).toBe(
      'not found',
    );
    // the dashboard's own API: an unknown queue and a malformed body
    expect(
      await expectCleanError(await d.api('/admin/queues/api/queues/no-such/pause', { method: 'PUT' }), 404, 'board'),
    ).toBe('ERRORS.QUEUE_NOT_FOUND');
    const bb = await d.api('/admin/queues/api/queues/plan/add', { method: 'POST', body: '{"name":' });
    expect(bb.status).toBe(400);
    expect(await bb.text()).not.toMatch(LEAK);
  });

  it('answers 429 (JSON) past the trigger rate limit, and still serves reads', async () => {
    let res: Response | null = null;
    for (let i = 0; i < 40; i++) {
      res = await d.api('/api/runs', {
        method: 'POST',
        body: JSON.stringify({ ...RUN, from: '2021-01-02', to: '2021-01-01' }),
      });
      if (res.status === 429) break;
      expect(res.status).toBe(400);
    }
    expect(await expectCleanError(res!, 429, 'rate limit')).toMatch(/too many run triggers/);
    expect(res!.headers.get('ratelimit-policy')).toMatch(/^"?\d+/);
    expect((await d.api('/api/runs')).status).toBe(200);
  });

  it('answers a bare 500 when Redis is gone (an internal error), logging the detail instead', async () => {
    await d.redis.stop(true);
    const res = await d.api('/api/runs');
    expect(await expectCleanError(res, 500, 'redis down')).toBe('internal error');
    expect((await fetch(`${d.base}/readyz`)).status).toBe(503);
    await d.redis.start();
  });

  it('kept the token, the Redis password and the S3 credentials out of every log line', async () => {
    await waitFor(() => d.logs().includes('request failed'), { timeoutMs: 10_000, what: 'the 500 to be logged' });
    const logs = d.logs();
    expect(logs).toContain('run queued');
    for (const [what, secret] of [
      ['the api token', d.token],
      ['the api token, base64 in a Basic header', Buffer.from(`anyone:${d.token}`).toString('base64')],
      ['a wrong token a client sent', WRONG],
      ['the Redis password', REDIS_PASSWORD],
      ['the AWS access key id', AWS_ACCESS_KEY_ID],
      ['the AWS secret key', AWS_SECRET_ACCESS_KEY],
    ] as const) {
      expect(logs.includes(secret), `${what} is in the logs`).toBe(false);
    }
    expect(logs).toMatch(/"url":"\/api\/runs\?token=\[redacted\]&access_token=\[redacted\]"/);
  });
});
