import { availableParallelism } from 'node:os';
import { BadInputError, PermanentError, PipelineError } from '@pv-pipeline/core';
import { Piscina } from 'piscina';
import type { DecodeTask, EncodedReadings } from './decode-readings.js';

/**
 * A pool of worker threads that run {@link decodeReadings}, so that decoding
 * and encoding use every core while the main thread does I/O and commits.
 * Errors keep their class across the thread boundary (a BadInputError in a
 * worker is a BadInputError here).
 */
export class DecodePool {
  readonly #pool: Piscina;

  /** @param threads worker threads; default the number of cores */
  constructor(threads = availableParallelism()) {
    this.#pool = new Piscina({
      filename: workerFile(),
      minThreads: threads,
      maxThreads: threads,
      idleTimeout: 30_000,
    });
  }

  /** Runs one task on a worker, transferring the object's bytes. */
  run = async (task: DecodeTask): Promise<EncodedReadings> => {
    const buf = task.bytes.buffer;
    const transfer = buf instanceof ArrayBuffer && task.bytes.byteLength === buf.byteLength ? [buf] : [];
    try {
      return (await this.#pool.run(task, { transferList: transfer })) as EncodedReadings;
    } catch (err) {
      throw reviveError(err);
    }
  };

  /** Stops the workers. */
  async close(): Promise<void> {
    await this.#pool.destroy();
  }
}

/**
 * The worker-thread module: the built JS, or (running from the TypeScript
 * sources, as the tests do) a bootstrap that registers tsx first.
 */
function workerFile(): string {
  const here = import.meta.url;
  return new URL(here.endsWith('.ts') ? './decode-worker-bootstrap.mjs' : './decode-worker.js', here).href;
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
