import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { BadInputError } from '@pv-pipeline/core';
import { FileObjectStore } from './file-object-store.js';
import type { ObjectStore } from './object-store.js';
import { S3ObjectStore, type S3ObjectStoreOptions } from './s3-object-store.js';

/** Options of {@link openObjectStore}; only `s3://` sources use them. */
export interface OpenObjectStoreOptions {
  /** Endpoint of an S3-compatible server (e.g. `http://127.0.0.1:4569`). @defaultValue AWS S3 */
  s3Endpoint?: string;
  /** Path-style addressing. @defaultValue true when `s3Endpoint` is set, else false */
  s3ForcePathStyle?: boolean;
  /** AWS region. @defaultValue `us-west-2` */
  region?: string;
  /** Unsigned requests. @defaultValue true for `s3://oedi-data-lake/…` without an endpoint */
  anonymous?: boolean;
  /** Explicit credentials. @defaultValue the AWS default chain (unless anonymous) */
  credentials?: S3ObjectStoreOptions['credentials'];
  /** Attempts per S3 request. @defaultValue 5 */
  maxAttempts?: number;
}

const SOURCE = '--source';
const EXPECTED = 'expected s3://BUCKET/PREFIX or file://DIR';
/** Lenient S3-compatible bucket names: lowercase letters, digits, `.`, `-`, `_`, 3–63 characters. */
const BUCKET = /^[a-z0-9][a-z0-9._-]{1,61}[a-z0-9]$/;

/**
 * Opens the PVDAQ root named by a URL:
 *
 * - `s3://bucket/prefix` → {@link S3ObjectStore} (prefix may be empty; slashes at
 *   either end are dropped);
 * - `file:///abs/dir` → {@link FileObjectStore} (percent-escapes decoded as in any
 *   file URL);
 * - `file://./rel/dir`, `file://rel/dir` → {@link FileObjectStore} on that path
 *   resolved against the current directory (taken literally, no decoding).
 *
 * Anything else throws `BadInputError('--source', reason)`.
 */
export function openObjectStore(url: string, options: OpenObjectStoreOptions = {}): ObjectStore {
  const text = url.trim();
  const scheme = /^([a-zA-Z][a-zA-Z0-9+.-]*):/.exec(text)?.[1]?.toLowerCase();
  if (scheme === undefined) {
    throw new BadInputError(SOURCE, `"${url}" is not a URL (${EXPECTED})`);
  }
  if (scheme === 's3') return openS3(url, text, options);
  if (scheme === 'file') return openFile(url, text);
  throw new BadInputError(SOURCE, `unsupported scheme "${scheme}:" in "${redact(url)}" (${EXPECTED})`);
}

function openS3(url: string, text: string, options: OpenObjectStoreOptions): ObjectStore {
  const m = /^s3:\/\/([^/?#]*)(\/[^?#]*)?$/i.exec(text);
  if (!m) {
    const reason = /[?#]/.test(text) ? 'query strings and fragments are not allowed' : 'expected s3://BUCKET/PREFIX';
    throw new BadInputError(SOURCE, `malformed S3 URL "${redact(url)}": ${reason}`);
  }
  const bucket = m[1] ?? '';
  if (bucket.includes('@')) {
    throw new BadInputError(SOURCE, 'credentials must not be put in the S3 URL (use the AWS environment or config)');
  }
  if (bucket === '') throw new BadInputError(SOURCE, `malformed S3 URL "${url}": the bucket name is missing`);
  if (!BUCKET.test(bucket)) {
    throw new BadInputError(
      SOURCE,
      `malformed S3 URL "${url}": "${bucket}" is not a valid bucket name (3–63 lowercase letters, digits, ".", "-", "_")`,
    );
  }
  const prefix = (m[2] ?? '').replace(/^\/+|\/+$/g, '');
  if (prefix !== '' && prefix.split('/').includes('')) {
    throw new BadInputError(SOURCE, `malformed S3 URL "${url}": the prefix has an empty path segment ("//")`);
  }
  const s3: S3ObjectStoreOptions = { bucket, prefix };
  if (options.region !== undefined) s3.region = options.region;
  if (options.s3Endpoint !== undefined && options.s3Endpoint !== '') {
    try {
      const endpoint = new URL(options.s3Endpoint);
      if (endpoint.protocol !== 'http:' && endpoint.protocol !== 'https:') throw new Error('not http(s)');
    } catch {
      throw new BadInputError('--s3-endpoint', `"${redact(options.s3Endpoint)}" is not an http(s) URL`);
    }
    s3.endpoint = options.s3Endpoint;
  }
  if (options.s3ForcePathStyle !== undefined) s3.forcePathStyle = options.s3ForcePathStyle;
  if (options.anonymous !== undefined) s3.anonymous = options.anonymous;
  if (options.credentials !== undefined) s3.credentials = options.credentials;
  if (options.maxAttempts !== undefined) s3.maxAttempts = options.maxAttempts;
  return new S3ObjectStore(s3);
}

function openFile(url: string, text: string): ObjectStore {
  if (!/^file:\/\//i.test(text)) {
    throw new BadInputError(
      SOURCE,
      `malformed file URL "${url}": expected file:///ABSOLUTE/DIR or file://RELATIVE/DIR`,
    );
  }
  const rest = text.slice('file://'.length);
  if (rest === '' || rest === '/') {
    throw new BadInputError(SOURCE, `malformed file URL "${url}": the directory is missing`);
  }
  if (rest.includes('\0')) throw new BadInputError(SOURCE, `malformed file URL "${url}": NUL in the path`);
  let dir: string;
  if (rest.startsWith('/')) {
    if (/[?#]/.test(rest)) {
      throw new BadInputError(
        SOURCE,
        `malformed file URL "${url}": query strings and fragments are not allowed (percent-encode "?" and "#" in paths)`,
      );
    }
    try {
      dir = fileURLToPath(`file://${rest}`);
    } catch (err) {
      throw new BadInputError(SOURCE, `malformed file URL "${url}": ${(err as Error).message}`, err);
    }
  } else {
    dir = path.resolve(process.cwd(), rest);
  }
  return new FileObjectStore(path.resolve(dir));
}

/** A URL for messages, without `user:password@`. */
function redact(url: string): string {
  return url.replace(/^([a-zA-Z][a-zA-Z0-9+.-]*:\/\/)[^/@]*@/, '$1***@');
}
