import { describeError, type Logger, type StagedManifest } from '@pv-pipeline/core';
import type { Sink } from '@pv-pipeline/sinks';
import { commitStaged } from './commit-staged.js';
import type { StagingArea } from './staging-area.js';

/** Options of {@link BatchLoader}. */
export interface BatchLoaderOptions {
  sink: Sink;
  staging: StagingArea;
  runId: string;
  logger: Logger;
  /** Commit once this many fact rows are waiting. Default 1,000,000. */
  batchRows?: number;
  /** Commit once this many objects are waiting. Default 500. */
  batchObjects?: number;
  /** Called after every commit with the manifests it made durable. */
  onCommitted?: (batch: readonly StagedManifest[], rows: number, replaced: number) => void;
  /** Called for an object whose commit failed on its own. */
  onFailed?: (manifest: StagedManifest, reason: string) => void;
}

/**
 * The load stage: gathers manifests into batches by rows and objects and
 * commits them to the sink one batch at a time, then deletes the staged
 * files. A batch that fails is retried object by object so that a bad object
 * fails alone and the others still load.
 */
export class BatchLoader {
  readonly #o: Required<Omit<BatchLoaderOptions, 'onCommitted' | 'onFailed'>> & BatchLoaderOptions;
  #pending: StagedManifest[] = [];
  #pendingRows = 0;
  #chain: Promise<void> = Promise.resolve();
  #inFlight = 0;

  constructor(options: BatchLoaderOptions) {
    this.#o = { batchRows: 1_000_000, batchObjects: 500, ...options };
  }

  /** Queues a manifest; resolves once the loader is not too far behind (backpressure). */
  async add(m: StagedManifest): Promise<void> {
    this.#pending.push(m);
    this.#pendingRows += m.rows;
    if (this.#pendingRows >= this.#o.batchRows || this.#pending.length >= this.#o.batchObjects) {
      this.#schedule();
      // keep at most one batch committing and one filling
      if (this.#inFlight > 1) await this.#chain;
    }
  }

  /** Commits whatever is waiting and resolves when every commit is done. */
  async flush(): Promise<void> {
    if (this.#pending.length > 0) this.#schedule();
    await this.#chain;
  }

  #schedule(): void {
    const batch = this.#pending;
    this.#pending = [];
    this.#pendingRows = 0;
    this.#inFlight++;
    this.#chain = this.#chain.then(async () => {
      try {
        await this.#commit(batch);
      } finally {
        this.#inFlight--;
      }
    });
  }

  async #commit(batch: StagedManifest[]): Promise<void> {
    const { sink, staging, runId, logger } = this.#o;
    try {
      const r = await commitStaged(sink, staging, batch, runId);
      this.#o.onCommitted?.(batch, r.rows, r.replaced);
    } catch (err) {
      if (batch.length === 1) {
        logger.error({ key: batch[0]!.key, err: describeError(err) }, 'commit failed');
        this.#o.onFailed?.(batch[0]!, `commit failed: ${describeError(err)}`);
      } else {
        logger.warn(
          { objects: batch.length, err: describeError(err) },
          'batch commit failed; retrying object by object',
        );
        for (const m of batch) await this.#commit([m]);
        return;
      }
    }
    await staging.remove(batch.map((m) => m.staged));
  }
}
