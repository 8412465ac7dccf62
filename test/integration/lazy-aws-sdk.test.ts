import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { S3RVER_CREDENTIALS } from '../support/s3-server.js';

const ROOT = path.resolve(import.meta.dirname, '../..');
const CLI = path.join(ROOT, 'bin/pv-pipeline.js');

/**
 * An `--import` hook for the child: at exit it writes the `@aws-sdk/*`
 * packages whose modules were loaded (one per line) to the file in
 * `PV_TEST_LOADED_OUT`.
 */
const HOOK = `data:text/javascript,${encodeURIComponent(`
import { registerHooks } from 'node:module';
import { writeFileSync } from 'node:fs';
const seen = new Set();
registerHooks({ load(url, context, next) {
  const m = /node_modules\\/(@aws-sdk\\/[^/]+)\\//.exec(url);
  if (m) seen.add(m[1]);
  return next(url, context);
} });
process.on('exit', () => writeFileSync(process.env.PV_TEST_LOADED_OUT, [...seen].sort().join('\\n')));
`)}`;

/** Runs the built CLI with the hook; its exit code and the SDK packages it loaded. */
async function runCli(
  args: string[],
  dir: string,
  env: Record<string, string> = {},
): Promise<{ code: number; stderr: string; sdk: string[] }> {
  const out = path.join(dir, `loaded-${Math.random().toString(36).slice(2)}.txt`);
  const { code, stderr } = await new Promise<{ code: number; stderr: string }>((resolve) => {
    execFile(
      process.execPath,
      ['--import', HOOK, CLI, ...args],
      { cwd: ROOT, env: { ...process.env, ...env, PV_TEST_LOADED_OUT: out } },
      (err, _stdout, stderr) => resolve({ code: err ? Number(err.code ?? 1) : 0, stderr }),
    );
  });
  const text = await readFile(out, 'utf8');
  return { code, stderr, sdk: text === '' ? [] : text.split('\n') };
}

describe('the AWS SDK is loaded only by runs that reach S3', () => {
  let dir: string;
  let server: Server;
  let endpoint: string;

  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'pv-lazy-sdk-'));
    // an S3-compatible endpoint that refuses every request, as S3 does without access
    server = createServer((_req, res) => {
      res.writeHead(403, { 'content-type': 'application/xml' });
      res.end('<?xml version="1.0"?><Error><Code>AccessDenied</Code><Message>Access Denied</Message></Error>');
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });

  /** `pv-pipeline run` of every system's daily Parquet from `source` into the DuckDB file `db` in `dir`. */
  const runArgs = (source: string, db: string) => [
    'run',
    '--source',
    source,
    '--systems',
    'all',
    '--format',
    'parquet',
    '--from',
    '2010-01-01',
    '--to',
    '2025-12-31',
    '--sink',
    `duckdb://${path.join(dir, db)}`,
  ];

  afterAll(async () => {
    await new Promise((resolve) => server.close(resolve));
    await rm(dir, { recursive: true, force: true });
  });

  it('a run from a file:// mirror into DuckDB loads none of it', async () => {
    const source = `file://${path.join(ROOT, 'samples/pvdaq')}`;
    const r = await runCli([...runArgs(source, 'w.duckdb'), '--json'], dir);
    expect(r.stderr).not.toMatch(/failed/);
    expect(r.code).toBe(0);
    expect(r.sdk).toEqual([]);
  });

  it('a run from s3:// loads the S3 client, and fails naming the refusal', async () => {
    const r = await runCli(
      [...runArgs('s3://some-bucket/pvdaq', 's3.duckdb'), '--s3-endpoint', endpoint],
      dir,
      // the test server's keys (it refuses them anyway)
      { AWS_ACCESS_KEY_ID: S3RVER_CREDENTIALS.accessKeyId, AWS_SECRET_ACCESS_KEY: S3RVER_CREDENTIALS.secretAccessKey },
    );
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/access denied/i);
    expect(r.sdk).toContain('@aws-sdk/client-s3');
  });
});
