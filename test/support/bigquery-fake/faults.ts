/** What a job fault predicate sees of a job. */
export interface FakeJobInfo {
  jobId: string;
  kind: 'load' | 'query';
  /** `dataset.table` a load job writes. */
  destination?: string;
  /** Distinct `source_key` values of a load job's file (empty when it has no such column). */
  sourceKeys: string[];
  /** A query job's SQL. */
  query?: string;
}

/** A job error to inject. */
export interface InjectedJobError {
  reason: string;
  message: string;
}

/**
 * Faults the fake injects on demand. Mutable at any time (`fake.faults.errorRate = 0.1`)
 * or through `POST /_fake/faults`.
 */
export interface FakeFaults {
  /** Share of API requests answered with one of `errorStatuses` (0 = none). */
  errorRate: number;
  /** Statuses drawn from for injected errors. Default 500, 503, 429. */
  errorStatuses: number[];
  /**
   * Of the injected errors on mutating requests (POST/DELETE), the share that
   * is applied after the request was processed: the work is done, the reply
   * is lost, the client sees a 5xx/429 and retries (insertAll dedup, 409 on a
   * job id, a requestId replay). Default 0.5.
   */
  afterProcessingShare: number;
  /**
   * Fails one specific request (checked before `errorRate`): its status, and
   * whether the work is done first (`after`: the reply is lost).
   */
  failRequest?: (req: { method: string; path: string }) => { status: number; after?: boolean } | null | undefined;
  /** Makes a job end with this error instead of running (checked when it runs). */
  failJob?: (job: FakeJobInfo) => InjectedJobError | null | undefined;
  /**
   * Runs a query job's script but makes the statement after its `COMMIT
   * TRANSACTION` (e.g. the staging table's `DROP TABLE`) fail with this error:
   * the transaction stays committed, the job ends DONE with this errorResult,
   * as BigQuery ends a script whose later statement failed. Asked only of
   * scripts that reach such a statement.
   */
  failAfterCommit?: (job: FakeJobInfo) => InjectedJobError | null | undefined;
  /** Keeps a job PENDING/RUNNING for this many `jobs.get` polls (Infinity: until `release()`). */
  holdJob?: (job: FakeJobInfo) => number | null | undefined;
  /** Makes one insertAll row fail with a transient `backendError` (the row is not inserted). */
  rowError?: (row: unknown, index: number, table: string) => boolean;
}

/** Deterministic PRNG (mulberry32) so that fault sequences repeat for a seed. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** The JSON form of the control API (`POST /_fake/faults`). */
export interface FaultsRequest {
  errorRate?: number;
  errorStatuses?: number[];
  afterProcessingShare?: number;
  /** The next `count` jobs (of `kind`, default any) end with this error. */
  failNextJobs?: { count: number; kind?: 'load' | 'query'; reason?: string; message?: string };
  /** The next `count` load jobs stay PENDING for `polls` polls (null: until released). */
  holdNextLoadJobs?: { count: number; polls: number | null };
}

/** Applies a control-API request to the faults. */
export function applyFaultsRequest(faults: FakeFaults, req: FaultsRequest): void {
  if (req.errorRate !== undefined) faults.errorRate = req.errorRate;
  if (req.errorStatuses) faults.errorStatuses = req.errorStatuses;
  if (req.afterProcessingShare !== undefined) faults.afterProcessingShare = req.afterProcessingShare;
  if (req.failNextJobs) {
    let left = req.failNextJobs.count;
    const { kind, reason = 'backendError', message = 'Injected job failure.' } = req.failNextJobs;
    faults.failJob = (job) => {
      if (left <= 0 || (kind && job.kind !== kind)) return null;
      left--;
      return { reason, message };
    };
  }
  if (req.holdNextLoadJobs) {
    let left = req.holdNextLoadJobs.count;
    const polls = req.holdNextLoadJobs.polls ?? Number.POSITIVE_INFINITY;
    faults.holdJob = (job) => {
      if (left <= 0 || job.kind !== 'load') return 0;
      left--;
      return polls;
    };
  }
}
