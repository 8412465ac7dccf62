/**
 * `npm run bench:scale`: how far the cluster scales out, from measured costs.
 *
 *   npm run bench:scale -- [--systems N] [--planner-objects N] [--latency-ms N] [--sinks a,b] [--no-write]
 *
 * With `PV_BENCH_PROFILE_DIR=DIR` the loader processes write V8 CPU profiles there (`--cpu-prof`):
 * what bounds L. `PV_BENCH_LOG=debug` (or `info`) shows the services' logs (default `warn`).
 *
 * - **w**, the worker rate: objects/s of one worker process alone (`pv-pipeline serve worker`,
 *   default settings, decoding on 1 thread) transforming the first `--systems` (32: every one) systems of the bench
 *   mirror (31 daily Parquet objects each) with no loader running. Measured once per sink below;
 *   the median is w.
 * - **L**, the loader ceiling per sink: that run's load jobs and those of a feed run (the same
 *   systems' August to October, transformed next by two workers, not measured: with 32 systems 3,936 objects in
 *   all), pre-staged manifests all waiting, are then taken by `pv-pipeline serve loader` alone (the
 *   workers stopped), as fast as it can commit them: objects/s from the loader's start to both
 *   runs' end. Sinks: DuckDB, the Parquet
 *   dataset (local, and `parquet+s3://` on an s3rver of its own, where the workers place the files
 *   and the loader only checks them and writes the ledger), and BigQuery through its fake
 *   (test/support/bigquery-fake, in this process: its L is the fake's, a stand-in for the real
 *   service's load-job latency), with `file://` staging (the loader uploads each batch's rows) and
 *   with `gs://` staging on the s3rver (the workers stage readings files there and the loader's
 *   load jobs list their URIs; the fake reads them from the s3rver). There the loader hands the
 *   committed files' deletion to the workers (cleanup jobs); one worker then runs them alone,
 *   measured, and that row's w counts its CPU per file on top of the transform's.
 * - **P**, the planner ceiling: objects/s the real planner plans from a listing of
 *   `--planner-objects` synthetic keys (test/load/plan-synthetic.ts, a SyntheticStore), with Redis
 *   peak memory and round trips per object: the Redis cost per job.
 * - **The S3 model, checked**: 1 and then 2 worker processes transform the same objects from a
 *   real S3-protocol server (s3rver) through the S3 fault proxy with `--latency-ms` added to every
 *   request; the measured rates are set against the model's prediction.
 *
 * The model: a worker process keeps `c` (PV_WORKER_CONCURRENCY, 4) jobs in flight. With no
 * latency it does w objects/s, so by Little's law each job takes c / w s; S3 adds k requests ×
 * latency + bytes / bandwidth per object, so a process does c / (c / w + k × latency + bytes /
 * bandwidth) objects/s, and `n` processes n times that, up to the cores they share (the 2-worker
 * file:// run on this 2-core machine). The archive projection puts 8 and 32 worker pods (one
 * process each, a core each) on in-region S3 (stated below) and takes the least of the pods, L and P.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import {
  createRedisConnection,
  DEFAULT_TUNING,
  JOB_NAMES,
  openQueues,
  type RunRecord,
  RunStore,
} from '@pv-pipeline/queue';
import { isFinished } from '@pv-pipeline/stages';
import { startS3FaultProxy } from '../test/chaos/s3-fault-proxy.js';
import { startBigQueryFake } from '../test/support/bigquery-fake/index.js';
import { S3RVER_CREDENTIALS, startS3Server } from '../test/support/s3-server.js';
import { startRedis, stopChildren } from './bench-processes.js';
import {
  BENCH_DIR,
  ensureMirror,
  type MirrorParams,
  monthsOf,
  pad2,
  SCALE_PARAMS,
  scaleMirrorDir,
  systemsOf,
} from './generate-mirror.js';
import { benchCommit, median, processCpuSeconds } from './measure.js';
import { writeResultsSection } from './results-section.js';

const ROOT = join(BENCH_DIR, '..');
const CLI = join(ROOT, 'bin/pv-pipeline.js');
/** Transform jobs a worker process keeps in flight (PV_WORKER_CONCURRENCY's default). */
const CONCURRENCY = 4;
/** The archive the projection is for: ~157 systems × ~15 years × 365 daily objects (as bench:bigquery). */
const ARCHIVE_OBJECTS = 157 * 15 * 365;
/** In-region S3, per request: time to first byte; per worker pod: bandwidth. */
const S3_MODEL = { latencyMs: 30, bandwidthMBps: 50 };
const SINKS = ['duckdb', 'parquet', 'parquet-s3', 'bigquery', 'bigquery-gcs'] as const;
type SinkKind = (typeof SINKS)[number];
const SINK_LABEL: Record<SinkKind, string> = {
  duckdb: 'DuckDB',
  parquet: 'Parquet dataset',
  'parquet-s3': 'Parquet dataset on S3 (s3rver)',
  bigquery: 'BigQuery (fake)',
  'bigquery-gcs': 'BigQuery (fake), gs:// staging (s3rver)',
};

