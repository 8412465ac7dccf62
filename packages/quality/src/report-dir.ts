import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { cp, mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { QualityJson } from './quality-json.js';

/**
 * The report directory is replaced whole: pages are written into a sibling
 * temporary directory, which then takes the place of the old one by two
 * renames. A reader sees the old report or the new one, never half of
 * either, and a failure leaves the old one as it was (the temporary one is
 * removed).
 */
export class ReportDirWriter {
  readonly dir: string;
  readonly #tmp: string;

  private constructor(dir: string) {
    this.dir = path.resolve(dir);
    this.#tmp = `${this.dir}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`;
  }

  /** Starts a new report in a temporary directory beside `dir`. */
  static async start(dir: string): Promise<ReportDirWriter> {
    const w = new ReportDirWriter(dir);
    await mkdir(path.dirname(w.dir), { recursive: true });
    await mkdir(w.#tmp);
    return w;
  }

  /** Writes one file of the new report. */
  async write(name: string, content: string | Buffer): Promise<void> {
    await writeFile(path.join(this.#tmp, name), content);
  }

  /** Copies a file of the current report into the new one (a page kept as it was). */
  async keep(name: string): Promise<boolean> {
    const from = path.join(this.dir, name);
    if (!existsSync(from)) return false;
    await cp(from, path.join(this.#tmp, name));
    return true;
  }

  /** Puts the new report in place of the old. */
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

  /** Drops the new report (after a failure). */
  async abort(): Promise<void> {
    await rm(this.#tmp, { recursive: true, force: true });
  }
}

/** The `quality.json` of an existing report directory, or null when there is none (or it is unreadable). */
export async function readQualityJson(dir: string): Promise<QualityJson | null> {
  try {
    const parsed = JSON.parse(await readFile(path.join(dir, 'quality.json'), 'utf8')) as QualityJson;
    return Array.isArray(parsed.systems) ? parsed : null;
  } catch {
    return null;
  }
}
