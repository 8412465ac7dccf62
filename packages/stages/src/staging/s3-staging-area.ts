import { createReadStream, createWriteStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { S3Client } from '@aws-sdk/client-s3';
import { BadInputError, mapConcurrent, RetryableError } from '@pv-pipeline/core';
import { downloadDir, type LocalCopies, type StagingArea, writeStreamToFile } from './staging-area.js';

type S3Module = typeof import('@aws-sdk/client-s3');

/** Options of {@link S3StagingArea}. */
export interface S3StagingOptions {
  bucket: string;
  /** Key prefix of the staged files (no trailing slash). */
  prefix: string;
  /** S3-compatible endpoint (path-style); AWS when absent. */
  endpoint?: string;
  /** Region. @defaultValue `AWS_REGION` of the SDK's chain, else us-west-2 */
  region?: string;
  /** Access key. @defaultValue the AWS credential chain */
  credentials?: { accessKeyId: string; secretAccessKey: string };
  /**
   * The URL scheme of the staged files' references: `gs` for Cloud Storage
   * through its S3-compatible XML API, whose `gs://` URIs a BigQuery load job
   * reads. @defaultValue `s3`
   */
  scheme?: 's3' | 'gs';
}

/** Cloud Storage's XML API, which speaks the S3 protocol to HMAC keys. */
export const GCS_XML_ENDPOINT = 'https://storage.googleapis.com';

/** Deletes in flight at once where the store has no multi-object delete (Cloud Storage). */
const DELETE_CONCURRENCY = 16;

/**
 * Staging under `s3://bucket/prefix`, for workers and a loader on different
 * nodes without a shared volume, or under `gs://bucket/prefix` (Cloud Storage
 * through its XML API, see {@link openGcsStagingArea}). Credentials come from
 * the options, else the standard AWS chain. An object appears only once its
 * PUT completes, so a crash never leaves half a file under its name; the
 * loader downloads a batch's files to a temp directory for the sink (but for
 * the files a sink reads where they are: a BigQuery load job's `gs://` URIs),
 * then deletes them from the bucket.
 */
export class S3StagingArea implements StagingArea {
  readonly url: string;
  readonly #o: S3StagingOptions;
  #client: Promise<{ s3: S3Module; client: S3Client }> | undefined;

  constructor(options: S3StagingOptions) {
    this.#o = options;
    this.url = `${this.#scheme}://${options.bucket}/${options.prefix}`;
  }

  /** The SDK, imported on first use (a run staging on local disk never loads it), and this area's client. */
  #s3(): Promise<{ s3: S3Module; client: S3Client }> {
    const options = this.#o;
    this.#client ??= import('@aws-sdk/client-s3').then((s3) => ({
      s3,
      client: new s3.S3Client({
        region: options.region ?? process.env.AWS_REGION ?? 'us-west-2',
        ...(options.endpoint ? { endpoint: options.endpoint, forcePathStyle: true } : {}),
        ...(options.credentials ? { credentials: options.credentials } : {}),
        requestChecksumCalculation: 'WHEN_REQUIRED',
        responseChecksumValidation: 'WHEN_REQUIRED',
      }),
    }));
    return this.#client;
  }

  /** `gs://`: one DELETE per file (the XML API has no multi-object delete); `s3://`: 1,000 per request. */
  get removesFileByFile(): boolean {
    return this.#scheme === 'gs';
  }

  get #scheme(): 's3' | 'gs' {
    return this.#o.scheme ?? 's3';
  }

  /** The reference of a key: its URI. */
  #ref(key: string): string {
    return `${this.#scheme}://${this.#o.bucket}/${key}`;
  }

  #key(name: string): string {
    return this.#o.prefix ? `${this.#o.prefix}/${name}` : name;
  }

  #refKey(ref: string): string {
    const head = this.#ref('');
    if (!ref.startsWith(head)) throw new BadInputError(ref, `staged file is not under ${this.url}`);
    return ref.slice(head.length);
  }

  async init(): Promise<void> {
    try {
      const { s3, client } = await this.#s3();
      // Cloud Storage answers HeadBucket only to storage.buckets.get, which an object role lacks: list one key
      await client.send(
        this.#scheme === 'gs'
          ? new s3.ListObjectsV2Command({ Bucket: this.#o.bucket, Prefix: this.#key(''), MaxKeys: 1 })
          : new s3.HeadBucketCommand({ Bucket: this.#o.bucket }),
      );
    } catch (err) {
      throw new BadInputError(
        'PV_STAGING',
        `cannot reach bucket ${this.#o.bucket}: ${(err as Error).name} ${(err as Error).message}`,
      );
    }
  }

  async write(name: string, bytes: Uint8Array): Promise<string> {
    const key = this.#key(`${name}.parquet`);
    try {
      const { s3, client } = await this.#s3();
      await client.send(new s3.PutObjectCommand({ Bucket: this.#o.bucket, Key: key, Body: Buffer.from(bytes) }));
    } catch (err) {
      throw new RetryableError(`staging ${this.url}: cannot put ${key}: ${(err as Error).message}`, err);
    }
    return this.#ref(key);
  }

  /** Spools the stream to a local temp file, then PUTs it (a known length, never the whole file in memory). */
  async writeStream(name: string, chunks: AsyncIterable<Uint8Array>): Promise<{ ref: string; bytes: number }> {
    const tmp = await downloadDir();
    try {
      const path = join(tmp.dir, `${name}.parquet`);
      await writeStreamToFile(chunks, path);
      const { size } = await stat(path);
      const key = this.#key(`${name}.parquet`);
      try {
        const { s3, client } = await this.#s3();
        await client.send(
          new s3.PutObjectCommand({
            Bucket: this.#o.bucket,
            Key: key,
            Body: createReadStream(path),
            ContentLength: size,
          }),
        );
      } catch (err) {
        throw new RetryableError(`staging ${this.url}: cannot put ${key}: ${(err as Error).message}`, err);
      }
      return { ref: this.#ref(key), bytes: size };
    } finally {
      await tmp.release();
    }
  }

  async localize(refs: readonly string[]): Promise<LocalCopies> {
    const tmp = await downloadDir();
    const paths = new Map<string, string>();
    try {
      const { s3, client } = await this.#s3();
      await Promise.all(
        refs.map(async (ref, i) => {
          const r = await client.send(new s3.GetObjectCommand({ Bucket: this.#o.bucket, Key: this.#refKey(ref) }));
          const path = join(tmp.dir, `${i}.parquet`);
          await pipeline(r.Body as Readable, createWriteStream(path));
          paths.set(ref, path);
        }),
      );
    } catch (err) {
      await tmp.release();
      throw new RetryableError(`staging ${this.url}: cannot download staged files: ${(err as Error).message}`, err);
    }
    return {
      path: (ref) => {
        const p = paths.get(ref);
        if (!p) throw new BadInputError(ref, 'staged file was not downloaded');
        return p;
      },
      synced: false, // downloaded, never synced
      release: tmp.release,
    };
  }

  async remove(refs: ReadonlyArray<string | null>): Promise<void> {
    const keys = refs.filter((r): r is string => r !== null).map((r) => this.#refKey(r));
    if (keys.length === 0) return;
    const { s3, client } = await this.#s3();
    if (this.#scheme === 'gs') {
      // Cloud Storage's XML API has no multi-object delete: one DELETE each (a missing key is fine)
      await mapConcurrent(keys, DELETE_CONCURRENCY, (Key) =>
        client.send(new s3.DeleteObjectCommand({ Bucket: this.#o.bucket, Key })).catch((err: Error) => {
          if (err.name !== 'NoSuchKey' && err.name !== 'NotFound') throw err;
        }),
      );
      return;
    }
    for (let i = 0; i < keys.length; i += 1000) {
      await client.send(
        new s3.DeleteObjectsCommand({
          Bucket: this.#o.bucket,
          Delete: { Objects: keys.slice(i, i + 1000).map((Key) => ({ Key })), Quiet: true },
        }),
      );
    }
  }
}

/** Where and how `gs://` staging reaches Cloud Storage. */
export interface GcsAccess {
  /** XML API endpoint. @defaultValue {@link GCS_XML_ENDPOINT} */
  endpoint?: string;
  /** HMAC key of a service account (GCS_HMAC_ACCESS_ID, GCS_HMAC_SECRET). @defaultValue the AWS credential chain (an emulator's) */
  credentials?: { accessKeyId: string; secretAccessKey: string };
}

/**
 * Staging under `gs://bucket/prefix`, for a BigQuery sink: workers put the
 * staged files in Cloud Storage through its S3-compatible XML API (HMAC keys),
 * and the loader's load jobs read them there by their `gs://` URIs.
 */
export function openGcsStagingArea(bucket: string, prefix: string, access: GcsAccess = {}): S3StagingArea {
  return new S3StagingArea({
    bucket,
    prefix,
    scheme: 'gs',
    endpoint: access.endpoint ?? GCS_XML_ENDPOINT,
    region: 'auto',
    ...(access.credentials ? { credentials: access.credentials } : {}),
  });
}
