/**
 * A real s3rver (3.7.1) running as a child process, for integration tests.
 *
 * ```ts
 * const s3 = await startS3Server();
 * await s3.uploadDir('samples/pvdaq', 'oedi', 'pvdaq');   // creates the bucket too
 * const store = new S3ObjectStore({ bucket: 'oedi', prefix: 'pvdaq', endpoint: s3.endpoint,
 *                                   credentials: S3RVER_CREDENTIALS });
 * …
 * await s3.stop();
 * ```
 *
 * The child runs `node --openssl-legacy-provider …/s3rver/bin/s3rver.js` (the
 * flag makes paginated ListObjectsV2 work: s3rver encrypts continuation tokens
 * with DES), binds 127.0.0.1 on a free port and stores its data in a fresh temp
 * directory that {@link S3Server.stop} removes. The helper's own client sends
 * Buffer bodies with `requestChecksumCalculation: 'WHEN_REQUIRED'` (streams
 * with aws-chunked encoding would be stored with their chunk framing).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { CreateBucketCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';

/** s3rver's fixed test account; never real credentials. */
export const S3RVER_CREDENTIALS = { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' } as const;

/** A running s3rver child process. */
export interface S3Server {
  /** `http://127.0.0.1:PORT` */
  readonly endpoint: string;
  /** The child's pid. */
  readonly pid: number;
  /** Creates a bucket (no error when it already exists). */
  bucket(name: string): Promise<void>;
  /**
   * Creates `bucket` and uploads every file under `localDir` (recursively) as
   * `${prefix}/${relative path}` (`prefix` may be ''), `concurrency` at a time
   * (default 32). Returns the number of objects uploaded.
   */
  uploadDir(localDir: string, bucket: string, prefix: string, concurrency?: number): Promise<number>;
  /** Stores one object (a Buffer body, so the bytes are stored verbatim). */
  putObject(bucket: string, key: string, body: string | Uint8Array): Promise<void>;
  /** Stores many objects, `concurrency` at a time (default 32). */
  putObjects(
    bucket: string,
    objects: Iterable<{ key: string; body: string | Uint8Array }>,
    concurrency?: number,
  ): Promise<number>;
  /** A client for this server (S3RVER credentials, path style, WHEN_REQUIRED checksums). */
  readonly client: S3Client;
  /** Kills the child (SIGTERM, then SIGKILL after 3 s) and removes its data directory. */
  stop(): Promise<void>;
}

/** Options of {@link startS3Server}. */
export interface StartS3ServerOptions {
  /** Milliseconds to wait for the server to answer. Default 15 000. */
  readyTimeoutMs?: number;
}

/** A port that was free a moment ago on 127.0.0.1. */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

function s3rverBin(): string {
  const require = createRequire(import.meta.url);
  return path.join(path.dirname(require.resolve('s3rver/package.json')), 'bin', 's3rver.js');
}

/** Runs `fn` over `items` with at most `limit` in flight; rejects on the first failure. */
export async function mapLimit<T>(items: Iterable<T>, limit: number, fn: (item: T) => Promise<void>): Promise<number> {
  const iterator = items[Symbol.iterator]();
  let count = 0;
  let failed = false;
  const worker = async () => {
    while (!failed) {
      const next = iterator.next();
      if (next.done) return;
      try {
        await fn(next.value);
        count++;
      } catch (err) {
        failed = true;
        throw err;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, limit) }, worker));
  return count;
}

async function listFiles(dir: string, rel = ''): Promise<string[]> {
  const out: string[] = [];
  for (const entry of await readdir(path.join(dir, rel), { withFileTypes: true })) {
    const child = rel ? `${rel}/${entry.name}` : entry.name;
    if (entry.isDirectory()) out.push(...(await listFiles(dir, child)));
    else if (entry.isFile()) out.push(child);
  }
  return out;
}

function exitPromise(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) resolve();
    else child.once('exit', () => resolve());
  });
}

