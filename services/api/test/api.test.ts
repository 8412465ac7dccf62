import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import type { Server } from 'node:http';
import { type AddressInfo, createServer } from 'node:net';
import path from 'node:path';
import { Writable } from 'node:stream';
import { pathToFileURL } from 'node:url';
import { createLogger, loadServiceConfig, type ServiceConfig } from '@pv-pipeline/core';
import {
  allQueues,
  createRedisConnection,
  DEFAULT_TUNING,
  openQueues,
  type PipelineQueues,
  RunStore,
} from '@pv-pipeline/queue';
import type { SystemListing } from '@pv-pipeline/stages';
import { Worker } from 'bullmq';
import type { Express } from 'express';
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../../../test/support/cli.js';
import { testRedisUrl } from '../../../test/support/test-redis.js';
import { waitFor } from '../../../test/support/wait-for.js';
import { type ApiDeps, createApiApp } from '../src/app.js';
import { createMetricsApp } from '../src/metrics-app.js';
import type { openApiDocument } from '../src/openapi.js';
import { startApi } from '../src/start-api.js';

const REDIS_URL = testRedisUrl();
const PREFIX = `{pvtest-${randomBytes(6).toString('hex')}}`;
const TOKEN = `tok-${randomBytes(16).toString('hex')}`;
const WRONG = `wrong-${randomBytes(16).toString('hex')}`;
const SINK = 'duckdb://./api-test.duckdb';
const GOOD = { systems: [4, 50], from: '2020-01-01', to: '2020-01-31', format: 'parquet' };

const SYSTEM: SystemListing = {
  ss_id: 4,
  name: 'Test system',
  timezone: 'America/Denver',
  latitude: 39.7,
  longitude: -105.2,
  capacity_kw: 2.5,
  first_day: '2015-06-01',
  last_day: '2015-06-08',
  formats: ['parquet', 'csv'],
  channels: 3,
};

let redis: Redis;
let queues: PipelineQueues;
let runs: RunStore;
let config: ServiceConfig;
let logText = '';
const servers: Server[] = [];
const SYSTEM_50: SystemListing = { ...SYSTEM, ss_id: 50, name: 'Other system' };
let systemsImpl: () => Promise<SystemListing[]> = async () => [SYSTEM, SYSTEM_50];

const logger = createLogger(
  { service: 'api' },
  {
    level: 'debug',
    destination: new Writable({
      write(chunk, _enc, cb) {
        logText += String(chunk);
        cb();
      },
    }),
  },
);

function build(over: Partial<ApiDeps> = {}): Express {
  return createApiApp({
    config,
    runs,
    queues,
    redis,
    systems: () => systemsImpl(),
    logger,
    metricsCacheMs: 0,
    ...over,
  });
}

