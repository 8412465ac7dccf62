import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROOT, runCli, SAMPLE_MIRROR } from '../support/cli.js';
import { query } from '../support/duckdb.js';
import { startSlurm, type TestSlurm } from '../support/slurm.js';
import { waitFor } from '../support/wait-for.js';

/**
 * `sbatch slurm/pv-run.sbatch` on a real one-node Slurm cluster (slurmctld,
 * slurmd, munge): the whole load as one job, the same rows as a local run,
 * the run's record and exit code as `pv-pipeline run --json`; and a job
 * cancelled while its services run stops them in time, leaving the node
 * usable (never DRAIN) and no process behind.
 */
const RANGE = ['--source', `file://${SAMPLE_MIRROR}`, '--systems', 'all', '--format', 'parquet'];
const DAYS = ['--from', '2010-01-01', '--to', '2025-12-31'];
const ROWS =
  'SELECT ss_id, timestamp, sensor, metric_id, units, value, measured_on, source_key FROM pv_readings ORDER BY ALL';

describe('slurm/pv-run.sbatch', () => {
  let slurm: TestSlurm;
  let work: string;

  beforeAll(async () => {
    slurm = await startSlurm();
    work = mkdtempSync(join(tmpdir(), 'pv-sbatch-'));
  }, 120_000);

  afterAll(() => {
    slurm?.destroy();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  const pvProcesses = () => {
    try {
      return execFileSync('pgrep', ['-f', `${ROOT}bin/pv-pipeline.js serve`], { encoding: 'utf8' }).trim();
    } catch {
      return ''; // pgrep exits 1 when nothing matches
    }
  };

  it('runs a whole load as one job: the rows of a local run, its record on stdout, exit 0', async () => {
    const db = join(work, 'slurm.duckdb');
    const local = join(work, 'local.duckdb');
    const out = join(work, 'job-%j.out');
    const submitted = slurm.run(
      'sbatch',
      [
        '--parsable',
        '--wait',
        '--ntasks=3',
        '--overcommit',
        `--output=${out}`,
        join(ROOT, 'slurm/pv-run.sbatch'),
        ...RANGE,
        ...DAYS,
        '--sink',
        `duckdb://${db}`,
      ],
      { cwd: work, env: { PV_PIPELINE_ROOT: ROOT, PV_NODE: process.execPath } },
    );
    const jobId = submitted.trim().split(';')[0]!;
    const log = readFileSync(join(work, `job-${jobId}.out`), 'utf8');
    // the run's record, as `run --json` prints it
    const all = log.split('\n');
    const start = all.indexOf('{');
    const record = JSON.parse(all.slice(start, all.indexOf('}', start) + 1).join('\n'));
    expect(record.state, log.slice(-3000)).toBe('completed');
    expect(record.counts).toMatchObject({ planned: 34, loaded: 34, failed: 0, readings: 17_426 });
    // every service step logged its node and task
    const lines = log.split('\n').filter((l) => l.startsWith('{'));
    for (const role of ['loader', 'planner', 'api', 'worker']) {
      expect(
        lines.some((l) => l.includes(`"service":"${role}"`) && /"node":"[^"]+","task":\d+/.test(l)),
        role,
      ).toBe(true);
    }
    // stopped in order by SIGTERM to each step (workers, head, Redis), each service saying so
    const stopped = lines.filter((l) => l.includes('"msg":"stopped"')).map((l) => JSON.parse(l).service);
    expect(stopped).toEqual(['worker', 'worker', 'api,planner,loader']);
    expect(record.recorded).toBe(true);
    const r = await runCli(['run', ...RANGE, ...DAYS, '--sink', `duckdb://${local}`]);
    expect(r.code, r.stderr).toBe(0);
    expect(await query(db, ROWS)).toEqual(await query(local, ROWS));
    expect(slurm.nodeState()).toBe('idle');
    expect(pvProcesses()).toBe('');
  }, 300_000);

  it('a cancelled job stops its services in time: the node stays usable and nothing is left running', async () => {
    const db = join(work, 'cancelled.duckdb');
    const jobId = slurm
      .run(
        'sbatch',
        [
          '--parsable',
          '--ntasks=3',
          '--overcommit',
          `--output=${join(work, 'cancel-%j.out')}`,
          join(ROOT, 'slurm/pv-run.sbatch'),
          ...RANGE,
          ...DAYS,
          '--sink',
          `duckdb://${db}`,
        ],
        // a long grace: only a prompt exit keeps the node out of DRAIN (UnkillableStepTimeout 60 s)
        { cwd: work, env: { PV_PIPELINE_ROOT: ROOT, PV_NODE: process.execPath, PV_SHUTDOWN_GRACE_MS: '30000' } },
      )
      .trim()
      .split(';')[0]!;
    const logFile = join(work, `cancel-${jobId}.out`);
    // cancelled once its services are up and the run is triggered
    const said = (msg: string) =>
      existsSync(logFile)
        ? readFileSync(logFile, 'utf8')
            .split('\n')
            .filter((l) => l.startsWith('{') && l.includes(`"msg":"${msg}"`))
            .map((l) => JSON.parse(l).service as string)
            .sort()
        : [];
    // cancelled once every service has started (the head and both workers) and the run is triggered
    await waitFor(() => said('started').length === 3 && readFileSync(logFile, 'utf8').includes('triggering the run'), {
      timeoutMs: 120_000,
      what: 'the job to start its services',
    });
    slurm.run('scancel', [jobId]);
    await waitFor(() => slurm.run('squeue', ['-h', '-j', jobId]).trim() === '', {
      timeoutMs: 180_000,
      what: 'the cancelled job to leave the queue',
    });
    const log = readFileSync(logFile, 'utf8');
    expect(slurm.nodeState(), log.slice(-3000)).toBe('idle');
    await waitFor(() => pvProcesses() === '', { timeoutMs: 60_000, what: 'no pv-pipeline service left' });
    // each service stopped on Slurm's SIGTERM, none waited for its SIGKILL: the head and both workers said so
    expect(said('stopped'), log.slice(-3000)).toEqual(['api,planner,loader', 'worker', 'worker']);
  }, 300_000);
});
