/**
 * The calls of a sink in progress, so that `close()` waits for them to end: a
 * commit that has begun is never cut short by a shutdown (it needs no Redis,
 * and the service's hard stop still bounds it).
 */
export class InFlight {
  readonly #calls = new Set<Promise<unknown>>();

  /** Runs `fn`, counted as in flight until it settles. */
  async run<T>(fn: () => Promise<T>): Promise<T> {
    const call = fn();
    this.#calls.add(call);
    try {
      return await call;
    } finally {
      this.#calls.delete(call);
    }
  }

  /** Resolves once every call begun so far has settled (fulfilled or not). */
  async settled(): Promise<void> {
    await Promise.allSettled([...this.#calls]);
  }
}
