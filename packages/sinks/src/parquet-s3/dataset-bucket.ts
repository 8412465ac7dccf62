import { randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, rename, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { S3Client, S3ClientConfig } from '@aws-sdk/client-s3';
import { BadInputError, RetryableError } from '@pv-pipeline/core';

type S3Module = typeof import('@aws-sdk/client-s3');

/** Options of {@link DatasetBucket}. */
export interface DatasetBucketOptions {
  bucket: string;
  /** Key prefix of the dataset, without slashes at either end (may be empty). */
  prefix: string;
  /** S3-compatible endpoint (path-style addressing). @defaultValue AWS S3 */
  endpoint?: string;
  /** Region. @defaultValue `AWS_REGION`, else `us-west-2` */
  region?: string;
  /** Explicit credentials. @defaultValue the AWS default credential chain */
  credentials?: S3ClientConfig['credentials'];
  /** Attempts per request (the SDK's `standard` retry mode). @defaultValue 5 */
  maxAttempts?: number;
}

/** One object of a listing, its key relative to the dataset's prefix. */
export interface ListedObject {
  key: string;
  size: number;
  lastModified: Date;
}

/**
 * The dataset's objects in a bucket, by key relative to the dataset prefix:
 * whole-object PUTs (a reader sees an object whole or not at all), GETs to a
 * local file, listings, deletes. Credentials come from the AWS chain, as for
 * the source and S3 staging. A fault the SDK's retries did not cure is a
 * RetryableError (a 5xx, a reset) or an Error naming the key and the reason.
 */
export class DatasetBucket {
  readonly bucket: string;
  readonly prefix: string;
  readonly #options: DatasetBucketOptions;
  #client: Promise<{ s3: S3Module; client: S3Client }> | undefined;

  constructor(options: DatasetBucketOptions) {
    this.bucket = options.bucket;
    this.prefix = options.prefix;
    this.#options = options;
  }

  /** The SDK, imported on first use (a run into another sink never loads it), and this bucket's client. */
  #s3(): Promise<{ s3: S3Module; client: S3Client }> {
    const options = this.#options;
    this.#client ??= import('@aws-sdk/client-s3').then((s3) => ({
      s3,
      client: new s3.S3Client({
        region: options.region ?? process.env.AWS_REGION ?? 'us-west-2',
        maxAttempts: options.maxAttempts ?? 5,
        retryMode: 'standard',
        requestChecksumCalculation: 'WHEN_REQUIRED',
        responseChecksumValidation: 'WHEN_REQUIRED',
        ...(options.endpoint ? { endpoint: options.endpoint, forcePathStyle: true } : {}),
        ...(options.credentials ? { credentials: options.credentials } : {}),
      }),
    }));
    return this.#client;
  }

  /** `s3://bucket/prefix/key`: how a key is named in manifests, errors and the read recipe. */
  uri(key: string): string {
    return `s3://${this.bucket}/${this.#full(key)}`;
  }

  /** The dataset key of an `s3://` URI under this dataset, or null when it is elsewhere. */
  keyOf(uri: string): string | null {
    const head = `s3://${this.bucket}/${this.prefix ? `${this.prefix}/` : ''}`;
    return uri.startsWith(head) ? uri.slice(head.length) : null;
  }

  /** @throws BadInputError `--sink` when the bucket cannot be reached (missing, no access). */
  async check(): Promise<void> {
    try {
      const { s3, client } = await this.#s3();
      await client.send(new s3.HeadBucketCommand({ Bucket: this.bucket }));
    } catch (err) {
      throw new BadInputError('--sink', `cannot reach bucket ${this.bucket}: ${reason(err)}`, err);
    }
  }

  /** PUTs a local file under `key`, whole. */
  async put(key: string, file: string): Promise<void> {
    const { size } = await stat(file);
    await this.#put(key, createReadStream(file), size);
  }

  /** PUTs bytes under `key`, whole. */
  async putBytes(key: string, bytes: Uint8Array): Promise<void> {
    await this.#put(key, bytes, bytes.length);
  }

  /** GETs `key` into a local file (its folder created); nothing is left at `file` on failure. */
  async get(key: string, file: string): Promise<void> {
    await mkdir(path.dirname(file), { recursive: true });
    const part = `${file}.${process.pid}-${randomBytes(4).toString('hex')}.part`;
    try {
      await this.#send('get', key, async (s3, client) => {
        const r = await client.send(new s3.GetObjectCommand({ Bucket: this.bucket, Key: this.#full(key) }));
        await pipeline(r.Body as Readable, createWriteStream(part));
      });
      await rename(part, file);
    } catch (err) {
      await rm(part, { force: true });
      throw err;
    }
  }

  /** Size of `key`, or null when there is no such object. */
  async size(key: string): Promise<number | null> {
    try {
      const { s3, client } = await this.#s3();
      const r = await client.send(new s3.HeadObjectCommand({ Bucket: this.bucket, Key: this.#full(key) }));
      return r.ContentLength ?? 0;
    } catch (err) {
      const status = (err as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
      if (status === 404 || (err as Error).name === 'NotFound' || (err as Error).name === 'NoSuchKey') return null;
      throw fault('head', this.uri(key), err);
    }
  }

  /** Every object under `folder` (a relative key prefix ending in `/`), after `startAfter` when given. */
  async list(folder: string, startAfter?: string): Promise<ListedObject[]> {
    const out: ListedObject[] = [];
    let token: string | undefined;
    do {
      const r = await this.#send('list', folder, (s3, client) =>
        client.send(
          new s3.ListObjectsV2Command({
            Bucket: this.bucket,
            Prefix: this.#full(folder),
            ...(token ? { ContinuationToken: token } : startAfter ? { StartAfter: this.#full(startAfter) } : {}),
          }),
        ),
      );
      for (const o of r.Contents ?? []) {
        if (!o.Key || o.Key.endsWith('/')) continue;
        out.push({ key: this.#relative(o.Key), size: o.Size ?? 0, lastModified: o.LastModified ?? new Date(0) });
      }
      token = r.IsTruncated ? r.NextContinuationToken : undefined;
    } while (token);
    return out;
  }

  /** Deletes objects (missing ones are fine), 1,000 per request. */
  async delete(keys: readonly string[]): Promise<void> {
    for (let i = 0; i < keys.length; i += 1000) {
      const chunk = keys.slice(i, i + 1000);
      const r = await this.#send('delete', chunk[0]!, (s3, client) =>
        client.send(
          new s3.DeleteObjectsCommand({
            Bucket: this.bucket,
            Delete: { Objects: chunk.map((k) => ({ Key: this.#full(k) })), Quiet: true },
          }),
        ),
      );
      const failed = r.Errors?.[0];
      if (failed)
        throw new Error(`S3 delete of s3://${this.bucket}/${failed.Key} failed: ${failed.Code} ${failed.Message}`);
    }
  }

  /** One PUT of a Parquet object of known length. */
  async #put(key: string, body: Uint8Array | ReturnType<typeof createReadStream>, length: number): Promise<void> {
    await this.#send('put', key, (s3, client) =>
      client.send(
        new s3.PutObjectCommand({
          Bucket: this.bucket,
          Key: this.#full(key),
          Body: body,
          ContentLength: length,
          ContentType: 'application/vnd.apache.parquet',
        }),
      ),
    );
  }

  #full(key: string): string {
    return this.prefix ? `${this.prefix}/${key}` : key;
  }

  #relative(full: string): string {
    return this.prefix ? full.slice(this.prefix.length + 1) : full;
  }

  async #send<T>(operation: string, key: string, fn: (s3: S3Module, client: S3Client) => Promise<T>): Promise<T> {
    try {
      const { s3, client } = await this.#s3();
      return await fn(s3, client);
    } catch (err) {
      throw fault(operation, this.uri(key), err);
    }
  }
}

/** The SDK's reason for a failure, one line. */
function reason(err: unknown): string {
  const e = err as { name?: string; message?: string; Code?: string };
  return `${e.name ?? 'Error'}: ${(e.message ?? String(err)).split('\n')[0]}`;
}

/** A failed request: retryable when the SDK says so or the server answered 5xx/throttled; else one line naming it. */
function fault(operation: string, uri: string, err: unknown): Error {
  const e = err as { $retryable?: unknown; $metadata?: { httpStatusCode?: number }; code?: string };
  const status = e.$metadata?.httpStatusCode;
  const message = `S3 ${operation} of ${uri} failed: ${reason(err)}`;
  const transient =
    e.$retryable !== undefined ||
    (status !== undefined && (status >= 500 || status === 429)) ||
    ['ECONNRESET', 'ECONNREFUSED', 'ETIMEDOUT', 'EPIPE'].includes(e.code ?? '');
  return transient ? new RetryableError(message, err) : new Error(message, { cause: err });
}
