import { createReadStream, createWriteStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import {
  DeleteObjectsCommand,
  GetObjectCommand,
  HeadBucketCommand,
  PutObjectCommand,
  S3Client,
} from '@aws-sdk/client-s3';
import { BadInputError, RetryableError } from '@pv-pipeline/core';
import { downloadDir, type LocalCopies, type StagingArea, writeStreamToFile } from './staging-area.js';

/** Options of {@link S3StagingArea}. */
export interface S3StagingOptions {
  bucket: string;
  /** Key prefix of the staged files (no trailing slash). */
  prefix: string;
  /** S3-compatible endpoint (path-style); AWS when absent. */
  endpoint?: string;
  /** Region. @defaultValue `AWS_REGION` of the SDK's chain, else us-west-2 */
  region?: string;
}

/**
 * Staging under `s3://bucket/prefix`, for workers and a loader on different
 * nodes without a shared volume. Credentials come from the standard AWS
 * chain. An object appears only once its PUT completes, so a crash never
 * leaves half a file under its name; the loader downloads a batch's files to
 * a temp directory for the sink, then deletes them from the bucket.
 */
export class S3StagingArea implements StagingArea {
  readonly url: string;
  readonly #o: S3StagingOptions;
  readonly #client: S3Client;

  constructor(options: S3StagingOptions) {
    this.#o = options;
    this.url = `s3://${options.bucket}/${options.prefix}`;
    this.#client = new S3Client({
      region: options.region ?? process.env.AWS_REGION ?? 'us-west-2',
      ...(options.endpoint ? { endpoint: options.endpoint, forcePathStyle: true } : {}),
      requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_REQUIRED',
    });
  }

  #key(name: string): string {
    return this.#o.prefix ? `${this.#o.prefix}/${name}` : name;
  }

  #refKey(ref: string): string {
    const head = `s3://${this.#o.bucket}/`;
    if (!ref.startsWith(head)) throw new BadInputError(ref, `staged file is not under ${this.url}`);
    return ref.slice(head.length);
  }

  async init(): Promise<void> {
    try {
      await this.#client.send(new HeadBucketCommand({ Bucket: this.#o.bucket }));
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
      await this.#client.send(new PutObjectCommand({ Bucket: this.#o.bucket, Key: key, Body: Buffer.from(bytes) }));
    } catch (err) {
      throw new RetryableError(`staging ${this.url}: cannot put ${key}: ${(err as Error).message}`, err);
    }
    return `s3://${this.#o.bucket}/${key}`;
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
        await this.#client.send(
          new PutObjectCommand({ Bucket: this.#o.bucket, Key: key, Body: createReadStream(path), ContentLength: size }),
        );
      } catch (err) {
        throw new RetryableError(`staging ${this.url}: cannot put ${key}: ${(err as Error).message}`, err);
      }
      return { ref: `s3://${this.#o.bucket}/${key}`, bytes: size };
    } finally {
      await tmp.release();
    }
  }

  async localize(refs: readonly string[]): Promise<LocalCopies> {
    const tmp = await downloadDir();
    const paths = new Map<string, string>();
    try {
      await Promise.all(
        refs.map(async (ref, i) => {
          const r = await this.#client.send(new GetObjectCommand({ Bucket: this.#o.bucket, Key: this.#refKey(ref) }));
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
    for (let i = 0; i < keys.length; i += 1000) {
      await this.#client.send(
        new DeleteObjectsCommand({
          Bucket: this.#o.bucket,
          Delete: { Objects: keys.slice(i, i + 1000).map((Key) => ({ Key })), Quiet: true },
        }),
      );
    }
  }
}
