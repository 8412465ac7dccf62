import { randomBytes } from 'node:crypto';
import { mkdir, rename, rm, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { BadInputError, PermanentError } from '@pv-pipeline/core';

/**
 * Where workers put normalized rows for the loader: one Parquet file per
 * source object, named from its (key, ETag) so that a redone transform writes
 * the same file. Written to a temp name and renamed, so a crash never leaves a
 * half-written file under a final name.
 */
export class StagingArea {
  /** Absolute directory of the staged files. */
  readonly dir: string;

  constructor(dir: string) {
    this.dir = resolve(dir);
  }

  /** Parses `file://DIR` or a plain path. */
  static fromUrl(url: string): StagingArea {
    if (url.startsWith('file://')) return new StagingArea(url.slice('file://'.length));
    if (/^[a-z][a-z0-9+.-]*:\/\//i.test(url)) {
      throw new BadInputError(
        '--staging',
        `"${url}" is not a file:// URL (only local or shared-volume staging is supported)`,
      );
    }
    return new StagingArea(url);
  }

  /** Creates the directory; fails with a clear reason when it cannot be written. */
  async init(): Promise<void> {
    try {
      await mkdir(this.dir, { recursive: true });
    } catch (err) {
      throw new BadInputError('--staging', `cannot create ${this.dir}: ${(err as Error).message}`);
    }
  }

  /** Writes one staged file atomically and returns its absolute path. */
  async write(name: string, bytes: Uint8Array): Promise<string> {
    const final = join(this.dir, `${name}.parquet`);
    // unique per writer: containers sharing the volume often have the same pid
    const tmp = `${final}.${randomBytes(6).toString('hex')}.tmp`;
    try {
      await writeFile(tmp, bytes);
      await rename(tmp, final);
    } catch (err) {
      await rm(tmp, { force: true }).catch(() => undefined);
      throw new PermanentError(`staging ${this.dir}: cannot write ${name}.parquet: ${(err as Error).message}`, err);
    }
    return final;
  }

  /** Deletes staged files once their rows are committed (missing files are fine). */
  async remove(paths: ReadonlyArray<string | null>): Promise<void> {
    await Promise.all(paths.filter((p): p is string => p !== null).map((p) => rm(p, { force: true })));
  }
}