interface Args {
  systems: number;
  plannerObjects: number;
  latencyMs: number;
  /** The sinks whose w and L are measured. @defaultValue all */
  sinks: SinkKind[];
  write: boolean;
}

function readArgs(): Args {
  const { values } = parseArgs({
    options: {
      systems: { type: 'string', default: '32' },
      'planner-objects': { type: 'string', default: '1000000' },
      'latency-ms': { type: 'string', default: '50' },
      sinks: { type: 'string', default: SINKS.join(',') },
      'no-write': { type: 'boolean', default: false },
    },
  });
  const sinks = values.sinks.split(',').map((k) => k.trim()) as SinkKind[];
  for (const k of sinks) if (!SINKS.includes(k)) throw new Error(`--sinks: ${k} is not one of ${SINKS.join(', ')}`);
  const whole = (name: string, v: string) => {
    if (!/^\d+$/.test(v)) throw new Error(`--${name} needs a whole number`);
    return Number(v);
  };
  return {
    systems: whole('systems', values.systems),
    plannerObjects: whole('planner-objects', values['planner-objects']),
    latencyMs: whole('latency-ms', values['latency-ms']),
    sinks,
    write: !values['no-write'] && sinks.length === SINKS.length,
  };
}

/** A rate measured over one phase. */
interface Rate {
  objects: number;
  seconds: number;
  /** CPU seconds of the phase's process(es). */
  cpu: number;
  perSecond: number;
}

const rate = (objects: number, seconds: number, cpu: number): Rate => ({
  objects,
  seconds,
  cpu,
  perSecond: objects / seconds,
});
const fmt = (n: number, digits = 0) =>
  n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });
const log = (s: string) => process.stderr.write(`${s}\n`);

/** A run of the first `systems` systems of the mirror over `months` (one-month mirror parameters, in order). */
function runRequest(systems: number, months: readonly MirrorParams[] = MEASURED_MONTHS) {
  const ids = systemsOf(SCALE_PARAMS)
    .slice(0, systems)
    .map((s) => s.id);
  const day = (m: MirrorParams, d: number) => `${m.year}-${pad2(m.month)}-${pad2(d)}`;
  const last = months[months.length - 1]!;
  return { systems: ids, from: day(months[0]!, 1), to: day(last, last.days), format: 'parquet' as const };
}

/** The run w is measured on (and every other phase plans): July. */
const MEASURED_MONTHS = monthsOf(SCALE_PARAMS).slice(0, 1);
/** The run that only feeds the loader, after the measured one: August to October. */
const FEED_MONTHS = monthsOf(SCALE_PARAMS).slice(1);

/**
 * One cluster on a redis-server of its own: a planner and `workers` worker processes transform the
 * run (no loader: every load job waits). With `sink`, a second worker then transforms the feed run
 * ({@link FEED_MONTHS}, not measured), so that the loader has a long run to commit: the workers stop
 * and a loader alone commits the waiting load jobs of both runs. Resolves with the transform rate
 * (of the first run) and, with a sink, the load rate (of both).
 */
