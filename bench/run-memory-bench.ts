/**
 * `npm run bench:memory`: peak RSS of whole `pv-pipeline run` processes, as a
 * user starts them (`npm run pv-pipeline -- run …`: node with the CLI's flags),
 * into DuckDB, by input size: prize CSVs of `--mb` MiB each (default 100, 500
 * and 1024) and the whole bench mirror (992 daily Parquet objects). Shows
 * whether memory grows with the input.
 *
 *   npm run bench:memory -- [--mb 100,500,1024] [--memory-limit SIZE] [--no-write]
 *
 * `--memory-limit` runs with the sink URL's `?memory_limit=SIZE` instead of the default
 * (48MB) and writes its own section ("memory-SIZE"), so both stay side by side.
 *
 * Peak RSS is the child's VmHWM (/proc/PID/status), read every 50 ms until it
 * exits (a high-water mark: a late read still sees an earlier peak). CPU is the
 * child's user + system time. The prize files are generated under
 * `bench/data/prize-memory/` (reused when the size matches).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { readFileSync, rmSync, statSync } from 'node:fs';
import { loadavg } from 'node:os';
import { dirname, join } from 'node:path';
import { parseArgs } from 'node:util';
import { BENCH_DIR, ensureMirror, FULL_PARAMS, mirrorDir } from './generate-mirror.js';
import { benchCommit, processCpuSeconds } from './measure.js';
import { ensurePrizeFile } from './prize-file.js';
import { writeResultsSection } from './results-section.js';

const ROOT = join(BENCH_DIR, '..');
const MiB = 1024 * 1024;
/** The CLI, started by its shebang line, as `npx pv-pipeline` starts it (node flags and malloc arenas). */
const CLI = join(ROOT, 'bin/pv-pipeline.js');
const SHEBANG = readFileSync(CLI, 'utf8').split('\n')[0]!;

interface RunMeasure {
  wallSeconds: number;
  cpuSeconds: number;
  peakRssBytes: number;
  readings: number;
}

/** The child's VmHWM in bytes, or null once it is gone. */
function vmHwm(pid: number): number | null {
  try {
    const kb = /^VmHWM:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1];
    return kb ? Number(kb) * 1024 : null;
  } catch {
    return null;
  }
}

/** Runs `pv-pipeline run …` with `args` into a fresh DuckDB file and measures it. */
async function measureRun(args: string[], sink: string): Promise<RunMeasure> {
  const db = sink.replace(/\?.*$/, '');
  for (const suffix of ['', '.wal']) rmSync(`${db}${suffix}`, { force: true });
  const t0 = performance.now();
  // env(1) execs node in place: the pid stays the one measured
  const child: ChildProcess = spawn(CLI, ['run', ...args, '--sink', `duckdb://${sink}`, '--json'], {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'inherit'],
    env: { ...process.env, PATH: `${dirname(process.execPath)}:${process.env.PATH ?? ''}` },
  });
  let stdout = '';
  child.stdout!.on('data', (d) => (stdout += d));
  let peak = 0;
  let cpu = 0;
  const sample = () => {
    peak = Math.max(peak, vmHwm(child.pid!) ?? 0);
    cpu = processCpuSeconds(child.pid!) ?? cpu;
  };
  const timer = setInterval(sample, 50);
  const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
  clearInterval(timer);
  if (code !== 0) throw new Error(`pv-pipeline run ${args.join(' ')} exited ${code}`);
  const summary = JSON.parse(stdout) as { counts: { readings: number; failed: number } };
  if (summary.counts.failed > 0) throw new Error(`pv-pipeline run ${args.join(' ')}: ${summary.counts.failed} failed`);
  return {
    wallSeconds: (performance.now() - t0) / 1000,
    cpuSeconds: cpu,
    peakRssBytes: peak,
    readings: summary.counts.readings,
  };
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      mb: { type: 'string', default: '100,500,1024' },
      'memory-limit': { type: 'string' },
      'no-write': { type: 'boolean', default: false },
    },
  });
  const sizes = values.mb.split(',').map((s) => Number(s.trim()));
  if (sizes.some((n) => !(n > 0))) throw new Error(`--mb: "${values.mb}" is not a list of sizes in MiB`);
  const load = loadavg()[0]!;
  const limit = values['memory-limit'];
  if (limit !== undefined && !/^\d+(\.\d+)?[KMGT]i?B$/i.test(limit))
    throw new Error(`--memory-limit: "${limit}" is not a size like 32MB`);
  const db = join(BENCH_DIR, 'out', 'memory.duckdb');
  const sink = limit ? `${db}?memory_limit=${limit}` : db;
  const rows: string[] = [];
  const row = (input: string, m: RunMeasure) =>
    `| ${input} | ${m.readings.toLocaleString('en-US')} | ${m.wallSeconds.toFixed(1)} | ${m.cpuSeconds.toFixed(1)} | **${(m.peakRssBytes / MiB).toFixed(0)} MiB** |`;

  const mirror = mirrorDir(false);
  await ensureMirror(mirror, FULL_PARAMS, (s) => console.log(s));
  console.log('whole bench mirror (daily Parquet) …');
  const daily = await measureRun(
    [
      '--source',
      `file://${mirror}`,
      '--systems',
      'all',
      '--format',
      'parquet',
      '--from',
      '2023-01-01',
      '--to',
      '2023-12-31',
    ],
    sink,
  );
  rows.push(row('bench mirror, 992 daily Parquet objects (145 MB)', daily));
  console.log(rows.at(-1));
  for (const size of sizes) {
    const root = join(BENCH_DIR, 'data', 'prize-memory');
    const csv = await ensurePrizeFile(root, size);
    console.log(`prize CSV of ${size} MiB …`);
    const m = await measureRun(['--source', `file://${root}`, '--systems', 'all', '--format', 'prize'], sink);
    rows.push(row(`prize CSV, ${(statSync(csv).size / MiB).toFixed(0)} MiB`, m));
    console.log(rows.at(-1));
  }
  rmSync(db, { force: true });
  const commit = benchCommit();
  const body = `## Peak RSS of a CLI run by input size (\`npm run bench:memory${limit ? ` -- --memory-limit ${limit}` : ''}\`)

Latest run, written by \`bench/run-memory-bench.ts\`, at commit ${commit}, node ${process.version}, load average
${load.toFixed(2)} at the start, on this 2-core machine. Each row is one whole \`pv-pipeline run … --sink duckdb://…\`
process started by the CLI's own first line (\`${SHEBANG}\`), ${limit ? `the sink at \`?memory_limit=${limit}\`, defaults otherwise` : 'defaults otherwise'}; peak RSS is its VmHWM.

| input | readings loaded | wall s | CPU s | peak RSS |
|---|---:|---:|---:|---:|
${rows.join('\n')}
`;
  console.log(body);
  if (!values['no-write'])
    writeResultsSection(join(BENCH_DIR, 'RESULTS.md'), limit ? `memory-${limit}` : 'memory', body);
}

await main();
