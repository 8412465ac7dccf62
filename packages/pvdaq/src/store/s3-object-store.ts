import { PassThrough, type Readable } from 'node:stream';
import type {
  _Object,
  GetObjectCommandOutput,
  ListObjectsV2CommandInput,
  ListObjectsV2CommandOutput,
  S3Client,
  S3ClientConfig,
} from '@aws-sdk/client-s3';
import { BadInputError, type ObjectInfo, PermanentError, RetryableError } from '@pv-pipeline/core';
import {
  changedSinceListedError,
  type GetBytesOptions,
  type GetStreamOptions,
  type ObjectStore,
} from './object-store.js';
import { checkRange, readLimited, tooLargeError } from './read-limits.js';

/** The public OEDI bucket, readable without credentials. */
export const OEDI_BUCKET = 'oedi-data-lake';

/** Options of {@link S3ObjectStore}. */
export interface S3ObjectStoreOptions {
  /** Bucket name, e.g. `oedi-data-lake`. Required. */
  bucket: string;
  /**
   * The root inside the bucket, without leading or trailing `/`, e.g. `pvdaq`.
   * Keys are read as `${prefix}/${key}`.
   * @defaultValue `''` (the bucket root).
   */
  prefix?: string;
  /** AWS region of the bucket (also the signing region). @defaultValue `us-west-2` */
  region?: string;
  /**
   * Endpoint of an S3-compatible server, e.g. `http://127.0.0.1:4569`.
   * @defaultValue none (AWS S3 itself, endpoint derived from `region`).
   */
  endpoint?: string;
  /**
   * Address buckets as `endpoint/bucket/key` instead of `bucket.endpoint/key`.
   * @defaultValue `true` when `endpoint` is set, else `false`.
   */
  forcePathStyle?: boolean;
  /**
   * Send unsigned (anonymous) requests; no credential provider is ever consulted.
   * @defaultValue `true` when no `endpoint` is set and `bucket` is `oedi-data-lake`
   * (the public OEDI bucket), else `false`. Ignored (treated as false) when
   * `credentials` are given.
   */
  anonymous?: boolean;
  /**
   * Explicit credentials.
   * @defaultValue the standard AWS default chain (environment,
   * shared config files, SSO, container/instance metadata), unless `anonymous`.
   */
  credentials?: S3ClientConfig['credentials'];
  /** Attempts per request, including the first, with the SDK's `standard` retry mode. @defaultValue 5 */
  maxAttempts?: number;
  /** Milliseconds allowed to establish a TCP/TLS connection. @defaultValue 10 000 */
  connectionTimeoutMs?: number;
  /** Milliseconds a socket may stay idle (also while streaming a body) before it fails. @defaultValue 60 000 */
  socketTimeoutMs?: number;
  /** Maximum parallel sockets of the client. @defaultValue 64 */
  maxSockets?: number;
}

const DEFAULT_REGION = 'us-west-2';

type NodeBody = Readable & { transformToByteArray?: () => Promise<Uint8Array> };

/** The AWS SDK's S3 client module and the HTTP handler it is given. */
interface S3Sdk {
  s3: typeof import('@aws-sdk/client-s3');
  http: typeof import('@smithy/node-http-handler');
}

let sdkLoading: Promise<S3Sdk> | undefined;
/**
 * Imports the SDK on first use, once per process: a run over a `file://` mirror
 * never loads its modules (a demo run peaks 4–8 MiB lower without them).
 */
function loadSdk(): Promise<S3Sdk> {
  sdkLoading ??= Promise.all([import('@aws-sdk/client-s3'), import('@smithy/node-http-handler')]).then(
    ([s3, http]) => ({ s3, http }),
  );
  return sdkLoading;
}

/** Error names (S3 codes or SDK error names) that mean "try again later". */
const RETRYABLE_NAMES = new Set([
  'SlowDown',
  'Throttling',
  'ThrottlingException',
  'ThrottledException',
  'RequestThrottled',
  'RequestThrottledException',
  'TooManyRequestsException',
  'RequestLimitExceeded',
  'BandwidthLimitExceeded',
  'RequestTimeout',
  'RequestTimeoutException',
  'TimeoutError',
  'InternalError',
  'ServiceUnavailable',
  'ServerError',
  'PriorRequestNotComplete',
  'OperationAborted',
]);

/** Node/system error codes of network faults. */
const NETWORK_CODES = new Set([
  'ECONNRESET',
  'ECONNREFUSED',
  'ECONNABORTED',
  'ETIMEDOUT',
  'EPIPE',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'EHOSTDOWN',
  'ENETUNREACH',
  'ENETDOWN',
  'ENOTCONN',
  'ESOCKETTIMEDOUT',
  'ERR_STREAM_PREMATURE_CLOSE',
  'UND_ERR_SOCKET',
  'UND_ERR_CONNECT_TIMEOUT',
]);

