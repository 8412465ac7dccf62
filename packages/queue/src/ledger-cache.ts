import type { Redis } from 'ioredis';

/**
 * A copy in Redis of the sink's ledger (source key → ETag), so that the
 * planner can skip loaded objects without opening the sink (DuckDB allows one
 * writer process). The sink stays the truth: the loader checks it again
 * before every commit, and refills this cache from it at start-up.
 */
export class LedgerCache {
  readonly #redis: Redis;
  readonly #key: string;

  constructor(redis: Redis, prefix: string) {
    this.#redis = redis;
    this.#key = `${prefix}:ledger`;
  }

  /** ETags of the given keys (missing keys are absent from the map). */
  async get(keys: readonly string[]): Promise<Map<string, string>> {
    const out = new Map<string, string>();
    for (let i = 0; i < keys.length; i += 1000) {
      const part = keys.slice(i, i + 1000);
      const vals = await this.#redis.hmget(this.#key, ...part);
      part.forEach((k, j) => {
        const v = vals[j];
        if (v) out.set(k, v);
      });
    }
    return out;
  }

  /**
   * Every entry whose key starts with `prefix` (one HSCAN pass), e.g. a prize
   * folder's parts, among which the planner looks for retired ones.
   */
  async under(prefix: string): Promise<Map<string, string>> {
    return this.#matching(`${prefix.replace(/[*?[\]\\]/g, '\\$&')}*`);
  }

  async #matching(pattern: string): Promise<Map<string, string>> {
    const out = new Map<string, string>();
    let cursor = '0';
    do {
      const [next, flat] = await this.#redis.hscan(this.#key, cursor, 'MATCH', pattern, 'COUNT', 1000);
      for (let i = 0; i + 1 < flat.length; i += 2) out.set(flat[i]!, flat[i + 1]!);
      cursor = next;
    } while (cursor !== '0');
    return out;
  }

  /**
   * Replaces the whole cache with the sink's ledger (loader start-up), so that
   * a restored older sink never leaves the planner skipping what it lacks.
   * Built under a temporary key and renamed into place atomically.
   */
  async replaceAll(entries: ReadonlyArray<readonly [string, string]>): Promise<void> {
    const next = `${this.#key}:next`;
    await this.#redis.del(next);
    for (let i = 0; i < entries.length; i += 1000) {
      await this.#redis.hset(next, Object.fromEntries(entries.slice(i, i + 1000)));
    }
    if (entries.length === 0) await this.#redis.del(this.#key);
    else await this.#redis.rename(next, this.#key);
  }

  /** Records committed objects. */
  async set(entries: ReadonlyArray<readonly [string, string]>): Promise<void> {
    for (let i = 0; i < entries.length; i += 1000) {
      const part = entries.slice(i, i + 1000);
      if (part.length > 0) await this.#redis.hset(this.#key, Object.fromEntries(part));
    }
  }
}
