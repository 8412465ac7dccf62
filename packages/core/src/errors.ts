/**
 * The error hierarchy shared by every stage. Executors decide on retries from
 * the class alone: {@link RetryableError} is tried again with backoff,
 * {@link PermanentError} and {@link BadInputError} fail their object at once.
 */

/** Base class: every error a stage throws on purpose. */
export class PipelineError extends Error {
  /** Whether trying the same work again may succeed. */
  readonly retryable: boolean;

  constructor(message: string, options: { retryable: boolean; cause?: unknown }) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.retryable = options.retryable;
  }
}

/** A transient fault (network, throttling, a busy server): try again later. */
export class RetryableError extends PipelineError {
  constructor(message: string, cause?: unknown) {
    super(message, { retryable: true, cause });
  }
}

/** A fault that will not go away by itself (missing permissions, a bug). */
export class PermanentError extends PipelineError {
  constructor(message: string, cause?: unknown) {
    super(message, { retryable: false, cause });
  }
}

/**
 * One input (an object, a request, an option) is unusable. The message always
 * names the input and the reason, e.g. `pvdaq/…/x.csv: row 12: cell "abc" is not a number`.
 */
export class BadInputError extends PipelineError {
  /** The input at fault: an object key, an option name, a field. */
  readonly input: string;
  /** Why it is unusable, without the input's name. */
  readonly reason: string;

  constructor(input: string, reason: string, cause?: unknown) {
    super(`${input}: ${reason}`, { retryable: false, cause });
    this.input = input;
    this.reason = reason;
  }
}

/** True when `err` may succeed on another try (unknown errors count as not retryable). */
export function isRetryable(err: unknown): boolean {
  return err instanceof PipelineError && err.retryable;
}

/** A one-line description of any thrown value, for summaries and job failure reasons. */
export function describeError(err: unknown): string {
  if (err instanceof Error) return err.message.split('\n')[0] ?? err.name;
  return String(err);
}
