/**
 * The capacity a reused buffer grows to when it must hold `needed` items: by
 * half at least, so that batches of varying size seldom reallocate, and not
 * past `bound` unless `needed` is.
 * @param bound the most worth keeping @defaultValue no bound
 */
export function grownCapacity(current: number, needed: number, bound = Number.POSITIVE_INFINITY): number {
  return Math.max(needed, Math.min(bound, Math.ceil(current * 1.5)));
}

/** The typed arrays a {@link ReusedColumns} holds. */
export type ColumnArrayKind = Float64ArrayConstructor | Int32ArrayConstructor;

/** The columns of a {@link ReusedColumns}, by name. */
export type ColumnArrays<K extends Record<string, ColumnArrayKind>> = { [C in keyof K]: InstanceType<K[C]> };

/**
 * Named typed-array columns that serve call after call (object after object,
 * batch after batch) instead of each call leaving its own to the garbage
 * collector: V8 counts such buffers towards its next full collection, and new
 * ones for every object set off most of the collections of a run
 * (bench/RESULTS.md, issue #19). What a caller wrote into them holds until the
 * next call of {@link columns}.
 */
export class ReusedColumns<K extends Record<string, ColumnArrayKind>> {
  readonly #kinds: K;
  readonly #retainUpTo: number;
  #capacity = 0;
  #arrays: ColumnArrays<K>;

  /**
   * @param kinds each column's name and typed array
   * @param retainUpTo the most rows kept for the next call: more rows get
   * columns of their own, left to the collector @defaultValue no bound
   */
  constructor(kinds: K, retainUpTo = Number.POSITIVE_INFINITY) {
    this.#kinds = kinds;
    this.#retainUpTo = retainUpTo;
    this.#arrays = this.#allocate(0);
  }

  /** Columns of exactly `n` rows; their contents are whatever the last call's caller left. */
  columns(n: number): ColumnArrays<K> {
    if (n > this.#retainUpTo) return this.#allocate(n);
    if (this.#capacity < n) {
      this.#capacity = grownCapacity(this.#capacity, n, this.#retainUpTo);
      this.#arrays = this.#allocate(this.#capacity);
    }
    const out: Partial<Record<keyof K, Float64Array | Int32Array>> = {};
    for (const name in this.#arrays) out[name] = this.#arrays[name].subarray(0, n);
    return out as ColumnArrays<K>;
  }

  #allocate(n: number): ColumnArrays<K> {
    const out: Partial<Record<keyof K, Float64Array | Int32Array>> = {};
    for (const name in this.#kinds) out[name] = new (this.#kinds[name] as ColumnArrayKind)(n);
    return out as ColumnArrays<K>;
  }
}
