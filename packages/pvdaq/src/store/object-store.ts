import type { Readable } from 'node:stream';
import { BadInputError, type ObjectInfo } from '@pv-pipeline/core';

/** Options of {@link ObjectStore.getBytes}. */
export interface GetBytesOptions {
  /** Refuse (BadInputError naming the key) objects larger than this many bytes. */
  maxBytes: number;
  /**
   * The ETag the object had when it was listed: a read that finds another
   * version throws {@link changedSinceListedError} instead of returning it.
   * @defaultValue none (any version).
   */
  ifMatch?: string;
  /**
   * With `ifMatch`: the listed {@link ObjectInfo.fileVersion}. A `file://`
   * store that still finds the file at that version (before and after the
   * read) takes `ifMatch` as its ETag instead of hashing it again.
   * @defaultValue none (hashed, unless this store listed or read the file)
   */
  listedVersion?: string;
}

/** Options of {@link ObjectStore.getStream}. */
export interface GetStreamOptions {
  /** Inclusive byte range to read; the whole object when absent. */
  range?: { start: number; end: number };
  /** As {@link GetBytesOptions.ifMatch}: the listed ETag the stream must come from. */
  ifMatch?: string;
  /** As {@link GetBytesOptions.listedVersion} (checked when the stream opens). @defaultValue none */
  listedVersion?: string;
}

/** What pins a read to the listed version of an object: its ETag, and for `file://` its file version. */
export type ReadPin = Pick<GetStreamOptions, 'ifMatch' | 'listedVersion'>;

/** The read options that pin a read to a listed object (see {@link GetBytesOptions.ifMatch}). */
export function pinTo(listed: Pick<ObjectInfo, 'etag' | 'fileVersion'>): ReadPin {
  return listed.fileVersion === undefined
    ? { ifMatch: listed.etag }
    : { ifMatch: listed.etag, listedVersion: listed.fileVersion };
}

/**
 * The error of a read pinned to a listed ETag that found another version: the
 * object changed between planning and reading. Trying again cannot help (the
 * job is tied to the listed version); the next run plans the new version.
 */
export function changedSinceListedError(key: string, listed: string, found?: string): BadInputError {
  const now = found === undefined ? 'another ETag' : `ETag ${found}`;
  return new BadInputError(
    key,
    `changed since it was listed (ETag ${listed} when planned, ${now} now); the next run loads the new version`,
  );
}

/**
 * A read-only view of a PVDAQ root: `s3://bucket/prefix`, any S3-compatible
 * endpoint, or `file://DIR`. Keys are relative to the root and use `/`.
 *
 * Errors: transient faults (5xx, throttling, resets) throw `RetryableError`;
 * a missing object or a key that escapes the root throws `BadInputError`
 * naming the key; a read pinned with `ifMatch` that finds another version
 * throws {@link changedSinceListedError} (a `BadInputError`); anything else
 * `PermanentError`.
 */
export interface ObjectStore {
  /** The root as a URL, for messages (never carries credentials). */
  readonly url: string;
  /** Every object under `prefix`, recursively, in key order, following pagination. */
  listObjects(prefix: string): AsyncIterable<ObjectInfo>;
  /**
   * The immediate children of `prefix` (which ends with `/`): sub-"folders"
   * (ending with `/`, relative to the root) and objects directly under it.
   */
  listChildren(prefix: string): Promise<{ prefixes: string[]; objects: ObjectInfo[] }>;
  /** Size and ETag of one object, or null when it does not exist. */
  head(key: string): Promise<ObjectInfo | null>;
  /** The object's bytes as a stream. */
  getStream(key: string, options?: GetStreamOptions): Promise<Readable>;
  /** The whole object in memory, refusing objects above `maxBytes`. */
  getBytes(key: string, options: GetBytesOptions): Promise<Uint8Array>;
  /** Releases connections. */
  close(): Promise<void>;
}
