/** One object that did not load, with the reason. */
export interface ObjectFailure {
  key: string;
  reason: string;
}

/** Live counts of a run. */
export interface RunCounts {
  /** Objects listed in range (to load + skipped). */
  planned: number;
  /** Objects transformed (staged). */
  transformed: number;
  /** Objects committed to the sink. */
  loaded: number;
  /** Objects already in the ledger with the same ETag. */
  skipped: number;
  /** Objects that failed. */
  failed: number;
  /** Fact rows committed. */
  readings: number;
}

/** The outcome of a run, as printed by `pv-pipeline run` (and `--json`). */
export interface RunSummary {
  runId: string;
  /** completed: every object loaded or skipped; partial: some failed; */
  state: 'completed' | 'partial';
  source: string;
  sink: string;
  request: { systems: number[] | 'all'; from: string; to: string; format: string };
  counts: RunCounts;
  /** Rows removed because their object changed (or re-delivered their key). */
  replaced: number;
  /** Readings dropped as missing / as in-object duplicates. */
  dropped: { missing: number; duplicate: number };
  seconds: number;
  readingsPerSecond: number;
  /** Peak resident memory of the process so far (getrusage maxrss), MiB. */
  peakRssMb: number;
  failures: ObjectFailure[];
  /** Metadata problems that did not fail the run. */
  warnings: string[];
}

/** Fresh zero counts. */
export function emptyCounts(): RunCounts {
  return { planned: 0, transformed: 0, loaded: 0, skipped: 0, failed: 0, readings: 0 };
}