async function clusterRun(opts: {
  work: string;
  env: Record<string, string>;
  workers: number;
  systems: number;
  sink?: { kind: SinkKind; url: string };
}): Promise<{ transform: Rate; load?: Rate; cleanup?: Rate; readings: number }> {
  const dir = mkdtempSync(join(opts.work, 'cluster-'));
  const redis = await startRedis(dir);
  const env = {
    ...process.env,
    REDIS_URL: redis.url,
    PV_STAGING: `file://${join(dir, 'staging')}`,
    PV_SINK: opts.sink?.url ?? `duckdb://${join(dir, 'unused.duckdb')}`,
    PV_WORKER_THREADS: '1',
    PV_WORKER_CONCURRENCY: String(CONCURRENCY),
    PV_LOG_LEVEL: process.env.PV_BENCH_LOG ?? 'warn',
    ...opts.env,
  };
  const profile = process.env.PV_BENCH_PROFILE_DIR;
  const serve = (role: string): ChildProcess =>
    spawn(
      process.execPath,
      [...(profile && role === 'loader' ? ['--cpu-prof', `--cpu-prof-dir=${profile}`] : []), CLI, 'serve', role],
      { cwd: ROOT, env, stdio: ['ignore', 'ignore', 'inherit'] },
    );
  const conn = createRedisConnection(redis.url, { blocking: false });
  const queues = openQueues(conn, '{pv}', DEFAULT_TUNING);
  const runs = new RunStore(conn, '{pv}');
  const planner = serve('planner');
  const workers = Array.from({ length: opts.workers }, () => serve('worker'));
  const loaders: ChildProcess[] = [];
  const until = async (what: string, check: () => Promise<boolean>) => {
    const deadline = Date.now() + 1_800_000;
    while (!(await check())) {
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  };
  try {
    await until('the services', async () => (await queues.transform.getWorkersCount()) >= opts.workers);
    const request = runRequest(opts.systems);
    const id = `scale-${randomBytes(4).toString('hex')}`;
    const cpu = (procs: ChildProcess[]) => procs.reduce((s, p) => s + (processCpuSeconds(p.pid!) ?? 0), 0);
    const cpu0 = cpu(workers);
    const t0 = performance.now();
    await runs.create(id, request);
    await queues.plan.add(JOB_NAMES.plan, { runId: id, request }, { jobId: id });
    let transformed = 0;
    await until('the transforms', async () => {
      const r = await runs.get(id);
      if (r && r.counts.failed > 0) throw new Error(`transform failed: ${JSON.stringify(r.failures[0])}`);
      transformed = r?.counts.transformed ?? 0;
      return r?.planning.done === true && transformed >= r.counts.planned;
    });
    const transform = rate(transformed, (performance.now() - t0) / 1000, cpu(workers) - cpu0);
    if (!opts.sink) return { transform, readings: 0 };
    // the feed: more objects for the loader, transformed by two workers (one core each)
    workers.push(serve('worker'));
    await until('the second worker', async () => (await queues.transform.getWorkersCount()) >= 2);
    const feedId = `${id}-feed`;
    const feed = runRequest(opts.systems, FEED_MONTHS);
    await runs.create(feedId, feed);
    await queues.plan.add(JOB_NAMES.plan, { runId: feedId, request: feed }, { jobId: feedId });
    await until('the feed', async () => {
      const r = await runs.get(feedId);
      if (r && r.counts.failed > 0) throw new Error(`transform failed: ${JSON.stringify(r.failures[0])}`);
      return r?.planning.done === true && r.counts.transformed >= r.counts.planned;
    });
    await stopChildren(workers);
    const loader = serve('loader');
    loaders.push(loader);
    // from the loader's start (its sink opened): the ceiling of its commits alone
    await until('the loader', async () => (await queues.load.getWorkersCount()) >= 1);
    const l0 = performance.now();
    const lcpu0 = cpu(loaders);
    const both = async () => Promise.all([runs.get(id), runs.get(feedId)]);
    await until('the loads', async () => (await both()).every((r) => r !== null && isFinished(r.state)));
    const seconds = (performance.now() - l0) / 1000;
    const [run, fed] = (await both()) as [RunRecord, RunRecord];
    for (const r of [run, fed]) {
      if (r.state !== 'completed') throw new Error(`run ${r.state}: ${JSON.stringify(r.failures[0])}`);
    }
    const load = rate(run.counts.loaded + fed.counts.loaded, seconds, cpu(loaders) - lcpu0);
    if (!String(env.PV_STAGING).startsWith('gs://')) return { transform, load, readings: run.counts.readings };
    // gs://: the loader handed the committed files' deletion to the workers (cleanup jobs, one per batch);
    // one worker does it now, measured from when it is ready, so that w can count that work too
    await queues.cleanup.pause();
    const cleaner = serve('worker');
    workers.push(cleaner);
    await until('the cleaning worker', async () => (await queues.cleanup.getWorkersCount()) >= 1);
    const pending = await queues.cleanup.getJobs(['waiting', 'prioritized', 'delayed']);
    const files = pending.reduce((s, j) => s + j.data.staged.length, 0);
    const ccpu0 = cpu([cleaner]);
    const c0 = performance.now();
    await queues.cleanup.resume();
    await until('the cleanup', async () => {
      const c = await queues.cleanup.getJobCounts('waiting', 'prioritized', 'delayed', 'active', 'failed');
      if ((c.failed ?? 0) > 0) throw new Error('a cleanup job failed');
      return Object.values(c).every((n) => n === 0);
    });
    const cleanup = rate(files, (performance.now() - c0) / 1000, cpu([cleaner]) - ccpu0);
    return { transform, load, cleanup, readings: run.counts.readings };
  } finally {
    await queues.close();
    conn.disconnect();
    await stopChildren([planner, ...workers, ...loaders].filter((p) => p.exitCode === null));
    redis.child.kill('SIGKILL');
  }
}

/** P: plans `objects` synthetic keys with the real planner (its own process and redis-server). */
async function plannerCeiling(work: string, objects: number) {
  const redis = await startRedis(mkdtempSync(join(work, 'planner-')));
  try {
    const days = 1000;
    const out = execFileSync(
      join(ROOT, 'node_modules/.bin/tsx'),
      [
        'test/load/plan-synthetic.ts',
        '--redis',
        redis.url,
        '--systems',
        String(Math.ceil(objects / days)),
        '--days',
        String(days),
      ],
      { cwd: ROOT, maxBuffer: 1 << 20 },
    );
    return JSON.parse(out.toString().trim().split('\n').pop()!) as {
      planned: number;
      objectsPerSecond: number;
      planCpuSeconds: number;
      peakRssMb: number;
      redisPeakMb: number;
      redisBaseMb: number;
      peakQueued: number;
      redisCallsPerObject: number;
    };
  } finally {
    redis.child.kill('SIGKILL');
  }
}

/** Mean size of the run's objects in the mirror, bytes. */
function meanObjectBytes(mirror: string, systems: number): number {
  const sizes: number[] = [];
  const walk = (d: string) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.name.endsWith('.parquet')) sizes.push(statSync(p).size);
    }
  };
  const { year, month } = MEASURED_MONTHS[0]!;
  for (const s of systemsOf(SCALE_PARAMS).slice(0, systems)) {
    walk(join(mirror, `parquet/pvdata/system_id=${s.id}/year=${year}/month=${month}`));
  }
  return sizes.reduce((a, b) => a + b, 0) / sizes.length;
}

