import { type MirrorParams, pvdataKey, systemsOf } from '../../bench/generate-mirror.js';

/** Some consecutive days of one system of the generated mirror: the objects of one run. */
export interface Slice {
  ssId: number;
  from: string;
  to: string;
  /** The objects' keys, relative to the mirror root (as `source_key`). */
  keys: string[];
  /** The trigger body of a run over exactly these objects. */
  request: { systems: number[]; from: string; to: string; format: 'parquet' };
}

const day = (p: MirrorParams, d: number) =>
  `${p.year}-${String(p.month).padStart(2, '0')}-${String(d).padStart(2, '0')}`;

/**
 * Hands out slices that never overlap, so that every scenario loads objects
 * nothing loaded before (the ledger would skip them otherwise).
 */
export class SliceAllocator {
  readonly #p: MirrorParams;
  readonly #systems;
  #system = 0;
  #nextDay = 1;

  constructor(params: MirrorParams) {
    this.#p = params;
    this.#systems = systemsOf(params);
  }

  /** The next `days` days of one system (moving on to the next system when this one has too few left). */
  take(days: number): Slice {
    if (this.#nextDay + days - 1 > this.#p.days) {
      this.#system++;
      this.#nextDay = 1;
    }
    const sys = this.#systems[this.#system];
    if (!sys || days > this.#p.days) throw new Error(`the chaos mirror has no ${days} more days: raise its systems`);
    const first = this.#nextDay;
    this.#nextDay += days;
    const keys = Array.from({ length: days }, (_, i) => pvdataKey(sys, this.#p, first + i));
    const from = day(this.#p, first);
    const to = day(this.#p, first + days - 1);
    return { ssId: sys.id, from, to, keys, request: { systems: [sys.id], from, to, format: 'parquet' } };
  }
}

/** The fact rows of some slices, as a subquery over `table`. */
export function sliceRows(table: string, slices: readonly Slice[]): string {
  const keys = slices.flatMap((s) => s.keys).map((k) => `'${k}'`);
  return `(SELECT * FROM ${table} WHERE source_key IN (${keys.join(', ')}))`;
}
