import { createHash, type Hash } from 'node:crypto';
import { createReadStream, type Dirent, type Stats } from 'node:fs';
import { open, readdir, readFile, realpath, stat } from 'node:fs/promises';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { pathToFileURL } from 'node:url';
import { BadInputError, type ObjectInfo, PermanentError, RetryableError } from '@pv-pipeline/core';
import {
  changedSinceListedError,
  type GetBytesOptions,
  type GetStreamOptions,
  type ObjectStore,
  type ReadPin,
} from './object-store.js';
import { checkRange, tooLargeError } from './read-limits.js';

/** Files up to this size are hashed from one read; larger ones a piece of this size at a time. */
const SMALL_FILE = 1 << 20;
/**
 * Bytes per chunk of a read stream (Node's default is 64 KiB). Each chunk is a
 * fresh buffer, and their allocation drives V8's collections: a 1 GB prize CSV
 * read in 256 KiB chunks cost 18 % less CPU in all (half the GC time), at about
 * 20 MiB more peak RSS, the garbage left between fewer collections (bench/RESULTS.md).
 */
const STREAM_CHUNK_BYTES = 256 * 1024;
/** Files whose ETag is remembered for pinned reads (see FileObjectStore.etagOfStat). */
const ETAG_MEMORY = 4096;
/** Files hashed concurrently while listing. */
const HASH_AHEAD = 16;
/** I/O error codes that mean "busy, try again later". */
const RETRYABLE_CODES = new Set(['EMFILE', 'ENFILE', 'EAGAIN', 'EBUSY']);
/** I/O error codes that mean "there is no such object". */
const MISSING_CODES = new Set(['ENOENT', 'ENOTDIR', 'EISDIR']);

/** Whether a path relative to the root leaves it. */
const leavesRoot = (rel: string): boolean => rel === '..' || rel.startsWith(`..${path.sep}`) || path.isAbsolute(rel);

function codeOf(err: unknown): string | undefined {
  return typeof err === 'object' && err !== null ? (err as { code?: string }).code : undefined;
}

/**
 * The version of a file (ObjectInfo.fileVersion): its device, inode, size and
 * modification time. Two stats of the same version are taken to see the same
 * content; a process on a machine that sees the file's device under another
 * number hashes it again.
 */
function fileVersionOf(st: Pick<Stats, 'dev' | 'ino' | 'size' | 'mtimeMs'>): string {
  return `${st.dev}:${st.ino}:${st.size}:${st.mtimeMs}`;
}

/**
 * Feeds a file to a hash through one buffer of {@link SMALL_FILE} bytes, read
 * again and again: half the CPU of piping a read stream into it (0.18 against
 * 0.39 s for a 100 MiB prize CSV), which allocates a chunk per 64 KiB.
 */
async function hashPieces(file: string, hash: Hash): Promise<void> {
  const handle = await open(file, 'r');
  try {
    const buf = Buffer.allocUnsafe(SMALL_FILE);
    for (;;) {
      const { bytesRead } = await handle.read(buf, 0, buf.length, null);
      if (bytesRead === 0) return;
      hash.update(bytesRead === buf.length ? buf : buf.subarray(0, bytesRead));
    }
  } finally {
    await handle.close();
  }
}

/** Compares keys as S3 does: by their UTF-8 bytes. */
function compareKeys(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
}

