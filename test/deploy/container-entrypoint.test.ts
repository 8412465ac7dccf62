/**
 * The image's entry point, run as the container would run it, without Docker:
 *
 * - the files the Dockerfile copies, in a fresh folder, with `npm install --omit=dev --ignore-scripts`
 *   (the image's install: production dependencies only);
 * - the image's ENTRYPOINT + CMD (`node bin/pv-pipeline.js serve all`) from that folder, with the
 *   image's ENV and the environment compose gives the api service; only the addresses change
 *   (a redis-server and an s3rver of this test instead of the `redis` and `minio` services, a
 *   temp dir instead of the volumes);
 * - the sample backfill triggered by compose's own `trigger` script, then checked over HTTP and
 *   in the DuckDB file; the health check script in every mode; SIGTERM as `docker stop` sends it.
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import {
  cpSync,
  createWriteStream,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROOT, SAMPLE_MIRROR } from '../support/cli.js';
import { query } from '../support/duckdb.js';
import { startRedis, type TestRedis } from '../support/redis-server.js';
import { freePort, S3RVER_CREDENTIALS, type S3Server, startS3Server } from '../support/s3-server.js';
import { waitFor } from '../support/wait-for.js';
import { argv, loadCompose, loadDockerfile, serviceEnv } from './deploy-files.js';

interface RunRecord {
  runId: string;
  state: string;
  counts: { planned: number; loaded: number; skipped: number; failed: number; readings: number };
  failures: Array<{ key: string; reason: string }>;
}

interface HealthModule {
  redisCheck(url: string): Promise<string | null>;
  httpCheck(path: string, env: Record<string, string>): Promise<string | null>;
}

const docker = loadDockerfile();
const compose = loadCompose();

/** Runs a command to completion (bounded), returning its exit code and output. */
function run(
  cmd: string,
  args: string[],
  options: { cwd: string; env: NodeJS.ProcessEnv; timeoutMs: number },
): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { cwd: options.cwd, env: options.env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (out += d));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${cmd} ${args.slice(0, 3).join(' ')} did not finish in ${options.timeoutMs} ms\n${out}`));
    }, options.timeoutMs);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, out });
    });
  });
}

/** The dist folder of every workspace that has one. */
function workspaceDists(): string[] {
  return ['packages', 'services'].flatMap((base) =>
    readdirSync(join(ROOT, base))
      .map((d) => `${base}/${d}/dist`)
      .filter((d) => existsSync(join(ROOT, d))),
  );
}

/** The environment of a fresh container: PATH and HOME, nothing of this test process. */
function bareEnv(): NodeJS.ProcessEnv {
  return { PATH: process.env.PATH, HOME: process.env.HOME, TMPDIR: process.env.TMPDIR };
}

describe('the image entry point with production dependencies only (serve all, as compose configures it)', () => {
  const work = mkdtempSync(join(tmpdir(), 'pv-image-'));
  const app = join(work, 'app');
  const logFile = join(work, 'serve-all.log');
  let redis: TestRedis;
  let s3: S3Server;
  let port: number;
  let env: NodeJS.ProcessEnv;
  let child: ChildProcess | null = null;
  let exited: Promise<number | null>;
  const log = () => (existsSync(logFile) ? readFileSync(logFile, 'utf8').slice(-4000) : '');

  beforeAll(async () => {
    // 1. The build context as the Dockerfile copies it (.dockerignore: no node_modules, no tests).
    mkdirSync(app);
    const skip = /(^|\/)(node_modules|test)(\/|$)|\.test\.ts$|\.duckdb/;
    for (const source of new Set(docker.contextCopies)) {
      cpSync(join(ROOT, source), join(app, source), {
        recursive: true,
        filter: (src) => !skip.test(src.slice(ROOT.length)),
      });
    }
    // the build stage's output: the JavaScript `tsc -b` built (npm test builds before the tests run)
    for (const dist of ['dist', ...workspaceDists()]) cpSync(join(ROOT, dist), join(app, dist), { recursive: true });
    // 2. The image's install: the Dockerfile's own RUN line of the runtime's dependencies (without BuildKit's cache mount).
    const installRun = docker.instructions
      .find((i) => i.op === 'RUN' && /\bnpm install\b.*--omit=dev/s.test(i.args))!
      .args.replace(/--mount=\S+\s*/g, '');
    // npm's own variables of a surrounding `npm test` are left out.
    const npmEnv = Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^npm_/i.test(k)));
    const install = await run(
      'sh',
      ['-c', installRun.replace(/\bnpm install\b/, 'npm install --prefer-offline --loglevel=error')],
      { cwd: app, env: { ...npmEnv, NODE_ENV: 'production' }, timeoutMs: 150_000 },
    );
    expect(install.code, `${installRun} failed:\n${install.out}`).toBe(0);

    // 3. What the compose services reach: Redis and an S3 server holding the sample mirror.
    [redis, s3, port] = await Promise.all([startRedis({ aof: true }), startS3Server(), freePort()]);
    const apiEnv = serviceEnv(compose.services.api!);
    const source = /^s3:\/\/([^/]+)\/(.+)$/.exec(apiEnv.PV_SOURCE!)!;
    await s3.uploadDir(SAMPLE_MIRROR, source[1]!, source[2]!);
    env = {
      ...bareEnv(),
      ...docker.env,
      ...apiEnv,
      // only the addresses differ from compose
      REDIS_URL: redis.url,
      S3_ENDPOINT: s3.endpoint,
      AWS_ACCESS_KEY_ID: S3RVER_CREDENTIALS.accessKeyId,
      AWS_SECRET_ACCESS_KEY: S3RVER_CREDENTIALS.secretAccessKey,
      PV_SINK: `duckdb://${join(work, 'data', 'pvdaq.duckdb')}`,
      PV_STAGING: `file://${join(work, 'staging')}`,
      PORT: String(port),
      PV_API_HOST: '127.0.0.1',
      PV_METRICS_PORT: '0',
    };
    mkdirSync(join(work, 'data'));
  }, 240_000);

  afterAll(async () => {
    if (child && child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await s3?.stop();
    await redis?.destroy();
    rmSync(work, { recursive: true, force: true });
  });

  it('installed production dependencies only', () => {
    const has = (name: string) => existsSync(join(app, 'node_modules', name, 'package.json'));
    for (const name of ['bullmq', '@duckdb/node-api', '@pv-pipeline/queue']) expect(has(name), name).toBe(true);
    expect(has('tsx'), 'tsx: tests and scripts only').toBe(false);
    // Every package the lockfile marks dev-only is absent (typescript is "devOptional": an optional
    // peer of a production package, so npm keeps it even with --omit=dev).
    const lock = JSON.parse(readFileSync(join(ROOT, 'package-lock.json'), 'utf8')) as {
      packages: Record<string, { dev?: boolean }>;
    };
    const devOnly = Object.keys(JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')).devDependencies).filter(
      (name) => lock.packages[`node_modules/${name}`]?.dev === true,
    );
    expect(devOnly).toEqual(expect.arrayContaining(['vitest', '@biomejs/biome', 's3rver', 'kubernetes-models']));
    for (const name of devOnly) expect(has(name), `${name} is a dev dependency`).toBe(false);
    expect(statSync(join(app, 'bin/healthcheck.js')).isFile()).toBe(true);
    expect(existsSync(join(app, 'samples')), 'samples are not in the image').toBe(false);
  });

  it('starts with ENTRYPOINT + CMD and answers /healthz and /readyz', async () => {
    const [cmd, ...args] = [...docker.entrypoint, ...docker.cmd];
    expect(cmd).toBe('node');
    expect(args).toEqual([
      '--max-semi-space-size=2',
      '--v8-pool-size=2',
      '--heap-growing-percent=20',
      'bin/pv-pipeline.js',
      'serve',
      'all',
    ]);
    const out = createWriteStream(logFile);
    child = spawn(process.execPath, args, { cwd: app, env, stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout!.pipe(out);
    child.stderr!.pipe(out);
    const proc = child;
    exited = new Promise((resolve) => proc.once('exit', (code) => resolve(code)));
    await waitFor(
      async () => {
        if (proc.exitCode !== null) throw new Error(`serve all exited ${proc.exitCode}: ${log()}`);
        return (await fetch(`http://127.0.0.1:${port}/readyz`)).ok;
      },
      { timeoutMs: 60_000, intervalMs: 200, what: `the api on port ${port} (log: ${logFile})` },
    );
    expect((await fetch(`http://127.0.0.1:${port}/healthz`)).status).toBe(200);
  });

  it('passes its health checks (the image HEALTHCHECK and the probes of every mode)', async () => {
    const check = (...args: string[]) =>
      run(process.execPath, ['bin/healthcheck.js', ...args], { cwd: app, env, timeoutMs: 15_000 });
    for (const args of [['all'], ['all', '--live'], docker.healthcheck!.slice(2)]) {
      const r = await check(...args);
      expect(r.code, `healthcheck ${args.join(' ')}: ${r.out}`).toBe(0);
    }
    const wrongPort = await run(process.execPath, ['bin/healthcheck.js', 'all'], {
      cwd: app,
      env: { ...env, PORT: String(await freePort()) },
      timeoutMs: 15_000,
    });
    expect(wrongPort.code, wrongPort.out).toBe(1);
    expect(wrongPort.out).toMatch(/\/readyz failed/);
  });

  it("runs the sample backfill end to end when compose's trigger script posts it", async () => {
    const trigger = compose.services.trigger!;
    const [cmd, ...args] = argv(trigger.entrypoint);
    expect(cmd).toBe('node');
    const triggerEnv = serviceEnv(trigger);
    const r = await run(process.execPath, args, {
      cwd: app,
      env: {
        ...bareEnv(),
        ...triggerEnv,
        TRIGGER_API_URL: `http://127.0.0.1:${port}`,
        TRIGGER_TIMEOUT_S: '120',
      },
      timeoutMs: 150_000,
    });
    expect(r.code, `${r.out}\n${log()}`).toBe(0);
    const id = /queued (run-\S+)/.exec(r.out)?.[1];
    expect(id, r.out).toBeDefined();

    const headers = { authorization: `Bearer ${env.PV_API_TOKEN}` };
    const record = await waitFor(
      async () => {
        const res = await fetch(`http://127.0.0.1:${port}/api/runs/${id}`, { headers });
        const body = (await res.json()) as RunRecord;
        return body.state === 'completed' ? body : null;
      },
      { timeoutMs: 30_000, what: `run ${id} completed` },
    );
    expect(record.counts.loaded).toBe(34);
    expect(record.counts.failed).toBe(0);
    expect(record.failures).toEqual([]);
  });

  it('stops cleanly on SIGTERM within the stop grace period, and the sink holds the run', async () => {
    const started = Date.now();
    child!.kill('SIGTERM');
    const code = await exited;
    expect(code, log()).toBe(0);
    const graceS = Number.parseInt(String(compose.services.api!.stop_grace_period), 10);
    expect(Date.now() - started).toBeLessThan(graceS * 1000);

    const db = join(work, 'data', 'pvdaq.duckdb');
    const [ledger] = await query(db, 'SELECT count(*) AS n FROM pv_ingest_ledger');
    expect(ledger!.n).toBe(34);
    const [facts] = await query(db, 'SELECT count(*) AS n FROM pv_readings');
    expect(facts!.n).toBeGreaterThan(10_000);
  });

  it('checks Redis the way the probes of planner, worker and loader do (PING, AUTH, no password leaked)', async () => {
    const health = (await import(join(app, 'bin/healthcheck.js'))) as HealthModule;
    expect(await health.redisCheck(redis.url)).toBeNull();
    expect(await health.redisCheck(`redis://127.0.0.1:${await freePort()}`)).toMatch(/unreachable/);
    expect(await health.redisCheck('http://127.0.0.1:6379')).toMatch(/not redis/);
    const admin = new Redis(redis.url);
    try {
      const password = 'probe-pass-w0rd';
      await admin.config('SET', 'requirepass', password);
      const authed = `redis://:${password}@127.0.0.1:${redis.port}`;
      expect(await health.redisCheck(authed)).toBeNull();
      expect(await health.redisCheck(`redis://default:${password}@127.0.0.1:${redis.port}`)).toBeNull();
      expect(await health.redisCheck(redis.url)).toMatch(/NOAUTH/);
      const wrong = await health.redisCheck(`redis://:not-${password}@127.0.0.1:${redis.port}`);
      expect(wrong).toMatch(/WRONGPASS|invalid/i);
      expect(wrong).not.toContain(password);
      await admin.auth(password);
      await admin.config('SET', 'requirepass', '');
    } finally {
      admin.disconnect();
    }
    const spawned = spawnSync(process.execPath, ['bin/healthcheck.js', 'nope'], { cwd: app, encoding: 'utf8' });
    expect(spawned.status).toBe(1);
  });
});
