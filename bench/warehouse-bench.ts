/**
 * What the warehouse benches share (`bench:report`, `bench:export`): the
 * benchmark warehouse, a child process measured whole (wall, CPU, peak RSS),
 * medians and the ratio table.
 */
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createLogger } from '@pv-pipeline/core';
import { openObjectStore } from '@pv-pipeline/pvdaq';
import { openSink } from '@pv-pipeline/sinks';
import { runInline, validateRunRequest } from '@pv-pipeline/stages';
import { BENCH_DIR, ensureMirror, FULL_PARAMS, mirrorDir } from './generate-mirror.js';
import { median } from './measure.js';

/** The repository root. */
export const ROOT = join(BENCH_DIR, '..');
/** The benchmark warehouse: the mirror loaded by the pipeline (bench/out/pipeline.duckdb). */
export const WAREHOUSE = join(BENCH_DIR, 'out', 'pipeline.duckdb');

/** The arguments of a warehouse bench. */
export interface Args {
  repeat: number;
  write: boolean;
}

/** `--repeat N` (default 5) and `--no-write`. */
export function parseArgs(argv: string[]): Args {
  const args: Args = { repeat: 5, write: true };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--repeat') args.repeat = Number(argv[++i]);
    else if (a === '--no-write') args.write = false;
    else throw new Error(`unknown argument ${a}`);
  }
  if (!(args.repeat >= 1)) throw new Error('--repeat must be at least 1');
  return args;
}

/** What one child process cost. */
export interface ProcessCost {
  wall: number;
  cpu: number;
  peakRssMb: number;
}

const CLK_TCK = 100;

/** Runs a child to its end, sampling its VmHWM and reading its CPU from /proc before it is reaped. */
export function measureChild(args: string[]): Promise<ProcessCost> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const child = spawn(process.execPath, args, { cwd: ROOT, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d) => (stderr += d));
    let hwm = 0;
    let cpu = 0;
    const sample = () => {
      try {
        const status = readFileSync(`/proc/${child.pid}/status`, 'utf8');
        hwm = Math.max(hwm, Number(/^VmHWM:\s+(\d+)/m.exec(status)?.[1] ?? 0) * 1024);
        const stat = readFileSync(`/proc/${child.pid}/stat`, 'utf8');
        const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
        cpu = Math.max(cpu, (Number(f[11]) + Number(f[12])) / CLK_TCK);
      } catch {
        // gone between samples
      }
    };
    const timer = setInterval(sample, 20);
    child.on('error', reject);
    child.on('exit', (code) => {
      clearInterval(timer);
      if (code !== 0) reject(new Error(`${args.join(' ')} exited ${code}\n${stderr}`));
      else resolve({ wall: (performance.now() - started) / 1000, cpu, peakRssMb: hwm / 1024 / 1024 });
    });
  });
}

/** Generates the mirror and loads it into {@link WAREHOUSE} when that is absent. */
export async function ensureWarehouse(log: (m: string) => void): Promise<void> {
  if (existsSync(WAREHOUSE)) return;
  const dir = mirrorDir(false);
  await ensureMirror(dir, FULL_PARAMS, log);
  log(`loading the mirror into ${WAREHOUSE} …`);
  const store = openObjectStore(`file://${dir}`);
  const sink = openSink(`duckdb://${WAREHOUSE}`);
  await sink.init();
  try {
    await runInline({
      request: validateRunRequest({ systems: 'all', from: '2023-07-01', to: '2023-07-31', format: 'parquet' }),
      store,
      sink,
      logger: createLogger({ service: 'bench' }, { level: 'warn' }),
    });
  } finally {
    await sink.close();
    await store.close();
  }
}

export { median };

/** The table rows (wall, CPU, peak RSS) of medians and their ratio. */
export function ratioRows(subject: ProcessCost[], reference: ProcessCost[]): string[] {
  const m = (xs: ProcessCost[], k: keyof ProcessCost) => median(xs.map((x) => x[k]));
  return (['wall', 'cpu', 'peakRssMb'] as const).map((k) => {
    const a = m(subject, k);
    const b = m(reference, k);
    const unit = k === 'peakRssMb' ? 'MB' : 's';
    const label = { wall: 'wall time', cpu: 'CPU (user + system)', peakRssMb: 'peak RSS' }[k];
    return `| ${label} | ${a.toFixed(k === 'peakRssMb' ? 0 : 2)} ${unit} | ${b.toFixed(k === 'peakRssMb' ? 0 : 2)} ${unit} | ${(a / b).toFixed(2)}× |`;
  });
}