interface SdkErrorShape {
  name?: string;
  code?: string;
  message?: string;
  $retryable?: unknown;
  $metadata?: { httpStatusCode?: number; attempts?: number };
  Code?: string;
}

function shape(err: unknown): SdkErrorShape {
  return typeof err === 'object' && err !== null ? (err as SdkErrorShape) : { message: String(err) };
}

function statusOf(err: unknown): number | undefined {
  return shape(err).$metadata?.httpStatusCode;
}

function isNotFound(err: unknown): boolean {
  const e = shape(err);
  return e.name === 'NoSuchKey' || e.name === 'NotFound' || (statusOf(err) === 404 && e.name !== 'NoSuchBucket');
}

/** A short description of an SDK or network error: name/code, status, message, attempts. */
function reasonOf(err: unknown): string {
  const e = shape(err);
  const parts: string[] = [];
  const status = statusOf(err);
  const label = e.code && e.code !== e.name ? `${e.name ?? 'Error'} ${e.code}` : (e.name ?? 'Error');
  parts.push(status ? `HTTP ${status} ${label}` : label);
  const message = (e.message ?? '').split('\n')[0]?.trim();
  if (message && message !== e.name && message !== 'UnknownError') parts.push(message);
  let text = parts.join(': ');
  const attempts = e.$metadata?.attempts;
  if (attempts && attempts > 1) text += ` (after ${attempts} attempts)`;
  return text;
}

function isRetryableFault(err: unknown): boolean {
  const e = shape(err);
  const status = statusOf(err);
  if (status !== undefined && (status >= 500 || status === 408 || status === 429)) return true;
  if (e.name && RETRYABLE_NAMES.has(e.name)) return true;
  if (e.code && (NETWORK_CODES.has(e.code) || RETRYABLE_NAMES.has(e.code))) return true;
  if (e.$retryable) return true;
  // No HTTP response at all: the request never completed (socket, DNS, TLS, abort by the peer).
  if (
    status === undefined &&
    e.name !== 'CredentialsProviderError' &&
    /socket|network|connect|hang up|EOF/i.test(e.message ?? '')
  ) {
    return true;
  }
  return false;
}

/**
 * A read-only {@link ObjectStore} over S3 or an S3-compatible server, via
 * `@aws-sdk/client-s3`. Listing follows continuation tokens; transient faults
 * are retried by the SDK (`standard` mode, `maxAttempts`) and, when they persist,
 * surface as `RetryableError`. Checksums are only computed/validated when an
 * operation requires them (`WHEN_REQUIRED`), which S3-compatible servers such as
 * s3rver need. Keys ending in `/` (zero-byte "folder markers") are not listed.
 */
export class S3ObjectStore implements ObjectStore {
  readonly url: string;
  readonly bucket: string;
  /** The root inside the bucket, without slashes at either end (may be empty). */
  readonly prefix: string;
  /** Whether requests go out unsigned. */
  readonly anonymous: boolean;
  readonly #options: S3ObjectStoreOptions;
  readonly #endpoint: string | undefined;
  #client: Promise<{ sdk: S3Sdk; client: S3Client }> | undefined;

  constructor(options: S3ObjectStoreOptions) {
    if (!options.bucket) throw new BadInputError('bucket', 'bucket name is empty');
    this.bucket = options.bucket;
    this.prefix = (options.prefix ?? '').replace(/^\/+|\/+$/g, '');
    const endpoint = options.endpoint ? options.endpoint.replace(/\/+$/, '') : undefined;
    this.anonymous =
      options.credentials === undefined &&
      (options.anonymous ?? (endpoint === undefined && options.bucket === OEDI_BUCKET));
    this.url = `s3://${this.bucket}${this.prefix ? `/${this.prefix}` : ''}${endpoint ? ` via ${redactEndpoint(endpoint)}` : ''}`;

    this.#options = options;
    this.#endpoint = endpoint;
  }

