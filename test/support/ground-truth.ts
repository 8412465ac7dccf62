import { expect } from 'vitest';
import { runCli } from './cli.js';

/**
 * The ground truth of a cluster test: `pv-pipeline run` inline (one process,
 * no Redis) over `sourceDir` for the days `from`–`to`, into the DuckDB file
 * `db`. Fails the test unless the run exits 0.
 */
export async function inlineRun(sourceDir: string, from: string, to: string, db: string): Promise<void> {
  const r = await runCli(
    ['run', '--source', `file://${sourceDir}`, '--from', from, '--to', to, '--sink', `duckdb://${db}`, '--json'],
    { timeoutMs: 300_000 },
  );
  expect(r.code, r.stderr).toBe(0);
}
