import { DEFAULTS } from '@pv-pipeline/core';

/** Options of {@link LoadBatcher}. */
export interface LoadBatcherOptions<T> {
  /** Fact rows an item brings (a manifest's `rows`). */
  rowsOf: (item: T) => number;
  /**
   * Commits one batch. Batches commit one at a time, in order, on the
   * batcher's chain; a rejection is the caller's to handle (the chain goes on).
   */
  commit: (batch: T[]) => Promise<void>;
  /** Commit once this many fact rows wait. @defaultValue 1,000,000 */
  batchRows?: number;
  /** Commit once this many items wait. @defaultValue 500 */
  batchObjects?: number;
  /** Commit what waits once the oldest item has waited this long, ms. @defaultValue none (size and {@link LoadBatcher.flush} only) */
  maxWaitMs?: number;
  /**
   * Whether nothing more is on its way. Asked every `idlePollMs` while items
   * wait: when it says so, they commit at once instead of after `maxWaitMs`.
   * @defaultValue none (size and age only)
   */
  upstreamIdle?: () => Promise<boolean>;
  /** How often `upstreamIdle` is asked while items wait, ms. @defaultValue 200 */
  idlePollMs?: number;
  /** Told when `upstreamIdle` throws (the wait then goes on). @defaultValue ignore */
  onIdleCheckError?: (err: unknown) => void;
}

/** Default fact rows per commit where neither the user (`--batch-rows`, `PV_LOAD_BATCH_ROWS`) nor the sink says (`commitBatchRows`). */
export const DEFAULT_BATCH_ROWS = DEFAULTS.batchRows;
/** Default objects per commit (the loader's `PV_LOAD_BATCH_OBJECTS`). */
export const DEFAULT_BATCH_OBJECTS = DEFAULTS.batchObjects;

/**
 * The load stage's batching, shared by both executors: gathers items into
 * batches by rows, objects and age, and commits them one batch at a time on a
 * chain that other sink work can join ({@link serial}: dimension refreshes,
 * run records), so the sink sees one writer. Small commits cost a sink far
 * more per row than large ones, hence the size limits; the age limit and the
 * idle check bound how long an item waits.
 */
export class LoadBatcher<T> {
  readonly #o: LoadBatcherOptions<T>;
  #pending: T[] = [];
  #pendingRows = 0;
  #timer: NodeJS.Timeout | null = null;
  #idlePoll: NodeJS.Timeout | null = null;
  #chain: Promise<void> = Promise.resolve();
  #inFlight = 0;

  constructor(options: LoadBatcherOptions<T>) {
    this.#o = options;
  }

  /**
   * Queues an item. Resolves once the batcher is not too far behind: with a
   * batch committing and another full one waiting, the caller waits (backpressure).
   */
  async add(item: T): Promise<void> {
    this.#pending.push(item);
    this.#pendingRows += this.#o.rowsOf(item);
    const full =
      this.#pendingRows >= (this.#o.batchRows ?? DEFAULT_BATCH_ROWS) ||
      this.#pending.length >= (this.#o.batchObjects ?? DEFAULT_BATCH_OBJECTS);
    if (full) {
      this.#cut();
      // keep at most one batch committing and one filling
      if (this.#inFlight > 1) await this.#chain;
      return;
    }
    if (this.#o.maxWaitMs !== undefined) this.#timer ??= setTimeout(() => this.#cut(), this.#o.maxWaitMs);
    this.#pollIdle();
  }

  /** Commits whatever waits and resolves when every commit (and serial task) is done. */
  async flush(): Promise<void> {
    if (this.#idlePoll) clearTimeout(this.#idlePoll);
    this.#idlePoll = null;
    this.#cut();
    await this.#chain;
  }

  /** Runs `fn` on the commit chain, after the commits before it. */
  serial<R>(fn: () => Promise<R>): Promise<R> {
    const p = this.#chain.then(fn);
    this.#chain = p.then(
      () => undefined,
      () => undefined,
    );
    return p;
  }

  /** Moves what waits into a batch on the chain. */
  #cut(): void {
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = null;
    if (this.#pending.length === 0) return;
    const batch = this.#pending;
    this.#pending = [];
    this.#pendingRows = 0;
    this.#inFlight++;
    void this.serial(async () => {
      try {
        await this.#o.commit(batch);
      } finally {
        this.#inFlight--;
      }
    });
  }

  /** While items wait, asks now and then whether more can come; if not, commits them at once. */
  #pollIdle(): void {
    const idle = this.#o.upstreamIdle;
    if (!idle || this.#idlePoll) return;
    this.#idlePoll = setTimeout(async () => {
      let now = false;
      try {
        now = await idle();
      } catch (err) {
        this.#o.onIdleCheckError?.(err);
      }
      this.#idlePoll = null;
      if (this.#pending.length === 0) return;
      if (now) this.#cut();
      else this.#pollIdle();
    }, this.#o.idlePollMs ?? 200);
  }
}

/**
 * Commits a batch whole, and when that fails, each half of it the same way
 * (bisection), so that a bad object fails alone while the others load: one
 * bad object in n costs about 2·log2(n) more commits, not n (each of a
 * BigQuery commit's jobs takes seconds). `commit` commits a group; `failed` is
 * told about an object whose own commit failed; `onSplit` about each split.
 */
export async function commitOrSplit<T>(
  batch: readonly T[],
  commit: (group: readonly T[]) => Promise<void>,
  failed: (item: T, err: unknown) => Promise<void>,
  onSplit?: (err: unknown, size: number) => void,
): Promise<void> {
  try {
    await commit(batch);
  } catch (err) {
    if (batch.length === 1) return failed(batch[0]!, err);
    onSplit?.(err, batch.length);
    const half = Math.ceil(batch.length / 2);
    await commitOrSplit(batch.slice(0, half), commit, failed, onSplit);
    await commitOrSplit(batch.slice(half), commit, failed, onSplit);
  }
}
