/**
 * `npm run bench:cluster`: inline vs queue mode with 1 and with 2 worker processes on the
 * bench mirror, side by side in one run, plus the queue overhead per job (an empty
 * transform). Queue mode runs as real processes (`pv-pipeline serve loader|planner|worker`)
 * against a redis-server of its own; the run is triggered through the queues and timed from
 * trigger to completion.
 *
 *   npm run bench:cluster -- [--systems N] [--threads N] [--no-write]
 *
 * `--systems` (default 8) takes the first N systems of the mirror; `--threads` (default 1)
 * is the decoding threads per worker process and of the inline run, so that "one worker"
 * means one core of decoding in both.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createRedisConnection, DEFAULT_TUNING, JOB_NAMES, openQueues, RunStore } from '@pv-pipeline/queue';
import { Queue, Worker } from 'bullmq';
import { Redis } from 'ioredis';
import { BENCH_DIR, ensureMirror, FULL_PARAMS, mirrorDir, systemsOf } from './generate-mirror.js';
import { writeResultsSection } from './results-section.js';

const ROOT = join(BENCH_DIR, '..');
const CLI = join(ROOT, 'bin/pv-pipeline.js');

interface Args {
  systems: number;
  threads: number;
  write: boolean;
}

function parseArgs(argv: string[]): Args {
  const a: Args = { systems: 8, threads: 1, write: true };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    const num = () => {
      const v = argv[++i];
      if (!v || !/^\d+$/.test(v)) throw new Error(`${arg} needs a whole number`);
      return Number(v);
    };
    if (arg === '--systems') a.systems = num();
    else if (arg === '--threads') a.threads = num();
    else if (arg === '--no-write') a.write = false;
    else throw new Error(`unknown argument ${arg}`);
  }
  return a;
}

/** Figures of one mode. */
interface ModeResult {
  mode: string;
  seconds: number;
  objects: number;
  readings: number;
}

const freePort = () =>
  new Promise<number>((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const a = s.address();
      s.close(() => resolve(typeof a === 'object' && a ? a.port : 0));
    });
  });