  /** The SDK and this store's client, both made on the first request. */
  #s3(): Promise<{ sdk: S3Sdk; client: S3Client }> {
    this.#client ??= loadSdk().then((sdk) => ({ sdk, client: new sdk.s3.S3Client(this.#clientConfig(sdk)) }));
    return this.#client;
  }

  /** The client's settings, from the store's options (the HTTP handler is the SDK's, hence `sdk`). */
  #clientConfig(sdk: S3Sdk): S3ClientConfig {
    const options = this.#options;
    const endpoint = this.#endpoint;
    const config: S3ClientConfig = {
      region: options.region ?? DEFAULT_REGION,
      maxAttempts: options.maxAttempts ?? 5,
      retryMode: 'standard',
      requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_REQUIRED',
      requestHandler: new sdk.http.NodeHttpHandler({
        connectionTimeout: options.connectionTimeoutMs ?? 10_000,
        socketTimeout: options.socketTimeoutMs ?? 60_000,
        httpAgent: { keepAlive: true, maxSockets: options.maxSockets ?? 64 },
        httpsAgent: { keepAlive: true, maxSockets: options.maxSockets ?? 64 },
      }),
    };
    if (endpoint !== undefined) {
      config.endpoint = endpoint;
      config.forcePathStyle = options.forcePathStyle ?? true;
    } else if (options.forcePathStyle !== undefined) {
      config.forcePathStyle = options.forcePathStyle;
    }
    if (this.anonymous) {
      Object.assign(config, anonymousAuthConfig());
    } else if (options.credentials !== undefined) {
      config.credentials = options.credentials;
    }
    return config;
  }

  private fullKey(key: string): string {
    return this.prefix ? `${this.prefix}/${key}` : key;
  }

  private relativeKey(fullKey: string): string {
    return this.prefix ? fullKey.slice(this.prefix.length + 1) : fullKey;
  }

  /** Maps any SDK/network error to the pipeline's classes; `subject` is the key or prefix. */
  private mapError(err: unknown, subject: string, operation: string): Error {
    if (err instanceof BadInputError || err instanceof RetryableError || err instanceof PermanentError) return err;
    const e = shape(err);
    const status = statusOf(err);
    const name = subject === '' ? '(root)' : subject;
    const where = `S3 ${operation} on ${this.url}`;
    if (isRetryableFault(err)) return new RetryableError(`${name}: ${where} failed: ${reasonOf(err)}`, err);
    if (e.name === 'InvalidRange' || status === 416) {
      return new BadInputError(name, `requested range is not satisfiable (${reasonOf(err)})`, err);
    }
    if (e.name === 'CredentialsProviderError') {
      return new PermanentError(
        `${name}: ${where} failed: no AWS credentials found (configure credentials or use anonymous access): ${reasonOf(err)}`,
        err,
      );
    }
    if (e.name === 'NoSuchBucket') {
      return new PermanentError(`${name}: ${where} failed: bucket ${this.bucket} does not exist`, err);
    }
    if (status === 403 || e.name === 'AccessDenied' || e.name === 'Forbidden') {
      return new PermanentError(`${name}: ${where} failed: access denied: ${reasonOf(err)}`, err);
    }
    return new PermanentError(`${name}: ${where} failed: ${reasonOf(err)}`, err);
  }

  private toInfo(obj: _Object): ObjectInfo | null {
    if (obj.Key === undefined || obj.Key.endsWith('/')) return null;
    const info: ObjectInfo = {
      key: this.relativeKey(obj.Key),
      etag: unquote(obj.ETag),
      size: obj.Size ?? 0,
    };
    if (obj.LastModified) info.lastModified = obj.LastModified;
    return info;
  }

  private async *pages(prefix: string, delimiter: string | undefined): AsyncGenerator<ListObjectsV2CommandOutput> {
    const input: ListObjectsV2CommandInput = { Bucket: this.bucket, Prefix: this.fullKey(prefix) };
    if (!this.prefix && prefix === '') delete input.Prefix;
    if (delimiter) input.Delimiter = delimiter;
    const { sdk, client } = await this.#s3();
    const paginator = sdk.s3.paginateListObjectsV2({ client, pageSize: 1000 }, input);
    while (true) {
      let step: IteratorResult<ListObjectsV2CommandOutput>;
      try {
        step = await paginator.next();
      } catch (err) {
        throw this.mapError(err, prefix, 'ListObjectsV2');
      }
      if (step.done) return;
      yield step.value;
    }
  }

  async *listObjects(prefix: string): AsyncIterable<ObjectInfo> {
    for await (const page of this.pages(prefix, undefined)) {
      for (const obj of page.Contents ?? []) {
        const info = this.toInfo(obj);
        if (info) yield info;
      }
    }
  }

  async listChildren(prefix: string): Promise<{ prefixes: string[]; objects: ObjectInfo[] }> {
    const prefixes: string[] = [];
    const objects: ObjectInfo[] = [];
    for await (const page of this.pages(prefix, '/')) {
      for (const cp of page.CommonPrefixes ?? []) {
        if (cp.Prefix !== undefined) prefixes.push(this.relativeKey(cp.Prefix));
      }
      for (const obj of page.Contents ?? []) {
        const info = this.toInfo(obj);
        if (info) objects.push(info);
      }
    }
    return { prefixes, objects };
  }

  async head(key: string): Promise<ObjectInfo | null> {
    try {
      const { sdk, client } = await this.#s3();
      const out = await client.send(new sdk.s3.HeadObjectCommand({ Bucket: this.bucket, Key: this.fullKey(key) }));
      const info: ObjectInfo = { key, etag: unquote(out.ETag), size: out.ContentLength ?? 0 };
      if (out.LastModified) info.lastModified = out.LastModified;
      return info;
    } catch (err) {
      if (isNotFound(err)) return null;
      throw this.mapError(err, key, 'HeadObject');
    }
  }

  /**
   * GetObject, pinned to `ifMatch` when given: S3 answers 412 for another
   * version, and a server that ignores If-Match is caught by the ETag it sends.
   */
  private async getObject(key: string, range?: { start: number; end: number }, ifMatch?: string) {
    let out: GetObjectCommandOutput;
    const { sdk, client } = await this.#s3();
    try {
      out = await client.send(
        new sdk.s3.GetObjectCommand({
          Bucket: this.bucket,
          Key: this.fullKey(key),
          ...(range ? { Range: `bytes=${range.start}-${range.end}` } : {}),
          ...(ifMatch ? { IfMatch: `"${ifMatch}"` } : {}),
        }),
      );
    } catch (err) {
      if (isNotFound(err)) throw new BadInputError(key, 'object not found', err);
      if (ifMatch && statusOf(err) === 412) throw changedSinceListedError(key, ifMatch);
      throw this.mapError(err, key, 'GetObject');
    }
    if (ifMatch && out.ETag !== undefined && unquote(out.ETag) !== ifMatch) {
      (out.Body as NodeBody | undefined)?.destroy();
      throw changedSinceListedError(key, ifMatch, unquote(out.ETag));
    }
    return out;
  }

  async getStream(key: string, options: GetStreamOptions = {}): Promise<Readable> {
    if (options.range) checkRange(key, options.range);
    const out = await this.getObject(key, options.range, options.ifMatch);
    const body = out.Body as NodeBody | undefined;
    if (!body) throw new PermanentError(`${key}: S3 GetObject on ${this.url} returned no body`);
    // Errors while the caller reads (a reset mid-body, a socket timeout) are mapped too.
    const mapped = new PassThrough();
    body.on('error', (err) => mapped.destroy(this.mapError(err, key, 'GetObject (reading the body)')));
    mapped.on('close', () => {
      if (!body.destroyed) body.destroy();
    });
    body.pipe(mapped);
    return mapped;
  }

  async getBytes(key: string, options: GetBytesOptions): Promise<Uint8Array> {
    const out = await this.getObject(key, undefined, options.ifMatch);
    const body = out.Body as NodeBody | undefined;
    if (!body) throw new PermanentError(`${key}: S3 GetObject on ${this.url} returned no body`);
    const size = out.ContentLength;
    if (size !== undefined && size > options.maxBytes) {
      body.destroy();
      throw tooLargeError(key, size, options.maxBytes);
    }
    try {
      return await readLimited(body, key, options.maxBytes, size);
    } catch (err) {
      throw this.mapError(err, key, 'GetObject (reading the body)');
    }
  }

  async close(): Promise<void> {
    if (this.#client) (await this.#client).client.destroy();
  }
}

