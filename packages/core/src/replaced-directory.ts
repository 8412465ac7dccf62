import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { cp, mkdir, rename, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';

/**
 * A directory replaced whole (a report, an export): its new content is
 * written into a sibling temporary directory, which then takes the place of
 * the old one by two renames. A reader sees the old content or the new,
 * never half of either, and a failure leaves the old one as it was (the
 * temporary one is removed).
 */
export class ReplacedDirectory {
  readonly dir: string;
  readonly #tmp: string;

  private constructor(dir: string) {
    this.dir = path.resolve(dir);
    this.#tmp = `${this.dir}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`;
  }

  /** Starts new content in a temporary directory beside `dir`. */
  static async start(dir: string): Promise<ReplacedDirectory> {
    const w = new ReplacedDirectory(dir);
    await mkdir(path.dirname(w.dir), { recursive: true });
    await mkdir(w.#tmp);
    return w;
  }

  /** Writes one file of the new content (`name` may hold subdirectories). */
  async write(name: string, content: string | Buffer): Promise<void> {
    await mkdir(path.dirname(this.path(name)), { recursive: true });
    await writeFile(this.path(name), content);
  }

  /** Where a file of the new content goes, for writers of their own (e.g. DuckDB's COPY). */
  path(name: string): string {
    return path.join(this.#tmp, name);
  }

  /** Copies a file of the current content into the new one (kept as it was). */
  async keep(name: string): Promise<boolean> {
    const from = path.join(this.dir, name);
    if (!existsSync(from)) return false;
    await mkdir(path.dirname(this.path(name)), { recursive: true });
    await cp(from, this.path(name));
    return true;
  }

  /** Puts the new content in place of the old. */
  async commit(): Promise<void> {
    const old = `${this.#tmp}-old`;
    const had = existsSync(this.dir);
    if (had) await rename(this.dir, old);
    try {
      await rename(this.#tmp, this.dir);
    } catch (err) {
      if (had) await rename(old, this.dir);
      throw err;
    }
    if (had) await rm(old, { recursive: true, force: true });
  }

  /** Drops the new content (after a failure). */
  async abort(): Promise<void> {
    await rm(this.#tmp, { recursive: true, force: true });
  }
}