async function startRedis(dir: string): Promise<{ url: string; child: ChildProcess }> {
  const port = await freePort();
  const child = spawn(
    'redis-server',
    ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir],
    {
      stdio: 'ignore',
    },
  );
  const url = `redis://127.0.0.1:${port}`;
  const probe = new Redis(port, '127.0.0.1', { lazyConnect: true, retryStrategy: () => null, maxRetriesPerRequest: 0 });
  probe.on('error', () => undefined);
  const deadline = Date.now() + 10_000;
  for (;;) {
    try {
      await probe.connect();
      await probe.ping();
      break;
    } catch {
      probe.disconnect();
      if (Date.now() > deadline) throw new Error('redis-server did not start');
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  probe.disconnect();
  return { url, child };
}

function request(mirror: string, systems: number) {
  const ids = systemsOf(FULL_PARAMS)
    .slice(0, systems)
    .map((s) => s.id);
  const from = `${FULL_PARAMS.year}-${String(FULL_PARAMS.month).padStart(2, '0')}-01`;
  const to = `${FULL_PARAMS.year}-${String(FULL_PARAMS.month).padStart(2, '0')}-${String(FULL_PARAMS.days).padStart(2, '0')}`;
  return { ids, from, to, source: `file://${mirror}` };
}

/** The inline executor as a user runs it (`pv-pipeline run`), in a child process. */
function runInlineMode(mirror: string, args: Args, work: string): ModeResult {
  const r = request(mirror, args.systems);
  const t0 = performance.now();
  const out = execFileSync(
    process.execPath,
    [
      CLI,
      'run',
      '--source',
      r.source,
      '--systems',
      r.ids.join(','),
      '--from',
      r.from,
      '--to',
      r.to,
      '--sink',
      `duckdb://${join(work, 'inline.duckdb')}`,
      '--threads',
      String(args.threads),
      '--json',
      '--log-level',
      'warn',
    ],
    { cwd: ROOT, maxBuffer: 64 * 1024 * 1024 },
  );
  const seconds = (performance.now() - t0) / 1000;
  const s = JSON.parse(out.toString()) as { counts: { loaded: number; readings: number } };
  return { mode: 'inline', seconds, objects: s.counts.loaded, readings: s.counts.readings };
}

/** Queue mode: loader, planner and `workers` worker processes; timed from trigger to completion. */
async function runQueueMode(mirror: string, args: Args, work: string, workers: number): Promise<ModeResult> {
  const dir = mkdtempSync(join(work, `q${workers}-`));
  const redis = await startRedis(dir);
  const env = {
    ...process.env,
    REDIS_URL: redis.url,
    PV_SOURCE: `file://${mirror}`,
    PV_SINK: `duckdb://${join(dir, 'queue.duckdb')}`,
    PV_STAGING: `file://${join(dir, 'staging')}`,
    PV_WORKER_THREADS: String(args.threads),
    PV_WORKER_CONCURRENCY: '4',
    PV_LOAD_MAX_WAIT_MS: '500',
    PV_LOG_LEVEL: 'warn',
  };
  const procs: ChildProcess[] = [];
  const serve = (role: string) =>
    procs.push(spawn(process.execPath, [CLI, 'serve', role], { cwd: ROOT, env, stdio: 'ignore' }));
  serve('loader');
  serve('planner');
  for (let i = 0; i < workers; i++) serve('worker');
  const conn = createRedisConnection(redis.url, { blocking: false });
  const queues = openQueues(conn, '{pv}', DEFAULT_TUNING);
  const runs = new RunStore(conn, '{pv}');
  try {
    // wait until every role is connected (workers register as BullMQ workers)
    const deadline = Date.now() + 60_000;
    while (
      (await queues.transform.getWorkersCount()) < workers ||
      (await queues.load.getWorkersCount()) < 1 ||
      (await queues.plan.getWorkersCount()) < 1
    ) {
      if (Date.now() > deadline) throw new Error('services did not start');
      await new Promise((r) => setTimeout(r, 100));
    }
    const r = request(mirror, args.systems);
    const id = `bench-${randomBytes(4).toString('hex')}`;
    const req = { systems: r.ids, from: r.from, to: r.to, format: 'parquet' as const };
    const t0 = performance.now();
    await runs.create(id, req);
    await queues.plan.add(JOB_NAMES.plan, { runId: id, request: req }, { jobId: id });
    for (;;) {
      const run = await runs.get(id);
      if (run && (run.state === 'completed' || run.state === 'failed')) {
        const seconds = (performance.now() - t0) / 1000;
        if (run.counts.failed > 0 || run.state === 'failed')
          throw new Error(`run failed: ${JSON.stringify(run.errors.slice(0, 3))}`);
        return {
          mode: `queue, ${workers} worker${workers > 1 ? 's' : ''}`,
          seconds,
          objects: run.counts.loaded,
          readings: run.counts.readings,
        };
      }
      await new Promise((res) => setTimeout(res, 100));
    }
  } finally {
    await queues.close();
    conn.disconnect();
    for (const p of procs) p.kill('SIGTERM');
    await Promise.all(procs.map((p) => new Promise((res) => (p.exitCode !== null ? res(null) : p.once('exit', res)))));
    redis.child.kill('SIGKILL');
  }
}

/** BullMQ overhead: jobs/s through a queue whose processor does nothing. */
async function emptyTransform(work: string, jobs = 5000): Promise<number> {
  const redis = await startRedis(mkdtempSync(join(work, 'empty-')));
  const conn = new Redis(redis.url, { maxRetriesPerRequest: null });
  const q = new Queue('empty', { connection: conn, prefix: '{pv}' });
  try {
    const bulk = Array.from({ length: jobs }, (_, i) => ({
      name: 'noop',
      data: { key: `k${i}` },
      opts: { jobId: `j${i}`, removeOnComplete: true },
    }));
    for (let i = 0; i < bulk.length; i += 500) await q.addBulk(bulk.slice(i, i + 500));
    let done = 0;
    const t0 = performance.now();
    const w = new Worker('empty', async () => undefined, { connection: conn, prefix: '{pv}', concurrency: 16 });
    await new Promise<void>((resolve) => w.on('completed', () => ++done === jobs && resolve()));
    const seconds = (performance.now() - t0) / 1000;
    await w.close();
    return jobs / seconds;
  } finally {
    await q.close();
    conn.disconnect();
    redis.child.kill('SIGKILL');
  }
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  const mirror = mirrorDir(false);
  await ensureMirror(mirror, FULL_PARAMS, (m) => console.error(m));
  const work = mkdtempSync(join(tmpdir(), 'pv-bench-cluster-'));
  mkdirSync(work, { recursive: true });
  try {
    console.error(`systems ${args.systems}, decode threads per process ${args.threads}`);
    const inline = runInlineMode(mirror, args, work);
    console.error(`inline: ${inline.seconds.toFixed(1)} s`);
    const q1 = await runQueueMode(mirror, args, work, 1);
    console.error(`queue 1 worker: ${q1.seconds.toFixed(1)} s`);
    const q2 = await runQueueMode(mirror, args, work, 2);
    console.error(`queue 2 workers: ${q2.seconds.toFixed(1)} s`);
    const empty = await emptyTransform(work);
    for (const m of [q1, q2]) {
      if (m.readings !== inline.readings)
        throw new Error(`${m.mode} loaded ${m.readings} readings, inline ${inline.readings}`);
    }
    const rate = (m: ModeResult) => m.readings / m.seconds;
    const jobs = (m: ModeResult) => m.objects / m.seconds;
    const rows = [inline, q1, q2].map(
      (m) =>
        `| ${m.mode} | ${m.objects} | ${m.readings.toLocaleString('en-US')} | ${m.seconds.toFixed(1)} | ${Math.round(rate(m)).toLocaleString('en-US')} | ${jobs(m).toFixed(1)} |`,
    );
    const body = [
      '## Cluster mode (`npm run bench:cluster`)',
      '',
      `Measured ${new Date().toISOString().slice(0, 10)} on ${execFileSync('nproc').toString().trim()} cores, node ${process.version}; ${args.systems} systems of the bench mirror (1-minute data, July 2023), ${args.threads} decoding thread(s) per process, worker concurrency 4, one loader into DuckDB.`,
      '',
      '| mode | objects | readings | seconds | readings/s | jobs/s |',
      '|---|---|---|---|---|---|',
      ...rows,
      '',
      `- queue (1 worker) / inline: **${(rate(q1) / rate(inline)).toFixed(2)}×** (target ≥ 0.9×)`,
      `- queue 2 workers / 1 worker: **${(rate(q2) / rate(q1)).toFixed(2)}×** (target ≥ 1.6× on 2 cores)`,
      `- empty transform (BullMQ overhead alone, concurrency 16): **${Math.round(empty).toLocaleString('en-US')} jobs/s**`,
      '',
      'Reproduce: `npm run bench:cluster` (`--systems N`, `--threads N`, `--no-write`).',
    ].join('\n');
    console.log(body);
    if (args.write) writeResultsSection(join(BENCH_DIR, 'RESULTS.md'), 'cluster', body);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

await main();