/** Polls the endpoint until any HTTP answer arrives, the child dies or the time is up. */
async function waitUntilReady(
  endpoint: string,
  child: ChildProcess,
  stderr: () => string,
  timeoutMs: number,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let lastError = '';
  while (Date.now() < deadline) {
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(`s3rver exited (${child.exitCode ?? child.signalCode}) before it was ready: ${stderr()}`);
    }
    try {
      const res = await fetch(`${endpoint}/`, { signal: AbortSignal.timeout(1000) });
      await res.arrayBuffer();
      return; // any HTTP status means the server is listening
    } catch (err) {
      lastError = (err as Error).message;
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`s3rver did not answer at ${endpoint} within ${timeoutMs} ms (${lastError}): ${stderr()}`);
}

/** Starts s3rver on 127.0.0.1 and a free port; retries with another port if the first is taken. */
export async function startS3Server(options: StartS3ServerOptions = {}): Promise<S3Server> {
  const timeoutMs = options.readyTimeoutMs ?? 15_000;
  const dataDir = await mkdtemp(path.join(tmpdir(), 's3rver-'));
  let lastError: unknown;
  for (let attempt = 0; attempt < 3; attempt++) {
    const port = await freePort();
    const endpoint = `http://127.0.0.1:${port}`;
    const child = spawn(
      process.execPath,
      ['--openssl-legacy-provider', s3rverBin(), '-d', dataDir, '-a', '127.0.0.1', '-p', String(port), '--silent'],
      { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, NODE_OPTIONS: '' } },
    );
    let stderr = '';
    child.stderr?.setEncoding('utf8');
    child.stderr?.on('data', (d: string) => {
      if (stderr.length < 10_000) stderr += d;
    });
    try {
      await waitUntilReady(endpoint, child, () => stderr.trim(), timeoutMs);
      return makeServer(endpoint, child, dataDir);
    } catch (err) {
      lastError = err;
      child.kill('SIGKILL');
      await exitPromise(child);
      if (!/EADDRINUSE/.test(stderr)) break;
    }
  }
  await rm(dataDir, { recursive: true, force: true });
  throw lastError;
}

function makeServer(endpoint: string, child: ChildProcess, dataDir: string): S3Server {
  const client = new S3Client({
    region: 'us-east-1',
    endpoint,
    forcePathStyle: true,
    credentials: S3RVER_CREDENTIALS,
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
    maxAttempts: 3,
  });
  const created = new Set<string>();
  let stopped: Promise<void> | undefined;
  // Never leave the child behind if the test process exits without calling stop().
  const killOnExit = () => child.kill('SIGKILL');
  process.once('exit', killOnExit);

  const bucket = async (name: string) => {
    if (created.has(name)) return;
    try {
      await client.send(new CreateBucketCommand({ Bucket: name }));
    } catch (err) {
      const code = (err as { name?: string }).name;
      if (code !== 'BucketAlreadyOwnedByYou' && code !== 'BucketAlreadyExists') throw err;
    }
    created.add(name);
  };
  const putObject = async (bucketName: string, key: string, body: string | Uint8Array) => {
    const bytes =
      typeof body === 'string' ? Buffer.from(body, 'utf8') : Buffer.from(body.buffer, body.byteOffset, body.byteLength);
    await client.send(new PutObjectCommand({ Bucket: bucketName, Key: key, Body: bytes, ContentLength: bytes.length }));
  };
  const putObjects = async (
    bucketName: string,
    objects: Iterable<{ key: string; body: string | Uint8Array }>,
    concurrency = 32,
  ) => {
    await bucket(bucketName);
    return mapLimit(objects, concurrency, (o) => putObject(bucketName, o.key, o.body));
  };
  const uploadDir = async (localDir: string, bucketName: string, prefix: string, concurrency = 32) => {
    await bucket(bucketName);
    const root = prefix.replace(/^\/+|\/+$/g, '');
    const files = await listFiles(localDir);
    return mapLimit(files, concurrency, async (rel) => {
      await putObject(bucketName, root ? `${root}/${rel}` : rel, await readFile(path.join(localDir, rel)));
    });
  };
  const stop = () => {
    stopped ??= (async () => {
      process.removeListener('exit', killOnExit);
      client.destroy();
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
        const killer = setTimeout(() => child.kill('SIGKILL'), 3000);
        await exitPromise(child);
        clearTimeout(killer);
      }
      await rm(dataDir, { recursive: true, force: true });
    })();
    return stopped;
  };

  return { endpoint, pid: child.pid ?? -1, bucket, uploadDir, putObject, putObjects, client, stop };
}