/**
 * A read-only {@link ObjectStore} over a local directory (`file://DIR`), laid
 * out like the S3 root: key `a/b/c.csv` is the file `DIR/a/b/c.csv`.
 *
 * - Listing walks directories recursively and yields files (and symlinks to
 *   files) in S3 key order (UTF-8 byte order of the full key), lazily. Only
 *   directories, sockets/FIFOs/devices, dangling or looping links and names
 *   containing a backslash (which cannot be keys) are left out. A directory
 *   is entered only when its real path (every symlink resolved) stays inside
 *   the root and is not a directory above it in the walk, so a symlink cannot
 *   lead the listing out of the root and a symlink loop ends nothing.
 * - The ETag is the MD5 hex digest of the content (what S3 gives a single-part
 *   upload), computed by reading each file when it is listed or headed.
 *   A read pinned to an ETag (`ifMatch`) checks it against the ETag computed
 *   when the file was last listed or read here, as long as its version
 *   (device, inode, size, mtime) is unchanged (for `getBytes` before and after
 *   the read; for `getStream`, whose range may be a sliver of a large file,
 *   when it opens), and hashes the file (`getBytes`: the bytes it read)
 *   otherwise. A read that
 *   passes the listed `fileVersion` (`listedVersion`, see `pinTo`) takes the
 *   listed ETag the same way in a store that never listed the file (a queue
 *   worker's), while the file keeps that version.
 * - Keys that are absolute, contain `..` segments, backslashes or NUL, or
 *   resolve outside the root throw `BadInputError(key, 'key escapes the source root')`,
 *   and so does reading a file whose symlinks lead outside the root (it is still listed);
 *   keys with empty or `.` segments (`a//b`, `./a`) throw `BadInputError` too,
 *   since they would alias another key. A key ending in `/` is never a file.
 * - Missing files: `head` gives null, `getStream`/`getBytes` throw
 *   `BadInputError(key, 'object not found')`. EMFILE/ENFILE/EAGAIN/EBUSY throw
 *   `RetryableError`; other I/O errors `PermanentError`.
 */
export class FileObjectStore implements ObjectStore {
  readonly url: string;
  /** The absolute root directory. */
  readonly root: string;
  /** ETags computed here, by file, with the file version they were computed for (most recent last). */
  readonly #etags = new Map<string, { version: string; etag: string }>();

  /** @param root the source directory; resolved against the cwd when relative. */
  constructor(root: string) {
    this.root = path.resolve(root);
    this.url = pathToFileURL(this.root).href;
  }

  /**
   * The absolute path of a key or prefix, after checking that it stays inside
   * the root. One trailing `/` is allowed (a "directory" key: never a file).
   */
  private pathOf(key: string): string {
    const escapes = () => new BadInputError(key, 'key escapes the source root');
    if (
      key.includes('\\') ||
      key.includes('\0') ||
      key.startsWith('/') ||
      path.isAbsolute(key) ||
      (path.sep === '\\' && /^[A-Za-z]:/.test(key))
    ) {
      throw escapes();
    }
    const body = key.endsWith('/') ? key.slice(0, -1) : key;
    const segments = body === '' ? [] : body.split('/');
    if (segments.includes('..')) throw escapes();
    if (segments.some((seg) => seg === '' || seg === '.')) {
      throw new BadInputError(key, 'key has an empty or "." path segment');
    }
    const full = path.resolve(this.root, body);
    if (leavesRoot(path.relative(this.root, full))) throw escapes();
    return full;
  }

  /** Throws `key escapes the source root` when the file, symlinks resolved, lies outside the (resolved) root. */
  private async checkInside(key: string, file: string): Promise<void> {
    const [root, real] = await Promise.all([realpath(this.root), realpath(file)]);
    if (leavesRoot(path.relative(root, real))) {
      throw new BadInputError(key, 'key escapes the source root (a symlink leads outside it)');
    }
  }

  private mapError(err: unknown, subject: string, operation: string): Error {
    if (err instanceof BadInputError || err instanceof RetryableError || err instanceof PermanentError) return err;
    const code = codeOf(err);
    const reason = err instanceof Error ? err.message : String(err);
    const name = subject === '' ? '(root)' : subject;
    const message = `${name}: ${operation} in ${this.url} failed: ${reason}`;
    if (code && RETRYABLE_CODES.has(code)) return new RetryableError(message, err);
    return new PermanentError(message, err);
  }

  /** MD5 hex of the content: small files in one read, larger ones a piece at a time. */
  private async etagOf(file: string, size: number): Promise<string> {
    const hash = createHash('md5');
    if (size <= SMALL_FILE) hash.update(await readFile(file));
    else await hashPieces(file, hash);
    return hash.digest('hex');
  }