/** Objects/s of `processes` worker processes by the model (see the file's comment). */
function modelRate(w: number, processes: number, perObjectIoSeconds: number, cpuCeiling: number): number {
  const perProcess = CONCURRENCY / (CONCURRENCY / w + perObjectIoSeconds);
  return Math.min(processes * perProcess, cpuCeiling);
}

async function main(): Promise<void> {
  const args = readArgs();
  const mirror = scaleMirrorDir();
  await ensureMirror(mirror, SCALE_PARAMS, log);
  const work = mkdtempSync(join(tmpdir(), 'pv-scale-'));
  const s3 = await startS3Server();
  await s3.bucket('scale');
  await s3.bucket('scale-gcs');
  const load = (await import('node:os')).loadavg()[0]!;
  const s3Access = {
    S3_ENDPOINT: s3.endpoint,
    AWS_ACCESS_KEY_ID: S3RVER_CREDENTIALS.accessKeyId,
    AWS_SECRET_ACCESS_KEY: S3RVER_CREDENTIALS.secretAccessKey,
    AWS_REGION: 'us-east-1',
  };
  try {
    const source = { PV_SOURCE: `file://${mirror}` };
    const sinkUrl = (kind: SinkKind): string =>
      kind === 'duckdb'
        ? `duckdb://${join(work, `scale-${randomBytes(3).toString('hex')}.duckdb`)}?threads=1`
        : kind === 'parquet'
          ? `parquet://${join(work, `scale-${randomBytes(3).toString('hex')}-dataset`)}`
          : kind === 'parquet-s3'
            ? `parquet+s3://scale/dataset-${randomBytes(3).toString('hex')}`
            : `bigquery://bench/scale_${randomBytes(3).toString('hex')}`;
    const gcsStaging = {
      PV_STAGING: `gs://scale-gcs/${randomBytes(3).toString('hex')}`,
      GCS_ENDPOINT: s3.endpoint,
      GCS_HMAC_ACCESS_ID: S3RVER_CREDENTIALS.accessKeyId,
      GCS_HMAC_SECRET: S3RVER_CREDENTIALS.secretAccessKey,
    };
    const perSink = new Map<SinkKind, { transform: Rate; load: Rate; cleanup?: Rate; readings: number }>();
    for (const kind of args.sinks) {
      log(`w and L: ${kind}`);
      // a fake of its own per BigQuery run (it holds every loaded row in memory), reading gs:// from the s3rver
      const fake = kind.startsWith('bigquery')
        ? await startBigQueryFake(kind === 'bigquery-gcs' ? { gcsEndpoint: s3.endpoint } : {})
        : null;
      const r = await clusterRun({
        work,
        env: {
          ...source,
          ...(fake ? { BIGQUERY_API_ENDPOINT: fake.url } : {}),
          ...(kind === 'parquet-s3' ? s3Access : {}),
          ...(kind === 'bigquery-gcs' ? gcsStaging : {}),
        },
        workers: 1,
        systems: args.systems,
        sink: { kind, url: sinkUrl(kind) },
      }).finally(() => fake?.stop());
      perSink.set(kind, r as { transform: Rate; load: Rate; cleanup?: Rate; readings: number });
      log(
        `  w ${fmt(r.transform.perSecond, 1)}/s (${fmt(r.transform.cpu / r.transform.objects, 4)} CPU s/object), ` +
          `L ${fmt(r.load!.perSecond, 1)}/s (${fmt(r.load!.cpu / r.load!.objects, 4)} CPU s/object)` +
          (r.cleanup
            ? `, cleanup on a worker ${fmt(r.cleanup.perSecond, 1)} files/s (${fmt(r.cleanup.cpu / r.cleanup.objects, 4)} CPU s/file)`
            : ''),
      );
    }
    if (args.sinks.length < SINKS.length) return; // a subset (e.g. to profile a loader): w and L only, nothing written
    const readings = new Set([...perSink.values()].map((r) => r.readings));
    if (readings.size !== 1) throw new Error(`the sinks loaded different readings: ${[...readings].join(', ')}`);
    // w of the plain staging path (DuckDB and BigQuery sinks); a parquet:// sink's workers also write the readings files
    const w = median([perSink.get('duckdb')!, perSink.get('bigquery')!].map((r) => r.transform.perSecond));
    const cpuPerObject = median(
      [perSink.get('duckdb')!, perSink.get('bigquery')!].map((r) => r.transform.cpu / r.transform.objects),
    );
    log('2 workers, file://');
    const two = (await clusterRun({ work, env: source, workers: 2, systems: args.systems })).transform;

    log(`P: ${fmt(args.plannerObjects)} synthetic keys`);
    const p = await plannerCeiling(work, args.plannerObjects);

    log(`S3 through the fault proxy, +${args.latencyMs} ms a request`);
    let s3Runs: Array<{ workers: number; measured: Rate; predicted: number }> = [];
    let requestsPerObject = 0;
    try {
      // the measured month only: the runs through the proxy plan July
      const { year, month } = MEASURED_MONTHS[0]!;
      for (const s of systemsOf(SCALE_PARAMS).slice(0, args.systems)) {
        const folder = `parquet/pvdata/system_id=${s.id}/year=${year}/month=${month}`;
        await s3.uploadDir(join(mirror, folder), 'oedi', `pvdaq/${folder}`);
      }
      for (const dirName of readdirSync(join(mirror, 'parquet')).filter((d) => d !== 'pvdata'))
        await s3.uploadDir(join(mirror, 'parquet', dirName), 'oedi', `pvdaq/parquet/${dirName}`);
      for (const f of readdirSync(mirror).filter((n) => n !== 'parquet'))
        if (statSync(join(mirror, f)).isDirectory()) await s3.uploadDir(join(mirror, f), 'oedi', `pvdaq/${f}`);
      const proxy = await startS3FaultProxy({ target: s3.endpoint, latencyMs: args.latencyMs });
      try {
        const env = {
          PV_SOURCE: 's3://oedi/pvdaq',
          S3_ENDPOINT: proxy.url,
          AWS_ACCESS_KEY_ID: S3RVER_CREDENTIALS.accessKeyId,
          AWS_SECRET_ACCESS_KEY: S3RVER_CREDENTIALS.secretAccessKey,
          AWS_REGION: 'us-east-1',
        };
        for (const workers of [1, 2]) {
          const before = proxy.requests();
          const measured = (await clusterRun({ work, env, workers, systems: args.systems })).transform;
          requestsPerObject = (proxy.requests() - before) / measured.objects;
          const io = (requestsPerObject * args.latencyMs) / 1000;
          s3Runs.push({ workers, measured, predicted: modelRate(w, workers, io, two.perSecond) });
          log(`  ${workers} worker(s): ${fmt(measured.perSecond, 1)}/s`);
        }
      } finally {
        await proxy.stop();
      }
    } finally {
      await s3.stop();
    }
    s3Runs = s3Runs.sort((a, b) => a.workers - b.workers);

    const bytes = meanObjectBytes(mirror, args.systems);
    const archiveIo = (requestsPerObject * S3_MODEL.latencyMs) / 1000 + bytes / (S3_MODEL.bandwidthMBps * 1e6);
    // a pod is one worker process with a core of its own: no shared-core ceiling
    const podOf = (workerRate: number) => modelRate(workerRate, 1, archiveIo, Number.POSITIVE_INFINITY);
    const pod = podOf(w);
    const hours = (perSecond: number) => ARCHIVE_OBJECTS / perSecond / 3600;
    const commit = benchCommit();

    const sinkRows = SINKS.map((kind) => {
      const r = perSink.get(kind)!;
      // a worker is CPU-bound: the CPU it spends deleting staged files for the loader (gs://) slows its transforms
      // by that share (the deletes' waiting overlaps its transforms; the storage service's own work is not its)
      const transformCpu = r.transform.cpu / r.transform.objects;
      const cleanupCpu = r.cleanup ? r.cleanup.cpu / r.cleanup.objects : 0;
      const wSink = (r.transform.perSecond * transformCpu) / (transformCpu + cleanupCpu);
      const wText = r.cleanup
        ? `${fmt(wSink, 1)} with the cleanup (transform ${fmt(r.transform.perSecond, 1)}, ${fmt(r.transform.cpu / r.transform.objects, 3)} CPU s/object; cleanup ${fmt(r.cleanup.cpu / r.cleanup.objects, 4)} CPU s/object)`
        : `${fmt(r.transform.perSecond, 1)} (${fmt(r.transform.cpu / r.transform.objects, 3)} CPU s/object)`;
      const ceiling = Math.min(r.load.perSecond, p.objectsPerSecond);
      const bound = r.load.perSecond < p.objectsPerSecond ? 'L' : 'P';
      const sinkPod = podOf(wSink);
      const projection = [8, 32].map((n) => {
        const through = Math.min(n * sinkPod, ceiling);
        return `${fmt(hours(through), 1)} h${n * sinkPod > ceiling ? ` (${bound}-bound)` : ''}`;
      });
      // what the loader's own work allows: objects per CPU second of the loader process (all its threads)
      const perLoaderCpu = r.load.objects / r.load.cpu;
      return `| ${SINK_LABEL[kind]} | ${wText} | ${fmt(r.load.perSecond, 1)} (${fmt(r.load.cpu / r.load.objects, 4)} CPU s/object, busy ${fmt((100 * r.load.cpu) / r.load.seconds)} %) | ${fmt(ceiling / wSink, 1)} | ${fmt(perLoaderCpu)} (${fmt(Math.min(perLoaderCpu, p.objectsPerSecond) / wSink, 1)}) | ${projection.join(' | ')} |`;
    });

    const body = `## Scaling (\`npm run bench:scale\`)

Latest run, written by \`bench/run-scale-bench.ts\` (this section is replaced on every full run), at
commit ${commit}, load average ${load.toFixed(2)} at the start, on this 2-core machine. Objects: the first
${args.systems} systems of the bench mirror, ${perSink.get('duckdb')!.transform.objects} daily Parquet objects of ${fmt(perSink.get('duckdb')!.readings / perSink.get('duckdb')!.transform.objects)} readings
(${fmt(bytes / 1024)} KiB) each; every sink loaded the same ${fmt(perSink.get('duckdb')!.readings)} readings of them.

- **w** (one worker process alone, file://, 1 decoding thread, ${CONCURRENCY} jobs in flight): with the
  DuckDB and BigQuery sinks (staged columns) **${fmt(w, 1)} objects/s**, ${fmt(cpuPerObject, 3)} CPU s per object; with a
  Parquet dataset sink the workers also write the readings files, and on S3 they put them in the
  bucket themselves (table below; s3rver shares these 2 cores). Two worker processes on
  these 2 cores: ${fmt(two.perSecond, 1)} objects/s.
- **L** (the loader process alone, from its start): it commits the load jobs waiting for the measured
  run and for a feed run of the same systems' August to October (transformed before it starts, not
  measured): ${fmt(perSink.get('duckdb')!.load.objects)} objects in all, so that its steady rate, not its start and each run's
  dimension refresh and finalization, makes the figure.
- **P** (the real planner, ${fmt(p.planned)} synthetic keys, high-water mark 10,000): **${fmt(p.objectsPerSecond)} objects/s**,
  ${fmt((p.planCpuSeconds / p.planned) * 1000, 3)} CPU ms per object; planner peak RSS ${fmt(p.peakRssMb)} MB.
- **Redis cost per job:** ${fmt(p.redisCallsPerObject, 1)} commands per planned object (planning, the outcome
  and the job's own BullMQ commands of add and removal), and ${fmt(((p.redisPeakMb - p.redisBaseMb) * 1024) / p.peakQueued, 2)} KiB
  per queued job (Redis peak ${fmt(p.redisPeakMb, 1)} MB with ${fmt(p.peakQueued)} queued; it does not grow with the run).

| sink | w (objects/s) | L, loader alone (objects/s) | min(L, P) / w | objects per loader CPU s (its min with P, / w) | archive, 8 worker pods | archive, 32 worker pods |
|---|---|---|---|---|---|---|
${sinkRows.join('\n')}

The archive: ${fmt(ARCHIVE_OBJECTS)} daily objects (~157 systems × 15 years). A worker pod is one worker
process with a core of its own; in-region S3 is modelled as ${S3_MODEL.latencyMs} ms per request and
${S3_MODEL.bandwidthMBps} MB/s per pod, with ${fmt(requestsPerObject, 2)} requests per object (measured through
the proxy below), so a pod does ${fmt(pod, 1)} objects/s (staged columns). "L-bound" marks a projection the loader caps.

"busy" is the loader process's CPU time over L's wall time (all its threads). The BigQuery fake runs
BigQuery's share of the work (reading the files, the staging table, the commit script over every
row) in the bench process, on the same 2 cores: where the loader is mostly idle, L is the fake's
ingest rate, not the loader's. "Objects per loader CPU s" is what the loader's own work allows when
the warehouse does its share on machines of its own, as BigQuery does. With \`gs://\` staging the
loader deletes no staged file: each committed batch's files go to the workers as one cleanup job
(Cloud Storage's XML API deletes one file per request). After L, one worker process runs those jobs
alone, measured; a worker being CPU-bound, its CPU per deleted file slows its transforms by that
share (w × transform CPU / (transform CPU + cleanup CPU)), so w of that row counts the work the
loader handed over.

**The model, checked** against worker processes reading from s3rver through the S3 fault proxy
with ${args.latencyMs} ms added to every request (${fmt(requestsPerObject, 2)} requests per object):

| workers | measured (objects/s) | model (objects/s) | measured / model |
|---|---|---|---|
${s3Runs.map((r) => `| ${r.workers} | ${fmt(r.measured.perSecond, 1)} | ${fmt(r.predicted, 1)} | ${fmt(r.measured.perSecond / r.predicted, 2)} |`).join('\n')}
`;
    console.log(body);
    if (args.write) writeResultsSection(join(BENCH_DIR, 'RESULTS.md'), 'scale', body);
  } finally {
    await s3.stop().catch(() => undefined);
    rmSync(work, { recursive: true, force: true });
  }
}

await main();
