import { spawn } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** Repository root. */
export const ROOT = fileURLToPath(new URL('../..', import.meta.url));
/** The sample mirror in the PVDAQ layout. */
export const SAMPLE_MIRROR = `${ROOT}samples/pvdaq`;

/** How many daily Parquet objects the sample mirror holds (counted from its files). */
export function sampleParquetObjects(): number {
  return readdirSync(join(SAMPLE_MIRROR, 'parquet/pvdata'), { recursive: true }).filter((f) =>
    String(f).endsWith('.parquet'),
  ).length;
}

/** Result of one CLI invocation. */
export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs `pv-pipeline …` as a child process (as a user would), with a bounded wait. */
export function runCli(
  args: string[],
  options: { env?: NodeJS.ProcessEnv; timeoutMs?: number } = {},
): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [`${ROOT}bin/pv-pipeline.js`, ...args], {
      cwd: ROOT,
      env: { ...process.env, ...options.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(
        new Error(`pv-pipeline ${args.join(' ')} did not finish in ${options.timeoutMs ?? 120_000} ms\n${stderr}`),
      );
    }, options.timeoutMs ?? 120_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/**
 * Loads every system of the sample mirror inline (`pv-pipeline run`) into `sinkUrl`: the reference a
 * cluster's result is compared with. Fails the test, with the CLI's stderr, unless it exits 0.
 */
export async function runSamplesInline(sinkUrl: string): Promise<void> {
  const range = ['--from', '2010-01-01', '--to', '2025-12-31'];
  const r = await runCli([
    'run',
    '--source',
    `file://${SAMPLE_MIRROR}`,
    '--systems',
    'all',
    ...range,
    '--sink',
    sinkUrl,
  ]);
  if (r.code !== 0) throw new Error(`inline run into ${sinkUrl} exited ${r.code}:\n${r.stderr}`);
}