async function serve(app: Express): Promise<string> {
  const server = app.listen(0, '127.0.0.1');
  await new Promise<void>((resolve, reject) => {
    server.once('listening', resolve);
    server.once('error', reject);
  });
  servers.push(server);
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

const auth = (token = TOKEN) => ({ authorization: `Bearer ${token}` });
const basic = (password: string) => ({
  authorization: `Basic ${Buffer.from(`pv:${password}`).toString('base64')}`,
});

function post(base: string, body: unknown, headers: Record<string, string> = {}): Promise<Response> {
  return fetch(`${base}/api/runs`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...auth(), ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
}

let base: string;
let metricsBase: string;

beforeAll(async () => {
  config = loadServiceConfig({
    REDIS_URL,
    PV_API_TOKEN: TOKEN,
    PV_QUEUE_PREFIX: PREFIX,
    PV_SINK: SINK,
    PV_MAX_RUN_DAYS: '366',
  });
  redis = createRedisConnection(REDIS_URL, { blocking: false });
  queues = openQueues(redis, PREFIX, DEFAULT_TUNING);
  runs = new RunStore(redis, PREFIX);
  await redis.ping();
  base = await serve(build());
  metricsBase = await serve(createMetricsApp({ config, queues, redis, logger, metricsCacheMs: 0 }));
});

afterAll(async () => {
  await Promise.all(
    servers.map(
      (s) =>
        new Promise<void>((resolve) => {
          s.close(() => resolve());
          s.closeAllConnections();
        }),
    ),
  );
  for (const q of allQueues(queues)) await q.obliterate({ force: true });
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${PREFIX}:*`, 'COUNT', 1000);
    cursor = next;
    if (keys.length > 0) await redis.del(...keys);
  } while (cursor !== '0');
  await queues.close();
  await redis.quit();
});

describe('auth', () => {
  it('answers 401 with a Bearer challenge without a token or with a wrong one', async () => {
    const none = await fetch(`${base}/api/runs`);
    expect(none.status).toBe(401);
    expect(none.headers.get('www-authenticate')).toMatch(/^Bearer /);
    expect(((await none.json()) as { error: string }).error).toMatch(/bearer token/);

    const wrong = await fetch(`${base}/api/runs`, { headers: auth(WRONG) });
    expect(wrong.status).toBe(401);
    expect(wrong.headers.get('www-authenticate')).toContain('error="invalid_token"');

    const prefixOfToken = await fetch(`${base}/api/systems`, { headers: auth(TOKEN.slice(0, -1)) });
    expect(prefixOfToken.status).toBe(401);

    const trigger = await fetch(`${base}/api/runs`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(GOOD),
    });
    expect(trigger.status).toBe(401);
  });

  it('protects the dashboard and its API, and serves them with the token', async () => {
    for (const path of ['/admin/queues', '/admin/queues/api/queues']) {
      const none = await fetch(`${base}${path}`);
      expect(none.status).toBe(401);
      expect(none.headers.get('www-authenticate')).toMatch(/^Bearer /);
      expect((await fetch(`${base}${path}`, { headers: auth(WRONG) })).status).toBe(401);
    }
    const page = await fetch(`${base}/admin/queues`, { headers: auth() });
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toMatch(/text\/html/);
    const html = await page.text();
    expect(html).toContain('<base href="/admin/queues/"');
    const script = /src="(static\/js\/[^"]+\.js)"/.exec(html)?.[1];
    expect(script).toBeDefined();
    expect((await fetch(`${base}/admin/queues/${script}`)).status).toBe(401);
    const asset = await fetch(`${base}/admin/queues/${script}`, { headers: auth() });
    expect(asset.status).toBe(200);
    expect(asset.headers.get('content-type')).toMatch(/javascript/);

    const api = await fetch(`${base}/admin/queues/api/queues`, { headers: auth() });
    expect(api.status).toBe(200);
    const names = ((await api.json()) as { queues: Array<{ name: string; readOnlyMode: boolean }> }).queues;
    expect(names.map((q) => q.name).sort()).toEqual(['cleanup', 'load', 'plan', 'transform']);
    expect(names.every((q) => q.readOnlyMode === false)).toBe(true);
  });

  it('lets a browser in to the dashboard with Basic credentials carrying the token (dashboard only)', async () => {
    expect((await fetch(`${base}/admin/queues`, { headers: basic(TOKEN) })).status).toBe(200);
    expect((await fetch(`${base}/admin/queues`, { headers: basic(WRONG) })).status).toBe(401);
    expect((await fetch(`${base}/api/runs`, { headers: basic(TOKEN) })).status).toBe(401);
    const challenge = await fetch(`${base}/admin/queues`);
    expect(challenge.headers.get('www-authenticate')).toContain('Basic realm=');
  });

  it('keeps /healthz, /readyz and /api/openapi.json public, and /metrics off the API port', async () => {
    for (const path of ['/healthz', '/readyz', '/api/openapi.json']) {
      expect((await fetch(`${base}${path}`)).status, path).toBe(200);
    }
    expect((await fetch(`${base}/metrics`)).status).toBe(404);
    expect((await fetch(`${metricsBase}/metrics`)).status).toBe(200);
    expect((await fetch(`${metricsBase}/api/runs`, { headers: auth() })).status).toBe(404);
  });
});

describe('POST /api/runs validation', () => {
  const cases: Array<[string, unknown, RegExp]> = [
    ['an unknown field', { ...GOOD, sytems: [1], extra: true }, /unknown fields "sytems", "extra"/],
    ['from after to', { ...GOOD, from: '2020-02-01', to: '2020-01-01' }, /from is after to/],
    ['a malformed date', { ...GOOD, from: '2020-1-1' }, /^from .*YYYY-MM-DD/],
    ['an impossible date', { ...GOOD, to: '2020-02-30' }, /^to .*not a real date/],
    ['systems of strings', { ...GOOD, systems: ['4'] }, /systems must be "all" or a non-empty array/],
    ['systems with zero', { ...GOOD, systems: [4, 0] }, /systems must be/],
    ['systems with a fraction', { ...GOOD, systems: [4.5] }, /systems must be/],
    ['an empty systems list', { ...GOOD, systems: [] }, /systems must be/],
    ['systems "some"', { ...GOOD, systems: 'some' }, /systems must be/],
    ['a bad format', { ...GOOD, format: 'xlsx' }, /format must be "parquet" or "csv"/],
    ['a missing field', { systems: 'all', from: '2020-01-01', to: '2020-01-02' }, /format is required/],
    ['too large a span', { ...GOOD, from: '2019-01-01', to: '2020-12-31' }, /spans 731 days; .* at most 366/],
    [
      'a foreign sink',
      { ...GOOD, sink: 'bigquery://proj/ds' },
      /"bigquery:\/\/proj\/ds" is not the sink this deployment loads/,
    ],
    ['a JSON array', [GOOD], /must be a JSON object/],
  ];
  for (const [what, body, message] of cases) {
    it(`answers 400 for ${what}`, async () => {
      const res = await post(base, body);
      expect(res.status).toBe(400);
      const json = (await res.json()) as { error: string; issues: unknown[] };
      expect(json.error).toMatch(message);
      expect(json.issues.length).toBeGreaterThan(0);
    });
  }

  it('answers 400 for a body that is not JSON', async () => {
    const bad = await post(base, '{"systems": all}');
    expect(bad.status).toBe(400);
    expect(await bad.json()).toEqual({ error: 'the body is not valid JSON' });

    const text = await post(base, 'systems=all', { 'content-type': 'text/plain' });
    expect(text.status).toBe(400);
    expect(((await text.json()) as { error: string }).error).toMatch(/Content-Type: application\/json/);

    const empty = await fetch(`${base}/api/runs`, { method: 'POST', headers: auth() });
    expect(empty.status).toBe(400);
  });

  it('answers 413 for a body over 16 kB', async () => {
    const res = await post(base, { ...GOOD, pad: 'x'.repeat(20_000) });
    expect(res.status).toBe(413);
    expect(await res.json()).toEqual({ error: 'the body is larger than 16 kB' });
  });

  it('queued nothing for any of the refused triggers', async () => {
    expect(await queues.plan.count()).toBe(0);
    expect(await runs.list()).toEqual([]);
  });
});

describe('runs', () => {
  let id = '';

  it('answers 202 with the id and Location, and queues a plan job with that id', async () => {
    const res = await post(base, { ...GOOD, sink: SINK });
    expect(res.status).toBe(202);
    const body = (await res.json()) as { runId: string; state: string; request: unknown; links: { self: string } };
    id = body.runId;
    expect(id).toMatch(/^run-\d{8}T\d{6}-[0-9a-f]{8}$/);
    expect(body.state).toBe('queued');
    expect(body.request).toEqual(GOOD);
    expect(body.links.self).toBe(`/api/runs/${id}`);
    expect(res.headers.get('location')).toBe(`/api/runs/${id}`);

    const job = await queues.plan.getJob(id);
    expect(job).toBeDefined();
    expect(job!.id).toBe(id);
    expect(job!.data).toEqual({ runId: id, request: GOOD });
    expect(await job!.getState()).toBe('waiting');
  });

  it('exports queue depths and Redis totals in /metrics', async () => {
    await redis.hset(`${PREFIX}:metrics`, { readings_loaded: '1234', objects_loaded: '7' });
    const res = await fetch(`${metricsBase}/metrics`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/plain/);
    const text = await res.text();
    expect(text).toContain('pv_queue_jobs{queue="plan",state="waiting"} 1');
    expect(text).toContain('pv_queue_jobs{queue="transform",state="waiting"} 0');
    expect(text).toContain('pv_readings_loaded_total 1234');
    expect(text).toContain('pv_objects_loaded_total 7');
    expect(text).toContain('pv_objects_failed_total 0');
    expect(text).toContain('pv_objects_skipped_total 0');
    expect(text).toContain('pv_redis_up 1');
    expect(text).toContain('pv_queue_paused{queue="plan"} 0');
    expect(text).toMatch(/^process_cpu_user_seconds_total /m);
  });

  it('reports the workers’ backlog on /queue-depth: waiting, prioritized, delayed and active jobs of transform and cleanup', async () => {
    const depthPrefix = `{pvdepth-${randomBytes(4).toString('hex')}}`;
    const depthQueues = openQueues(redis, depthPrefix, DEFAULT_TUNING);
    try {
      // biome-ignore lint/suspicious/noExplicitAny: minimal payloads; nothing processes them
      const data = { runId: 'x' } as any;
      await depthQueues.transform.add('transform-object', data, { jobId: 'w1' });
      await depthQueues.transform.add('transform-object', data, { jobId: 'w2' });
      await depthQueues.transform.add('transform-object', data, { jobId: 'p1', priority: 5 });
      await depthQueues.transform.add('transform-object', data, { jobId: 'd1', delay: 3_600_000 });
      await depthQueues.cleanup.add('remove-staged', { staged: ['gs://b/pv/x.parquet'] }, { jobId: 'c1' });
      const depthBase = await serve(createMetricsApp({ config, queues: depthQueues, redis, logger }));
      const res = await fetch(`${depthBase}/queue-depth`);
      expect(res.status).toBe(200);
      // the wait list alone (LLEN) would say 2
      expect(await res.json()).toEqual({
        transform: { waiting: 2, prioritized: 1, delayed: 1, active: 0, backlog: 4, demand: 4 },
        cleanup: { waiting: 1, prioritized: 0, delayed: 0, active: 0, backlog: 1, demand: 1 },
        workers: { backlog: 5, demand: 5 },
      });
    } finally {
      await depthQueues.transform.obliterate({ force: true });
      await depthQueues.cleanup.obliterate({ force: true });
      await depthQueues.close();
    }
  });

  it('exports job durations of completed jobs in /metrics', async () => {
    const conn = createRedisConnection(REDIS_URL, { blocking: true });
    const worker = new Worker(
      'transform',
      async () => {
        await new Promise((r) => setTimeout(r, 50));
        return 'ok';
      },
      { connection: conn, prefix: PREFIX },
    );
    try {
      const done = new Promise<void>((resolve) => worker.once('completed', () => resolve()));
      // biome-ignore lint/suspicious/noExplicitAny: a minimal payload; the worker above ignores it
      await queues.transform.add('transform-object', { runId: 'x' } as any, { jobId: 'duration-probe' });
      await done;
    } finally {
      await worker.close();
      await conn.quit();
    }
    const text = await (await fetch(`${metricsBase}/metrics`)).text();
    expect(text).toContain('pv_job_duration_seconds_count{queue="transform"} 1');
    const sum = Number(/^pv_job_duration_seconds_sum\{queue="transform"\} (\S+)$/m.exec(text)?.[1]);
    expect(sum).toBeGreaterThanOrEqual(0.04);
    expect(sum).toBeLessThan(30);
    expect(text).toContain('pv_queue_jobs{queue="transform",state="completed"} 1');
  });

  it('reports the queued run with zero counts', async () => {
    const res = await fetch(`${base}/api/runs/${id}`, { headers: auth() });
    expect(res.status).toBe(200);
    const run = await res.json();
    expect(run).toMatchObject({
      runId: id,
      state: 'queued',
      request: GOOD,
      counts: { planned: 0, transformed: 0, loaded: 0, skipped: 0, failed: 0, readings: 0 },
      replaced: 0,
      dropped: { missing: 0, sentinel: 0, non_finite: 0, duplicate: 0 },
      failures: [],
      warnings: [],
      startedAt: null,
      finishedAt: null,
    });
  });

  it('answers 404 for unknown or malformed run ids', async () => {
    for (const unknown of ['run-20200101T000000-deadbeef', '..%2F..%2Fetc', '%00', 'x'.repeat(200)]) {
      const res = await fetch(`${base}/api/runs/${unknown}`, { headers: auth() });
      expect(res.status, unknown).toBe(404);
      expect(((await res.json()) as { error: string }).error).toMatch(/^no run/);
    }
    const other = await fetch(`${base}/api/nothing-here`, { headers: auth() });
    expect(other.status).toBe(404);
    expect(await other.json()).toEqual({ error: 'not found' });
  });

  it('accepts a trigger without sink and lists runs newest first, honouring limit', async () => {
    const res = await post(base, { systems: 'all', from: '2021-06-01', to: '2021-06-01', format: 'csv' });
    expect(res.status).toBe(202);
    const second = ((await res.json()) as { runId: string }).runId;
    expect(second).not.toBe(id);

    const all = (await (await fetch(`${base}/api/runs`, { headers: auth() })).json()) as {
      runs: Array<{ runId: string }>;
    };
    expect(all.runs.map((r) => r.runId).sort()).toEqual([id, second].sort());
    const one = (await (await fetch(`${base}/api/runs?limit=1`, { headers: auth() })).json()) as {
      runs: unknown[];
    };
    expect(one.runs).toHaveLength(1);
    for (const bad of ['0', '201', 'abc', '1.5']) {
      const r = await fetch(`${base}/api/runs?limit=${bad}`, { headers: auth() });
      expect(r.status, bad).toBe(400);
    }
  });

  it('cancels a run (DELETE /api/runs/:id and `runs cancel`): its queued jobs go, a job another run waits for stays', async () => {
    const res = await post(base, { systems: [4], from: '2021-07-01', to: '2021-07-02', format: 'parquet' });
    const runId = ((await res.json()) as { runId: string }).runId;
    // as if planning had begun: two objects queued, one of them shared with another run
    await runs.start(runId);
    await runs.create('other-run', GOOD as never);
    await runs.start('other-run');
    const object = (n: number) => ({
      key: `parquet/pvdata/system_id=4/year=2021/month=7/day=${n}/system_4__date_2021_07_0${n}.parquet`,
      etag: `e${n}`,
      size: 1,
      format: 'parquet' as const,
      ssId: 4,
      day: `2021-07-0${n}`,
    });
    await runs.attach(runId, 0, 0, ['t-own', 't-shared']);
    await runs.attach('other-run', 0, 0, ['t-shared']);
    await queues.transform.add('transform-object', { runId, object: object(1) }, { jobId: 't-own' });
    await queues.transform.add('transform-object', { runId, object: object(2) }, { jobId: 't-shared' });

    const cli = await runCli(['runs', 'cancel', runId, '--api', base, '--json'], { env: { PV_API_TOKEN: TOKEN } });
    expect(cli.stderr).toBe('');
    expect(cli.code).toBe(0);
    expect(JSON.parse(cli.stdout)).toMatchObject({ runId, state: 'cancelled' });
    expect(await queues.plan.getJob(runId)).toBeUndefined();
    expect(await queues.transform.getJob('t-own')).toBeUndefined();
    expect(await (await queues.transform.getJob('t-shared'))!.getState()).toBe('waiting');
    expect((await queues.load.getJob(`f-${runId}`))!.data).toEqual({ kind: 'finalize', runId });

    const again = await fetch(`${base}/api/runs/${runId}`, { method: 'DELETE', headers: auth() });
    expect(again.status).toBe(409);
    expect(((await again.json()) as { error: string }).error).toBe(
      `run ${runId} is already cancelled: only a queued or running run can be cancelled`,
    );
    const unknown = await fetch(`${base}/api/runs/run-20200101T000000-deadbeef`, { method: 'DELETE', headers: auth() });
    expect(unknown.status).toBe(404);
    const anonymous = await fetch(`${base}/api/runs/${runId}`, { method: 'DELETE' });
    expect(anonymous.status).toBe(401);
    const cliAgain = await runCli(['runs', 'cancel', runId, '--api', base], { env: { PV_API_TOKEN: TOKEN } });
    expect(cliAgain.code).toBe(1);
    expect(cliAgain.stderr).toBe(
      `pv-pipeline runs cancel: 409 run ${runId} is already cancelled: only a queued or running run can be cancelled\n`,
    );
    await queues.transform.remove('t-shared');
    await queues.load.remove(`f-${runId}`);
  });

  it("refuses a client's failing attempts with 429 once it failed too often, never the right token", async () => {
    const guarded = await serve(build({ config: { ...config, PV_AUTH_FAILURE_LIMIT: 3 } }));
    // successes and other errors do not count
    for (let i = 0; i < 5; i++) expect((await fetch(`${guarded}/api/runs`, { headers: auth() })).status).toBe(200);
    expect((await fetch(`${guarded}/api/runs/run-20200101T000000-deadbeef`, { headers: auth() })).status).toBe(404);
    for (let i = 0; i < 3; i++) {
      expect((await fetch(`${guarded}/api/runs`, { headers: auth('wrong-token-0123456789') })).status).toBe(401);
    }
    const refused = await fetch(`${guarded}/admin/queues`, { headers: auth('wrong-token-0123456789') });
    expect(refused.status).toBe(429);
    expect(((await refused.json()) as { error: string }).error).toMatch(/too many failed authentications/);
    expect((await fetch(`${guarded}/api/runs`)).status).toBe(429);
    // the right token is never refused by it, from the same client; the probes stay open
    expect((await fetch(`${guarded}/api/runs`, { headers: auth() })).status).toBe(200);
    expect((await fetch(`${guarded}/admin/queues`, { headers: basic(TOKEN) })).status).toBe(200);
    expect((await fetch(`${guarded}/healthz`)).status).toBe(200);
    expect(logText).toContain('too many failed authentications');
  });

  it('behind a proxy (PV_TRUST_PROXY), counts failures and triggers per client as X-Forwarded-For names it', async () => {
    const proxied = await serve(
      build({
        config: { ...config, PV_AUTH_FAILURE_LIMIT: 3, PV_TRUST_PROXY: '1' },
        rateLimit: { limit: 2, windowMs: 60_000 },
      }),
    );
    const from = (client: string, token?: string) => ({
      'x-forwarded-for': client,
      ...(token ? auth(token) : {}),
    });
    // one client guesses: its failures are refused past the limit…
    for (let i = 0; i < 3; i++) {
      expect((await fetch(`${proxied}/api/runs`, { headers: from('203.0.113.7', WRONG) })).status).toBe(401);
    }
    expect((await fetch(`${proxied}/api/runs`, { headers: from('203.0.113.7', WRONG) })).status).toBe(429);
    // …while another client, through the same proxy, is only told its token is wrong, and the right token passes
    expect((await fetch(`${proxied}/api/runs`, { headers: from('198.51.100.2', WRONG) })).status).toBe(401);
    expect((await fetch(`${proxied}/api/runs`, { headers: from('198.51.100.2', TOKEN) })).status).toBe(200);
    expect((await fetch(`${proxied}/api/runs`, { headers: from('203.0.113.7', TOKEN) })).status).toBe(200);
    // the trigger budget is per client too
    const bad = { ...GOOD, from: '2020-03-01', to: '2020-01-01' };
    for (let i = 0; i < 2; i++)
      expect((await post(proxied, bad, { 'x-forwarded-for': '203.0.113.7' })).status).toBe(400);
    expect((await post(proxied, bad, { 'x-forwarded-for': '203.0.113.7' })).status).toBe(429);
    expect((await post(proxied, bad, { 'x-forwarded-for': '198.51.100.2' })).status).toBe(400);
    // without PV_TRUST_PROXY the header names nobody: every request is the proxy's (the peer)
    const direct = await serve(build({ config: { ...config, PV_AUTH_FAILURE_LIMIT: 2 } }));
    for (const client of ['203.0.113.7', '198.51.100.2']) {
      expect((await fetch(`${direct}/api/runs`, { headers: from(client, WRONG) })).status).toBe(401);
    }
    expect((await fetch(`${direct}/api/runs`, { headers: from('192.0.2.1', WRONG) })).status).toBe(429);
  });

  it('answers 429 past the trigger rate limit', async () => {
    const limited = await serve(build({ rateLimit: { limit: 3, windowMs: 60_000 } }));
    for (let i = 0; i < 3; i++) {
      expect((await post(limited, { ...GOOD, from: '2020-03-01', to: '2020-01-01' })).status).toBe(400);
    }
    const res = await post(limited, GOOD);
    expect(res.status).toBe(429);
    expect(((await res.json()) as { error: string }).error).toMatch(/too many/);
    // Reads are not limited.
    expect((await fetch(`${limited}/api/runs`, { headers: auth() })).status).toBe(200);
    // the limit comes from PV_TRIGGER_RATE_LIMIT
    const configured = await serve(build({ config: { ...config, PV_TRIGGER_RATE_LIMIT: 2 } }));
    for (let i = 0; i < 2; i++) {
      expect((await post(configured, { ...GOOD, from: '2020-03-01', to: '2020-01-01' })).status).toBe(400);
    }
    expect((await post(configured, GOOD)).status).toBe(429);
  });
});

describe('systems', () => {
  it('lists the catalog systems', async () => {
    const res = await fetch(`${base}/api/systems`, { headers: auth() });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ systems: [SYSTEM, SYSTEM_50] });
  });

  it('refuses a trigger naming systems the source does not know, with 400 naming them', async () => {
    const before = await queues.plan.count();
    const res = await post(base, { ...GOOD, systems: [4, 77, 78] });
    expect(res.status).toBe(400);
    expect(((await res.json()) as { error: string }).error).toBe(
      "unknown systems 77, 78: not in the source's catalog and no data folder there (GET /api/systems lists them)",
    );
    expect(await queues.plan.count()).toBe(before);
  });

  it('answers a bare 500 when loading them fails, and logs the detail', async () => {
    const secret = '/srv/secret/path/catalog.parquet: EACCES';
    systemsImpl = async () => {
      throw new Error(secret);
    };
    try {
      const res = await fetch(`${base}/api/systems`, { headers: auth() });
      expect(res.status).toBe(500);
      const text = await res.text();
      expect(JSON.parse(text)).toEqual({ error: 'internal error' });
      expect(text).not.toContain('secret');
      expect(logText).toContain(secret);
    } finally {
      systemsImpl = async () => [SYSTEM, SYSTEM_50];
    }
  });
});

describe('operations', () => {
  it('answers /healthz and /readyz', async () => {
    const h = await fetch(`${base}/healthz`);
    expect(await h.json()).toEqual({ status: 'ok' });
    const r = await fetch(`${base}/readyz`);
    expect(r.status).toBe(200);
    expect(await r.json()).toEqual({ status: 'ok' });
  });

  it('answers a flood of /readyz with one Redis PING a second', async () => {
    let pings = 0;
    const counting = new Proxy(redis, {
      get(target, prop, receiver) {
        if (prop === 'ping') {
          return () => {
            pings++;
            return target.ping();
          };
        }
        return Reflect.get(target, prop, receiver);
      },
    });
    const probed = await serve(build({ redis: counting }));
    const answers = await Promise.all(Array.from({ length: 50 }, () => fetch(`${probed}/readyz`)));
    expect(answers.map((a) => a.status)).toEqual(Array(50).fill(200));
    expect(pings).toBe(1);
  });

  it('answers /readyz 503 (and /metrics still 200) when Redis is unreachable', async () => {
    const probe = createServer();
    await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
    const closedPort = (probe.address() as AddressInfo).port;
    await new Promise<void>((resolve) => probe.close(() => resolve()));
    const bad = createRedisConnection(`redis://127.0.0.1:${closedPort}`, { blocking: false });
    bad.on('error', () => {});
    try {
      const down = await serve(build({ redis: bad }));
      const started = Date.now();
      const r = await fetch(`${down}/readyz`);
      expect(r.status).toBe(503);
      expect(await r.json()).toEqual({ status: 'unavailable', error: 'redis unreachable' });
      expect(Date.now() - started).toBeLessThan(5000);
      const m = await fetch(`${await serve(createMetricsApp({ config, queues, redis: bad, logger }))}/metrics`);
      expect(m.status).toBe(200);
      expect(await m.text()).toContain('pv_redis_up 0');
      expect((await fetch(`${down}/healthz`)).status).toBe(200);
    } finally {
      bad.disconnect();
    }
  });

  it('sends security headers and no x-powered-by', async () => {
    for (const path of ['/healthz', '/api/runs']) {
      const res = await fetch(`${base}${path}`, { headers: auth() });
      expect(res.headers.get('x-content-type-options')).toBe('nosniff');
      expect(res.headers.get('x-frame-options')).toBe('SAMEORIGIN');
      expect(res.headers.get('content-security-policy')).toContain("default-src 'self'");
      expect(res.headers.get('content-security-policy')).not.toContain('upgrade-insecure-requests');
      expect(res.headers.get('x-powered-by')).toBeNull();
    }
  });

  it('refuses to build without a token', () => {
    expect(() => build({ config: { ...config, PV_API_TOKEN: undefined } })).toThrow(/PV_API_TOKEN/);
  });
});

