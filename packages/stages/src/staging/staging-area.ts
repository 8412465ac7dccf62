import { randomBytes } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdir, mkdtemp, rename, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import {
  BadInputError,
  fsyncDir,
  fsyncFile,
  PermanentError,
  type PipelineError,
  RetryableError,
} from '@pv-pipeline/core';

/** Local copies of staged files for a sink commit; `release` removes what was downloaded. */
export interface LocalCopies {
  /** The local path of a staged reference. */
  path(ref: string): string;
  /** Whether the files at those paths are synced to disk (a durable staging folder), so that a sink linking one need not sync it again. */
  readonly synced: boolean;
  release(): Promise<void>;
}

/**
 * Where workers put normalized rows for the loader: one Parquet file per
 * source object, named from its (key, ETag) so that a redone transform writes
 * the same file, never visible under its final name half-written, and durable
 * once written (a crash after the worker reported it does not lose it).
 * Implementations: a local or shared directory ({@link LocalStagingArea}) and
 * an S3 prefix (`S3StagingArea`).
 */
export interface StagingArea {
  /** The staging URL (no credentials). */
  readonly url: string;
  /** Creates what is needed; fails with a clear reason when the area cannot be written. */
  init(): Promise<void>;
  /** Stores one staged file; returns the reference the manifest carries. */
  write(name: string, bytes: Uint8Array): Promise<string>;
  /**
   * Stores one staged file produced as a stream (a large object's rows),
   * without holding it in memory. An error of the stream propagates as is
   * and leaves nothing under the name.
   */
  writeStream(name: string, chunks: AsyncIterable<Uint8Array>): Promise<{ ref: string; bytes: number }>;
  /** Makes staged files readable as local paths (a download for S3). */
  localize(refs: readonly string[]): Promise<LocalCopies>;
  /** Deletes staged files once their rows are committed (missing ones are fine). */
  remove(refs: ReadonlyArray<string | null>): Promise<void>;
  /**
   * Whether {@link remove} costs a request per file (Cloud Storage's XML API
   * has no multi-object delete). A cluster's loader then hands the removal of
   * a committed batch's files to the workers, as one cleanup job.
   */
  readonly removesFileByFile: boolean;
}

/** Staging in a directory (`file://DIR`, or a plain path), e.g. a volume shared by workers and the loader. */
export class LocalStagingArea implements StagingArea {
  /** Absolute directory of the staged files. */
  readonly dir: string;
  readonly url: string;
  /** Unlinking a local file costs no request. */
  readonly removesFileByFile = false;
  readonly #durable: boolean;

  /**
   * @param options.durable sync each staged file and the folder before it counts as written, so
   *   that a crash after a worker reported it does not lose it (a Parquet dataset links it as it
   *   is). @defaultValue true; false for a run's own temp folder
   */
  constructor(dir: string, options: { durable?: boolean } = {}) {
    this.dir = resolve(dir);
    this.url = `file://${this.dir}`;
    this.#durable = options.durable ?? true;
  }

  async init(): Promise<void> {
    try {
      await mkdir(this.dir, { recursive: true });
    } catch (err) {
      throw new BadInputError('--staging', `cannot create ${this.dir}: ${(err as Error).message}`);
    }
  }

  async write(name: string, bytes: Uint8Array): Promise<string> {
    const final = join(this.dir, `${name}.parquet`);
    // unique per writer: containers sharing the volume often have the same pid
    const tmp = `${final}.${randomBytes(6).toString('hex')}.tmp`;
    try {
      // durable once written (synced, renamed, the folder synced): a Parquet dataset links the file as it is
      await writeFile(tmp, bytes, { flush: this.#durable });
      await rename(tmp, final);
      if (this.#durable) await fsyncDir(this.dir);
    } catch (err) {
      await rm(tmp, { force: true }).catch(() => undefined);
      throw stagingWriteError(this.dir, name, err);
    }
    return final;
  }

  async writeStream(name: string, chunks: AsyncIterable<Uint8Array>): Promise<{ ref: string; bytes: number }> {
    const final = join(this.dir, `${name}.parquet`);
    const tmp = `${final}.${randomBytes(6).toString('hex')}.tmp`;
    try {
      await writeStreamToFile(chunks, tmp);
      if (this.#durable) await fsyncFile(tmp);
      const { size } = await stat(tmp);
      await rename(tmp, final);
      if (this.#durable) await fsyncDir(this.dir);
      return { ref: final, bytes: size };
    } catch (err) {
      await rm(tmp, { force: true }).catch(() => undefined);
      if (isStreamWriteFailure(err)) {
        throw stagingWriteError(this.dir, name, err);
      }
      throw err;
    }
  }

  async localize(): Promise<LocalCopies> {
    return { path: (ref) => ref, synced: this.#durable, release: async () => undefined };
  }

  async remove(refs: ReadonlyArray<string | null>): Promise<void> {
    await Promise.all(refs.filter((p): p is string => p !== null).map((p) => rm(p, { force: true })));
  }
}

/**
 * Why a staged file could not be written. A full disk (ENOSPC, EDQUOT) is
 * retryable: space comes back as the loader commits and removes staged files.
 * Anything else (permissions, a read-only volume) fails the object at once.
 */
export function stagingWriteError(dir: string, name: string, err: unknown): PipelineError {
  const message = `staging ${dir}: cannot write ${name}.parquet: ${(err as Error).message}`;
  const code = (err as NodeJS.ErrnoException).code;
  return code === 'ENOSPC' || code === 'EDQUOT' ? new RetryableError(message, err) : new PermanentError(message, err);
}

/** A temp directory for downloaded copies, removed by `release`. */
export async function downloadDir(): Promise<{ dir: string; release(): Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), 'pv-staged-'));
  return { dir, release: () => rm(dir, { recursive: true, force: true }) };
}

/** Writes a stream of chunks to a file (the file is left for the caller to remove on failure). */
export async function writeStreamToFile(chunks: AsyncIterable<Uint8Array>, path: string): Promise<void> {
  await pipeline(Readable.from(chunks, { objectMode: false }), createWriteStream(path));
}

/** Whether an error came from the file system rather than from the stream's producer. */
function isStreamWriteFailure(err: unknown): boolean {
  return (
    typeof (err as NodeJS.ErrnoException)?.code === 'string' && (err as NodeJS.ErrnoException).syscall !== undefined
  );
}