function unquote(etag: string | undefined): string {
  return (etag ?? '').replace(/^(W\/)?"|"$/g, '');
}

/** An endpoint for messages, without any `user:password@`. */
function redactEndpoint(endpoint: string): string {
  try {
    const u = new URL(endpoint);
    u.username = '';
    u.password = '';
    return u.href.replace(/\/+$/, '');
  } catch {
    return endpoint.replace(/\/\/[^/@]*@/, '//');
  }
}

/**
 * Client settings for unsigned requests: the only auth scheme offered is
 * `smithy.api#noAuth`, whose identity is empty and whose signer returns the
 * request unchanged, so neither `credentials` nor the default provider chain is
 * ever called. The legacy `signer` and a `credentials` provider that throws are
 * set as well, so any code path that still tried to sign would fail loudly
 * instead of reaching the default chain.
 */
function anonymousAuthConfig(): Partial<S3ClientConfig> {
  const passThroughSigner = { sign: async <T>(request: T): Promise<T> => request };
  const noCredentials = async (): Promise<never> => {
    throw new PermanentError('anonymous S3 client: credentials must not be resolved');
  };
  return {
    httpAuthSchemes: [
      {
        schemeId: 'smithy.api#noAuth',
        identityProvider: () => async () => ({}),
        signer: passThroughSigner,
      },
    ],
    httpAuthSchemeProvider: () => [{ schemeId: 'smithy.api#noAuth' }],
    signer: passThroughSigner,
    credentials: noCredentials,
  };
}