async function freePort(): Promise<number> {
  const probe = createServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  const port = (probe.address() as AddressInfo).port;
  await new Promise<void>((resolve) => probe.close(() => resolve()));
  return port;
}

const ROOT = path.resolve(import.meta.dirname, '../../..');

describe('startApi and main', () => {
  it('starts in-process on the sample mirror and closes cleanly', async () => {
    const port = await freePort();
    const cfg = loadServiceConfig({
      REDIS_URL,
      PV_API_TOKEN: TOKEN,
      PV_QUEUE_PREFIX: PREFIX,
      PV_SOURCE: pathToFileURL(path.join(ROOT, 'samples/pvdaq')).href,
      PORT: String(port),
      PV_API_HOST: '127.0.0.1',
      PV_METRICS_PORT: '0',
    });
    const api = await startApi(cfg, logger);
    try {
      expect(api.port).toBe(port);
      const url = `http://127.0.0.1:${port}`;
      expect((await fetch(`${url}/readyz`)).status).toBe(200);
      expect(api.metricsPort).not.toBe(port);
      expect((await fetch(`http://127.0.0.1:${api.metricsPort}/metrics`)).status).toBe(200);
      expect((await fetch(`${url}/metrics`)).status).toBe(404);
      const res = await fetch(`${url}/api/systems`, { headers: auth() });
      expect(res.status).toBe(200);
      const { systems } = (await res.json()) as { systems: SystemListing[] };
      // what `pv-pipeline systems --json` lists (test/e2e/systems.test.ts)
      expect(systems.map((s) => [s.ss_id, s.formats.join(',')])).toEqual([
        [4, 'parquet,csv'],
        [15, 'parquet,csv'],
        [50, 'parquet,csv'],
        [51, 'parquet,csv'],
        [1229, ''],
        [1283, 'parquet,csv'],
        [1332, ''],
        [1333, ''],
        [1422, ''],
        [1423, ''],
        [4901, ''],
        [4902, ''],
        [4903, ''],
      ]);
      // a trigger naming a system the samples do not have is refused; a known one is queued
      expect((await post(url, { ...GOOD, systems: [4, 31337] })).status).toBe(400);
      expect((await post(url, { ...GOOD, systems: [4, 1332] })).status).toBe(202);
    } finally {
      await api.close();
    }
    await expect(fetch(`http://127.0.0.1:${port}/healthz`)).rejects.toThrow();
  });

  it('refuses to start without a long enough token, naming PV_API_TOKEN', async () => {
    const cfg = loadServiceConfig({ REDIS_URL, PV_QUEUE_PREFIX: PREFIX });
    await expect(startApi(cfg, logger)).rejects.toThrow(/^PV_API_TOKEN: is required/);
    await expect(startApi({ ...cfg, PV_API_TOKEN: 'short' }, logger)).rejects.toThrow(/^PV_API_TOKEN: is 5 characters/);
  });

  function runMain(env: Record<string, string>) {
    const child = spawn(path.join(ROOT, 'node_modules/.bin/tsx'), [path.join(ROOT, 'services/api/src/main.ts')], {
      cwd: ROOT,
      env: { PATH: process.env.PATH ?? '', REDIS_URL, PV_QUEUE_PREFIX: PREFIX, PV_LOG_LEVEL: 'info', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (d) => {
      stderr += String(d);
    });
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    return { child, exited, stderr: () => stderr };
  }

  it('main exits 1 naming the variable for a short token or a bad PORT', async () => {
    const short = runMain({ PV_API_TOKEN: 'short' });
    const port = runMain({ PV_API_TOKEN: TOKEN, PORT: 'eighty' });
    expect(await short.exited).toBe(1);
    expect(short.stderr()).toMatch(/^pv-pipeline api: PV_API_TOKEN: is 5 characters long/m);
    expect(await port.exited).toBe(1);
    expect(port.stderr()).toMatch(/^pv-pipeline api: PORT: /m);
  });

  it('main serves and exits 0 on SIGTERM', async () => {
    const port = await freePort();
    const main = runMain({ PV_API_TOKEN: TOKEN, PORT: String(port), PV_API_HOST: '127.0.0.1', PV_METRICS_PORT: '0' });
    try {
      // up once /healthz answers (a generous bound, no fixed sleeps)
      await waitFor(
        () =>
          fetch(`http://127.0.0.1:${port}/healthz`).then(
            (r) => r.ok,
            () => false,
          ),
        { timeoutMs: 60_000, what: 'the api answering /healthz' },
      );
      expect((await fetch(`http://127.0.0.1:${port}/api/runs`)).status).toBe(401);
      main.child.kill('SIGTERM');
      expect(await main.exited).toBe(0);
      expect(main.stderr()).not.toContain(TOKEN);
    } finally {
      main.child.kill('SIGKILL');
    }
  });
});

describe('OpenAPI document', () => {
  type Layer = { route?: { path: string; methods: Record<string, boolean> }; name: string; rawPath?: unknown };

  it('is served and lists every route the app serves', async () => {
    const served = (await (await fetch(`${base}/api/openapi.json`)).json()) as typeof openApiDocument;
    expect(served.openapi).toBe('3.1.0');
    const paths = served.paths as unknown as Record<string, Record<string, { security?: unknown[] }>>;

    const app = build();
    const stack = (app as unknown as { router: { stack: Layer[] } }).router.stack;
    const routes: Array<[string, string]> = [];
    for (const layer of stack) {
      if (layer.route) {
        for (const method of Object.keys(layer.route.methods)) routes.push([method, layer.route.path]);
      } else if ((layer.name === 'router' || layer.name === 'mounted_app') && typeof layer.rawPath === 'string') {
        routes.push(['get', layer.rawPath]); // a mounted router or app: the dashboard
      }
    }
    expect(routes.length).toBeGreaterThanOrEqual(9);
    for (const [method, path] of routes) {
      const documented = path.replace(/:(\w+)/g, '{$1}');
      expect(paths[documented]?.[method], `${method.toUpperCase()} ${path}`).toBeDefined();
    }
    // … and nothing documented that the app does not serve.
    const servedKeys = new Set(routes.map(([m, p]) => `${m} ${p.replace(/:(\w+)/g, '{$1}')}`));
    for (const [path, ops] of Object.entries(paths)) {
      for (const method of Object.keys(ops))
        expect(servedKeys.has(`${method} ${path}`), `${method} ${path}`).toBe(true);
    }
    // Public routes say so; the others inherit the bearer requirement.
    for (const path of ['/healthz', '/readyz', '/api/openapi.json']) {
      expect(paths[path]?.get?.security).toEqual([]);
    }
    expect(paths['/api/runs']?.post?.security).toBeUndefined();
    expect(served.security).toEqual([{ bearerAuth: [] }]);
  });
});

describe('logs', () => {
  it('logged requests but never the token', async () => {
    expect(logText).toContain('"url":"/api/runs"');
    expect(logText).toContain('run queued');
    expect(logText).not.toContain(TOKEN);
    expect(logText).not.toContain(WRONG);
    expect(logText.toLowerCase()).not.toContain('bearer');
  });
});

describe('the quality report and the runs page', () => {
  it('serves quality.json, the pages and the runs page behind the token (basic auth for browsers)', async () => {
    const { mkdtempSync, mkdirSync, writeFileSync, rmSync } = await import('node:fs');
    const { tmpdir } = await import('node:os');
    const dir = mkdtempSync(path.join(tmpdir(), 'pv-api-report-'));
    const site = path.join(dir, 'site');
    mkdirSync(site);
    const quality = {
      generated_at: '2026-01-01T00:00:00.000Z',
      sink: 'duckdb://x',
      from: '2020-01-01',
      to: '2020-01-02',
      systems: [],
    };
    writeFileSync(path.join(site, 'quality.json'), JSON.stringify(quality));
    writeFileSync(path.join(site, 'index.html'), '<!doctype html><title>report</title>');
    writeFileSync(path.join(site, 'system-4.html'), '<!doctype html><title>system 4</title>');
    writeFileSync(path.join(dir, 'secret.txt'), 'outside the report');
    try {
      const withReport = await serve(build({ config: { ...config, PV_REPORT_DIR: site } }));
      const basic = { authorization: `Basic ${Buffer.from(`pv:${TOKEN}`).toString('base64')}` };
      // the JSON, as written
      const json = await fetch(`${withReport}/api/quality`, { headers: auth() });
      expect(json.status).toBe(200);
      expect(await json.json()).toEqual(quality);
      expect((await fetch(`${withReport}/api/quality`)).status).toBe(401);
      // the pages, with basic auth as a browser sends it
      const index = await fetch(`${withReport}/report/`, { headers: basic });
      expect(index.status).toBe(200);
      expect(index.headers.get('content-type')).toMatch(/^text\/html/);
      expect(await index.text()).toContain('<title>report</title>');
      expect(await (await fetch(`${withReport}/report/system-4.html`, { headers: basic })).text()).toContain(
        'system 4',
      );
      expect((await fetch(`${withReport}/report/`)).status).toBe(401);
      expect((await fetch(`${withReport}/report/system-4.html`, { headers: auth(WRONG) })).status).toBe(401);
      // nothing outside the report folder
      expect((await fetch(`${withReport}/report/../secret.txt`, { headers: basic })).status).toBe(404);
      expect((await fetch(`${withReport}/report/%2e%2e/secret.txt`, { headers: basic })).status).toBe(404);
      // the runs page lists runs (one was triggered above) and links the report
      const page = await fetch(`${withReport}/runs`, { headers: basic });
      expect(page.status).toBe(200);
      const html = await page.text();
      expect(html).toContain('<h1>Runs</h1>');
      expect(html).toContain('href="report/"');
      expect(html).toMatch(/<code>run-[^<]+<\/code>/);
      expect((await fetch(`${withReport}/runs`)).status).toBe(401);
      // without a report: a 404 that says why
      const none = await fetch(`${base}/api/quality`, { headers: auth() });
      expect(none.status).toBe(404);
      expect(((await none.json()) as { error: string }).error).toContain('PV_REPORT_DIR is not set');
      expect((await fetch(`${base}/report/`, { headers: basic })).status).toBe(404);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
