import { type DroppedCounts, noneDropped, type ReadingRuleId, ReusedColumns } from '@pv-pipeline/core';

/**
 * Readings as a reader decoded them from one object, before normalization:
 * long format, in file order, one entry per (timestamp, metric) cell found.
 * Timestamps are epoch microseconds held in doubles (exact to ±285 years).
 */
export interface RawReadings {
  /** Number of entries. */
  length: number;
  /** Local wall time as recorded, µs since epoch as if it were UTC. */
  measuredOn: Float64Array;
  /** UTC instant when the source carries one (NaN where it does not), else null. */
  utc: Float64Array | null;
  /** Metric id of each entry. */
  metricId: Int32Array;
  /** Value as stored; NaN where the source holds a null or NaN (the rules drop those as missing). */
  value: Float64Array;
  /** Cells a text reader already dropped while parsing (empty, missing words, non-finite text), by rule. */
  dropped: DroppedCounts;
  /** The same, by the metric id of the cell's column. */
  droppedByMetric: Map<number, DroppedCounts>;
  /** Column names by metric id, for wide sources (used in messages). */
  columnNames?: Map<number, string>;
}

/** The columns of {@link RawColumnBuffers}: `numbers` is a spare one for a reader's own conversions. */
const RAW_COLUMNS = {
  measuredOn: Float64Array,
  utc: Float64Array,
  metricId: Int32Array,
  value: Float64Array,
  numbers: Float64Array,
};

/**
 * The columns a columnar reader (daily Parquet) decodes one object into,
 * reused object after object. Each object's columns used to be new typed
 * arrays, about 36 bytes per entry: over the bench mirror they set off most
 * of V8's 80 full collections (bench/RESULTS.md, issue #19). What a read
 * returns over these buffers holds until the next read into them.
 */
export class RawColumnBuffers extends ReusedColumns<typeof RAW_COLUMNS> {
  /**
   * @param retainUpTo the most entries kept for the next object: a larger
   * object gets columns of its own, left to the collector
   * @defaultValue 262,144 (about 9 MB of buffers)
   */
  constructor(retainUpTo = 1 << 18) {
    super(RAW_COLUMNS, retainUpTo);
  }
}

/** A growable builder for {@link RawReadings}. */
export class RawReadingsBuilder {
  #cap: number;
  #len = 0;
  #measuredOn: Float64Array;
  #utc: Float64Array | null;
  #metricId: Int32Array;
  #value: Float64Array;
  /** Cells dropped while parsing, by rule (see {@link RawReadings.dropped}). */
  readonly dropped: DroppedCounts = noneDropped();
  readonly #droppedByMetric = new Map<number, DroppedCounts>();

  constructor(capacity: number, withUtc: boolean) {
    this.#cap = Math.max(16, capacity);
    this.#measuredOn = new Float64Array(this.#cap);
    this.#utc = withUtc ? new Float64Array(this.#cap) : null;
    this.#metricId = new Int32Array(this.#cap);
    this.#value = new Float64Array(this.#cap);
  }

  /** Counts a cell of this metric's column that a rule dropped while parsing. */
  drop(metricId: number, rule: ReadingRuleId): void {
    this.dropped[rule]++;
    let counts = this.#droppedByMetric.get(metricId);
    if (!counts) this.#droppedByMetric.set(metricId, (counts = noneDropped()));
    counts[rule]++;
  }

  /** A text cell as the rules read it (`wideCellValue`): a reading pushed, or the rule that drops it counted. */
  pushCell(measuredOn: number, utc: number, metricId: number, cell: number | ReadingRuleId): void {
    if (typeof cell === 'string') this.drop(metricId, cell);
    else this.push(measuredOn, utc, metricId, cell);
  }

  push(measuredOn: number, utc: number, metricId: number, value: number): void {
    if (this.#len === this.#cap) this.#grow();
    const i = this.#len++;
    this.#measuredOn[i] = measuredOn;
    if (this.#utc) this.#utc[i] = utc;
    this.#metricId[i] = metricId;
    this.#value[i] = value;
  }

  #grow(): void {
    this.#cap *= 2;
    const grow = <T extends Float64Array | Int32Array>(a: T, make: (n: number) => T): T => {
      const b = make(this.#cap);
      b.set(a);
      return b;
    };
    this.#measuredOn = grow(this.#measuredOn, (n) => new Float64Array(n));
    if (this.#utc) this.#utc = grow(this.#utc, (n) => new Float64Array(n));
    this.#metricId = grow(this.#metricId, (n) => new Int32Array(n));
    this.#value = grow(this.#value, (n) => new Float64Array(n));
  }

  /**
   * Empties the builder for the next batch, keeping its buffers: what an
   * earlier {@link build} returned then no longer holds its readings.
   */
  reset(): void {
    this.#len = 0;
    for (const rule of Object.keys(this.dropped) as ReadingRuleId[]) this.dropped[rule] = 0;
    this.#droppedByMetric.clear();
  }

  build(columnNames?: Map<number, string>): RawReadings {
    const n = this.#len;
    return {
      length: n,
      measuredOn: this.#measuredOn.subarray(0, n),
      utc: this.#utc ? this.#utc.subarray(0, n) : null,
      metricId: this.#metricId.subarray(0, n),
      value: this.#value.subarray(0, n),
      dropped: { ...this.dropped },
      droppedByMetric: new Map(this.#droppedByMetric),
      ...(columnNames ? { columnNames } : {}),
    };
  }
}