  private async info(key: string, file: string, st: Stats): Promise<ObjectInfo> {
    const etag = await this.etagOf(file, st.size);
    this.#remember(file, st, etag);
    return { key, etag, size: st.size, lastModified: st.mtime, fileVersion: fileVersionOf(st) };
  }

  #remember(file: string, st: Stats, etag: string): void {
    this.#etags.delete(file);
    this.#etags.set(file, { version: fileVersionOf(st), etag });
    if (this.#etags.size > ETAG_MEMORY) this.#etags.delete(this.#etags.keys().next().value as string);
  }

  /**
   * The ETag known for the file at this stat without hashing, else null: the
   * one remembered here, or the pinned read's `ifMatch` when the file is still
   * at the version it was listed at (elsewhere: another process listed it).
   */
  #knownEtag(file: string, st: Stats, pin: ReadPin): string | null {
    const version = fileVersionOf(st);
    const known = this.#etags.get(file);
    if (known?.version === version) return known.etag;
    if (pin.ifMatch === undefined || pin.listedVersion !== version) return null;
    this.#remember(file, st, pin.ifMatch);
    return pin.ifMatch;
  }

  /** The file's ETag: known when its stat is unchanged (see #knownEtag), else hashed again. */
  private async etagOfStat(file: string, st: Stats, pin: ReadPin = {}): Promise<string> {
    const known = this.#knownEtag(file, st, pin);
    if (known !== null) return known;
    const etag = await this.etagOf(file, st.size);
    this.#remember(file, st, etag);
    return etag;
  }

  /** The info of a listed file, or null when it vanished since the directory was read. */
  private async listedInfo(entry: { key: string; stats?: Stats }): Promise<ObjectInfo | null> {
    const file = path.join(this.root, entry.key);
    try {
      return await this.info(entry.key, file, entry.stats ?? (await stat(file)));
    } catch (err) {
      if (MISSING_CODES.has(codeOf(err) ?? '')) return null;
      throw err;
    }
  }

  /** Whether a directory entry is a file (following symlinks), a directory, or neither. */
  private async kindOf(dir: string, entry: Dirent): Promise<{ kind: 'file' | 'dir' | 'other'; stats?: Stats }> {
    if (entry.isDirectory()) return { kind: 'dir' };
    if (entry.isFile()) return { kind: 'file' };
    if (entry.isSymbolicLink()) {
      try {
        const st = await stat(path.join(dir, entry.name));
        if (st.isDirectory()) return { kind: 'dir' };
        if (st.isFile()) return { kind: 'file', stats: st };
      } catch (err) {
        // a dangling link, or a loop of links
        if (MISSING_CODES.has(codeOf(err) ?? '') || codeOf(err) === 'ELOOP') return { kind: 'other' };
        throw err;
      }
    }
    return { kind: 'other' };
  }

  /**
   * The entries of the directory `dirKey` (`''` or ending with `/`), sorted so
   * that a recursive walk yields keys in S3 order: a directory sorts as `name/`.
   * Null when the directory does not exist.
   */
  private async sortedEntries(
    dirKey: string,
  ): Promise<Array<{ key: string; kind: 'file' | 'dir'; stats?: Stats }> | null> {
    const dir = this.pathOf(dirKey);
    let entries: Dirent[];
    try {
      entries = await readdir(dir, { withFileTypes: true });
    } catch (err) {
      if (MISSING_CODES.has(codeOf(err) ?? '')) return null;
      throw err;
    }
    const out: Array<{ key: string; kind: 'file' | 'dir'; stats?: Stats }> = [];
    for (const entry of entries) {
      // Names that cannot be keys (they would be rejected by pathOf) are skipped.
      if (entry.name.includes('\\')) continue;
      const { kind, stats } = await this.kindOf(dir, entry);
      if (kind === 'dir') out.push({ key: `${dirKey}${entry.name}/`, kind });
      else if (kind === 'file')
        out.push(stats ? { key: `${dirKey}${entry.name}`, kind, stats } : { key: `${dirKey}${entry.name}`, kind });
    }
    out.sort((a, b) => compareKeys(a.key, b.key));
    return out;
  }

  private async checkRoot(): Promise<void> {
    try {
      const st = await stat(this.root);
      if (!st.isDirectory()) throw new PermanentError(`${this.url}: the source root is not a directory`);
    } catch (err) {
      if (codeOf(err) === 'ENOENT') throw new PermanentError(`${this.url}: the source root does not exist`, err);
      throw this.mapError(err, '', 'stat');
    }
  }

  /**
   * Whether a directory may be listed: its real path (symlinks resolved) lies
   * inside the real root, and is none of the directories above it in this walk
   * (a symlink loop). Such directories are left out, not errors.
   */
  private async listable(dirKey: string, above: ReadonlySet<string>): Promise<string | null> {
    let real: string;
    try {
      real = await realpath(this.pathOf(dirKey));
    } catch (err) {
      if (MISSING_CODES.has(codeOf(err) ?? '') || codeOf(err) === 'ELOOP') return null;
      throw err;
    }
    const root = await realpath(this.root);
    if (real !== root && leavesRoot(path.relative(root, real))) return null;
    // a loop: the directory itself, or an ancestor of a directory above it
    for (const a of above) if (a === real || !leavesRoot(path.relative(real, a))) return null;
    return real;
  }

  /**
   * Files under `dirKey` whose key starts with `prefix`, recursively, in key
   * order. A directory reached through a symlink is listed only when it stays
   * inside the root and is not one of the directories above it (a loop).
   */
  private async *walk(
    dirKey: string,
    prefix: string,
    above: ReadonlySet<string> = new Set(),
  ): AsyncGenerator<ObjectInfo> {
    const real = await this.listable(dirKey, above);
    if (real === null) return;
    const here = new Set(above).add(real);
    const entries = await this.sortedEntries(dirKey);
    if (!entries) return;
    // Files are hashed up to HASH_AHEAD at a time, but yielded in key order.
    const pending: Array<Promise<ObjectInfo | null>> = [];
    const flush = async function* (keep: number) {
      while (pending.length > keep) {
        const info = await (pending.shift() as Promise<ObjectInfo | null>);
        if (info) yield info;
      }
    };
    try {
      for (const entry of entries) {
        if (entry.kind === 'dir') {
          if (entry.key.startsWith(prefix) || prefix.startsWith(entry.key)) {
            yield* flush(0);
            yield* this.walk(entry.key, prefix, here);
          }
        } else if (entry.key.startsWith(prefix)) {
          const info = this.listedInfo(entry);
          info.catch(() => {}); // awaited in order below; avoid an unhandled rejection meanwhile
          pending.push(info);
          yield* flush(HASH_AHEAD - 1);
        }
      }
      yield* flush(0);
    } finally {
      pending.length = 0;
    }
  }

  /** The directory key (`''` or ending with `/`) holding every key that starts with `prefix`. */
  private dirKeyOf(prefix: string): string {
    if (prefix !== '') this.pathOf(prefix);
    const slash = prefix.lastIndexOf('/');
    return slash < 0 ? '' : prefix.slice(0, slash + 1);
  }

  async *listObjects(prefix: string): AsyncIterable<ObjectInfo> {
    const dirKey = this.dirKeyOf(prefix);
    await this.checkRoot();
    try {
      yield* this.walk(dirKey, prefix);
    } catch (err) {
      throw this.mapError(err, prefix, 'listing');
    }
  }

  async listChildren(prefix: string): Promise<{ prefixes: string[]; objects: ObjectInfo[] }> {
    const dirKey = this.dirKeyOf(prefix);
    await this.checkRoot();
    const prefixes: string[] = [];
    const objects: ObjectInfo[] = [];
    const files: Array<{ key: string; stats?: Stats }> = [];
    try {
      const real = await this.listable(dirKey, new Set());
      for (const entry of real === null ? [] : ((await this.sortedEntries(dirKey)) ?? [])) {
        if (!entry.key.startsWith(prefix)) continue;
        if (entry.kind !== 'dir') files.push(entry);
        else if ((await this.listable(entry.key, new Set([real!]))) !== null) prefixes.push(entry.key);
      }
      for (let i = 0; i < files.length; i += HASH_AHEAD) {
        const infos = await Promise.all(files.slice(i, i + HASH_AHEAD).map((f) => this.listedInfo(f)));
        for (const info of infos) if (info) objects.push(info);
      }
    } catch (err) {
      throw this.mapError(err, prefix, 'listing');
    }
    return { prefixes, objects };
  }

  async head(key: string): Promise<ObjectInfo | null> {
    const file = this.pathOf(key);
    try {
      const st = await stat(file);
      if (!st.isFile()) return null;
      await this.checkInside(key, file);
      return await this.info(key, file, st);
    } catch (err) {
      if (MISSING_CODES.has(codeOf(err) ?? '')) return null;
      throw this.mapError(err, key, 'head');
    }
  }

  /** Stats the object, throwing `object not found` for anything but a file. */
  private async statObject(key: string, file: string): Promise<Stats> {
    try {
      const st = await stat(file);
      if (!st.isFile()) throw new BadInputError(key, 'object not found');
      await this.checkInside(key, file);
      return st;
    } catch (err) {
      if (MISSING_CODES.has(codeOf(err) ?? '')) throw new BadInputError(key, 'object not found', err);
      throw this.mapError(err, key, 'stat');
    }
  }

  /** Opens a read stream, waiting until the file is actually open so that open errors are mapped here. */
  private async open(key: string, file: string, range?: { start: number; end: number }): Promise<Readable> {
    const stream = createReadStream(file, {
      highWaterMark: STREAM_CHUNK_BYTES,
      ...(range ? { start: range.start, end: range.end } : {}),
    });
    try {
      await new Promise<void>((resolve, reject) => {
        stream.once('ready', () => resolve());
        stream.once('error', reject);
      });
    } catch (err) {
      stream.destroy();
      if (MISSING_CODES.has(codeOf(err) ?? '')) throw new BadInputError(key, 'object not found', err);
      throw this.mapError(err, key, 'open');
    }
    return stream;
  }

  async getStream(key: string, options: GetStreamOptions = {}): Promise<Readable> {
    const file = this.pathOf(key);
    if (options.range) checkRange(key, options.range);
    const st = await this.statObject(key, file);
    if (options.range && options.range.start >= st.size) {
      throw new BadInputError(
        key,
        `requested range ${options.range.start}-${options.range.end} is not satisfiable: the object is ${st.size} bytes`,
      );
    }
    if (options.ifMatch !== undefined) {
      let etag: string;
      try {
        etag = await this.etagOfStat(file, st, options);
      } catch (err) {
        throw this.mapError(err, key, 'hashing');
      }
      if (etag !== options.ifMatch) throw changedSinceListedError(key, options.ifMatch, etag);
    }
    return this.open(key, file, options.range);
  }

  async getBytes(key: string, options: GetBytesOptions): Promise<Uint8Array> {
    const file = this.pathOf(key);
    const st = await this.statObject(key, file);
    if (st.size > options.maxBytes) throw tooLargeError(key, st.size, options.maxBytes);
    let bytes: Uint8Array;
    let after: Stats;
    try {
      // one open file read whole (no stream), and its stat once read
      const handle = await open(file, 'r');
      try {
        bytes = await handle.readFile();
        after = await handle.stat();
      } finally {
        await handle.close();
      }
    } catch (err) {
      if (MISSING_CODES.has(codeOf(err) ?? '')) throw new BadInputError(key, 'object not found', err);
      throw this.mapError(err, key, 'read');
    }
    if (bytes.length > options.maxBytes) throw tooLargeError(key, bytes.length, options.maxBytes);
    if (options.ifMatch !== undefined) {
      // the ETag hashed when the file was listed, if it has not changed since, before or during this read
      const known = fileVersionOf(st) === fileVersionOf(after) ? this.#knownEtag(file, st, options) : null;
      const etag = known ?? createHash('md5').update(bytes).digest('hex');
      if (etag !== options.ifMatch) throw changedSinceListedError(key, options.ifMatch, etag);
    }
    return bytes;
  }

  async close(): Promise<void> {}
}
