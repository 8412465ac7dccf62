import { Worker } from 'node:worker_threads';

/** A located system's buckets to compute the sun for (bucket indices, inclusive). */
export interface SunSpanRequest {
  ss_id: number;
  latitude: number;
  longitude: number;
  elevation: number;
  first: number;
  last: number;
}

/** The sun at the centre of buckets `first…`, degrees. */
export interface SunSeries {
  ss_id: number;
  first: number;
  zenith: Float64Array;
  azimuth: Float64Array;
}

/**
 * Solar positions computed ahead, on a worker thread: the export asks for a
 * batch of systems before it needs them (the first while the engine runs its
 * pass, the next while it builds the frames of the one before), so the SPA
 * work, single-threaded JavaScript, overlaps the engine's instead of adding
 * to it. At most the batches asked for and not yet taken are held.
 */
export class SunPositions {
  readonly #worker: Worker;
  readonly #intervalS: number;
  readonly #waiting = new Map<number, { resolve: (s: SunSeries[]) => void; reject: (e: Error) => void }>();
  readonly #done = new Map<number, Promise<SunSeries[]>>();
  #failed: Error | null = null;

  constructor(intervalS: number) {
    this.#intervalS = intervalS;
    // the worker beside this module: .js when built, .ts when run from source (Node strips the types)
    const ext = import.meta.url.endsWith('.ts') ? 'ts' : 'js';
    this.#worker = new Worker(new URL(`./sun-worker.${ext}`, import.meta.url));
    this.#worker.on('message', (msg: { key: number; series: SunSeries[] }) => {
      this.#waiting.get(msg.key)?.resolve(msg.series);
      this.#waiting.delete(msg.key);
    });
    const fail = (err: Error) => {
      this.#failed = err;
      for (const w of this.#waiting.values()) w.reject(err);
      this.#waiting.clear();
    };
    this.#worker.on('error', fail);
    // an exit without an error (or after terminate) leaves nothing waiting forever
    this.#worker.on('exit', (code) => fail(new Error(`the solar position worker exited (${code})`)));
  }

  /** Asks for a batch under `key` (computed in the background). */
  request(key: number, spans: SunSpanRequest[]): void {
    if (this.#done.has(key)) return;
    const promise = new Promise<SunSeries[]>((resolve, reject) => {
      if (this.#failed) return reject(this.#failed);
      this.#waiting.set(key, { resolve, reject });
    });
    promise.catch(() => undefined);
    this.#done.set(key, promise);
    this.#worker.postMessage({ key, intervalS: this.#intervalS, spans });
  }

  /** The batch under `key` (asked for before), released from the cache. */
  async take(key: number): Promise<SunSeries[]> {
    const promise = this.#done.get(key);
    if (!promise) throw new Error(`sun positions ${key} were never asked for`);
    this.#done.delete(key);
    return promise;
  }

  /** Stops the worker. */
  async close(): Promise<void> {
    await this.#worker.terminate();
  }
}
