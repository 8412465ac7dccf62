import { availableParallelism } from 'node:os';
import { BadInputError, PermanentError, PipelineError } from '@pv-pipeline/core';
import { Piscina } from 'piscina';
import type { EncodedReadings, StageTask } from './stage-readings.js';
import { WARM_UP_ROUNDS } from './stage-warm-up.js';

/**
 * A pool of worker threads that run {@link stageReadings}, so that decoding
 * and encoding use every core while the main thread does I/O and commits.
 * Errors keep their class across the thread boundary (a BadInputError in a
 * worker is a BadInputError here).
 */
export class StagePool {
  readonly #pool: Piscina;
  readonly #threads: number;

  /** @param threads worker threads; default the number of cores */
  constructor(threads = availableParallelism()) {
    this.#threads = threads;
    this.#pool = new Piscina({
      filename: new URL('./stage-worker-bootstrap.mjs', import.meta.url).href,
      minThreads: threads,
      maxThreads: threads,
      idleTimeout: 30_000,
    });
  }

  /** Runs one task on a worker, transferring the object's bytes. */
  run = async (task: StageTask): Promise<EncodedReadings> => {
    const buf = task.bytes.buffer;
    const transfer = buf instanceof ArrayBuffer && task.bytes.byteLength === buf.byteLength ? [buf] : [];
    try {
      return (await this.#pool.run(task, { transferList: transfer })) as EncodedReadings;
    } catch (err) {
      throw reviveError(err);
    }
  };

  /**
   * Warms every thread up (see {@link warmUpStage}): one warm-up task per
   * thread, submitted together so that each idle thread takes one. Resolves
   * with the rows staged in all.
   *
   * @param rounds synthetic objects each thread stages
   */
  async warmUp(rounds = WARM_UP_ROUNDS): Promise<number> {
    const tasks = Array.from(
      { length: this.#threads },
      () => this.#pool.run(rounds, { name: 'warmUp' }) as Promise<number>,
    );
    return (await Promise.all(tasks)).reduce((a, b) => a + b, 0);
  }

  /** Stops the workers. */
  async close(): Promise<void> {
    await this.#pool.destroy();
  }
}

/** Structured clone drops error subclasses: rebuild ours from name and message. */
function reviveError(err: unknown): unknown {
  if (err instanceof PipelineError || !(err instanceof Error)) return err;
  const e = err as Error & { input?: string; reason?: string };
  if (e.name === 'BadInputError' && typeof e.input === 'string' && typeof e.reason === 'string') {
    return new BadInputError(e.input, e.reason);
  }
  if (e.name === 'BadInputError') {
    const i = e.message.indexOf(': ');
    return new BadInputError(e.message.slice(0, i), e.message.slice(i + 2));
  }
  if (e.name === 'PermanentError') return new PermanentError(e.message);
  return err;
}
