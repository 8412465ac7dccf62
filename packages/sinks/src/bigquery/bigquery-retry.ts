import { setTimeout as sleep } from 'node:timers/promises';
import { PermanentError, RetryableError } from '@pv-pipeline/core';

/** The parts of a BigQuery `ApiError` (or a job's `errorResult`) the sink looks at. */
export interface BigQueryErrorLike {
  code?: number;
  message?: string;
  reason?: string;
  errors?: Array<{ reason?: string; message?: string; location?: string }>;
}

/** HTTP statuses BigQuery documents as transient (retry with backoff). */
const TRANSIENT_STATUS = new Set([408, 429, 500, 502, 503, 504]);
/** Error reasons BigQuery documents as transient, in replies and in a job's `errorResult`. */
const TRANSIENT_REASONS = new Set(['backendError', 'internalError', 'rateLimitExceeded', 'timeout', 'jobBackendError']);
/** Network failures below HTTP (the reply was lost; the request may or may not have been processed). */
const NETWORK_CODES = new Set([
  'ECONNRESET',
  'ECONNREFUSED',
  'ETIMEDOUT',
  'EPIPE',
  'EAI_AGAIN',
  'ECONNABORTED',
  'UND_ERR_SOCKET',
]);

/** HTTP status of a client error, if it carries one. */
export function httpStatus(err: unknown): number | undefined {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'number' ? code : undefined;
}

/** Every `reason` an error or job error carries. */
export function errorReasons(err: unknown): string[] {
  const e = err as BigQueryErrorLike | null;
  if (!e) return [];
  const out = (e.errors ?? []).map((x) => x.reason ?? '').filter(Boolean);
  if (e.reason) out.unshift(e.reason);
  return out;
}

/** True for faults worth another try: 408/429/5xx, transient reasons, lost connections. */
export function isTransientBigQueryError(err: unknown): boolean {
  const status = httpStatus(err);
  if (status !== undefined && TRANSIENT_STATUS.has(status)) return true;
  if (errorReasons(err).some((r) => TRANSIENT_REASONS.has(r))) return true;
  const code = (err as { code?: unknown } | null)?.code;
  if (typeof code === 'string' && NETWORK_CODES.has(code)) return true;
  const message = (err as Error | null)?.message ?? '';
  return /socket hang up|network|ECONNRESET|ECONNREFUSED|ETIMEDOUT|EPIPE/i.test(message);
}

/** A one-line description of a BigQuery error without request details (never headers or tokens). */
export function describeBigQueryError(err: unknown): string {
  const e = err as BigQueryErrorLike | null;
  if (!e) return String(err);
  const status = httpStatus(err);
  const first = e.errors?.[0];
  const reason = e.reason ?? first?.reason;
  const message = (e.message ?? first?.message ?? String(err)).split('\n')[0];
  return `${status !== undefined ? `HTTP ${status} ` : ''}${reason ? `${reason}: ` : ''}${message}`;
}

/** Options of {@link withRetries}. */
export interface RetryOptions {
  /** Tries in all (the first one included). @defaultValue 6 */
  attempts?: number;
  /** First delay, ms; doubles each time with jitter, up to 8 s. @defaultValue 500 */
  baseMs?: number;
  /** Whether an error is worth another try. @defaultValue {@link isTransientBigQueryError} */
  retryable?: (err: unknown) => boolean;
  /** No retry starts past this many ms after the first try (fail fast). @defaultValue none */
  deadlineMs?: number;
  /** Told of each retry as it is scheduled (to announce it). @defaultValue nothing */
  onRetry?: RetryListener;
}

/** Told of a retry: what is retried, which try comes next (2 = the first retry), after how long, and why. */
export type RetryListener = (what: string, nextAttempt: number, delayMs: number, reason: string) => void;

/**
 * Runs `fn`, trying again on transient faults with exponential backoff and
 * jitter. The client already retries most JSON calls itself (autoRetry, 3
 * times); this covers what it does not: uploads (sent once by the client),
 * a fault that outlasts its retries, and lost connections. Whatever is still
 * failing at the end becomes a {@link RetryableError} (transient) or a
 * {@link PermanentError}, naming `what`.
 */
export async function withRetries<T>(
  what: string,
  fn: (attempt: number) => Promise<T>,
  o: RetryOptions = {},
): Promise<T> {
  const attempts = o.attempts ?? 6;
  const base = o.baseMs ?? 500;
  const retryable = o.retryable ?? isTransientBigQueryError;
  const started = Date.now();
  for (let attempt = 0; ; attempt++) {
    try {
      return await fn(attempt);
    } catch (err) {
      const transient = retryable(err);
      const delay = Math.min(8000, base * 2 ** attempt) * (0.5 + Math.random() / 2);
      const pastDeadline = o.deadlineMs !== undefined && Date.now() + delay - started > o.deadlineMs;
      if (!transient || attempt + 1 >= attempts || pastDeadline) {
        if (err instanceof RetryableError || err instanceof PermanentError) throw err;
        const reason = `${what}: ${describeBigQueryError(err)}`;
        throw transient ? new RetryableError(reason, err) : new PermanentError(reason, err);
      }
      o.onRetry?.(what, attempt + 2, delay, describeBigQueryError(err));
      await sleep(delay);
    }
  }
}
