import { type DroppedCounts, noneDropped, READING_RULE_IDS } from '@pv-pipeline/core';
import {
  isFinished,
  type PlannedObject,
  type PlanPage,
  type RunCounts,
  type RunReport,
  type RunRequest,
} from '@pv-pipeline/stages';
import type { Redis } from 'ioredis';

/** An object (or the run's planning, key '') that was tried again, with the last reason. */
export interface RunRetry {
  key: string;
  /** `stage: why`, e.g. `transform: … HTTP 503 SlowDown …` or `load: loader lost (job stalled), redone`. */
  reason: string;
  /** How many times it was tried again. */
  count: number;
}

/**
 * A run as the API reports it: the run report both executors share (the same
 * fields as `pv-pipeline run --json` prints), plus what the cluster adds.
 */
export interface RunRecord extends RunReport {
  /** The live counts, plus `retried`: how many times work of this run was tried again. */
  counts: RunCounts & { retried: number };
  /** Objects that failed, with their reasons (at most 1,000), and a fatal error if any (key ''). */
  failures: Array<{ key: string; reason: string }>;
  /** What was retried (a retryable fault, a lost worker or loader), at most 1,000 entries, by key. */
  retries: RunRetry[];
  createdAt: string;
  /** A finished run whose record the loader has written into the sink (`pv_runs`; its keys then expire). */
  recorded: boolean;
  /**
   * How far planning got: pages (listing prefixes) planned of all, and objects
   * enqueued whose outcome has not come yet (kept under the planner's high-water mark).
   */
  planning: { pagesDone: number; pages: number; outstanding: number; done: boolean };
}

/** Warnings kept per run at most. */
const MAX_WARNINGS = 100;

/**
 * Retry events a run remembers at most (to count a retry reported twice
 * once), about 80 bytes each: beyond them a new retry is still counted but
 * not remembered, so a run's Redis memory stays bounded however much is retried.
 */
export const MAX_RETRY_EVENTS = 10_000;

/** How an object ended for the runs waiting on it. */
export type ObjectOutcome = 'transformed' | 'loaded' | 'skipped' | 'failed';

/** What comes with an object's outcome (see {@link RunStore.recordOutcome}). */
export interface OutcomeDetail {
  /** Readings loaded. @defaultValue 0 */
  rows?: number;
  /** Why the object failed. @defaultValue '' */
  reason?: string;
  /** Readings dropped, by rule. @defaultValue none */
  dropped?: DroppedCounts;
  /**
   * The Redis key of the BullMQ job reporting a final outcome. It is marked
   * `pvOutcome`, so that a planner attaching another run before BullMQ marks
   * the job finished knows to enqueue the object again (see the planner).
   * @defaultValue '' (none)
   */
  jobKey?: string;
  /**
   * The run the reporting job works for: the run id the ledger records with the
   * object. A final outcome counts for it, once, even when the run was detached
   * from the object while the job could still run (a worker took the job as the
   * run was being cancelled; see {@link RunStore.detach}), so that a run's
   * counts match its ledger rows. @defaultValue '' (none)
   */
  jobRun?: string;
}

/** Whether a run hash `h` is running, planned to its end and settled: then it is marked completed or partial (Lua). */
const COMPLETION_CHECK = `
local function complete_if_done(h, now)
  local s = redis.call('HMGET', h, 'state', 'planning_done', 'planned', 'loaded', 'skipped', 'failed')
  if s[1] == 'running' and s[2] == '1' and (tonumber(s[4] or '0') + tonumber(s[5] or '0') + tonumber(s[6] or '0')) >= tonumber(s[3] or '0') then
    redis.call('HSET', h, 'state', (tonumber(s[6] or '0') > 0) and 'partial' or 'completed', 'finished_at', now)
    return true
  end
  return false
end
`;

const OUTCOME_SCRIPT = `${COMPLETION_CHECK}
-- KEYS[1] = the object's runs (hash: run id -> '0' attached, '1' transformed), KEYS[2] = the reporting job's hash or '',
-- KEYS[3] = the runs detached from the object while its job could still run (hash: run id -> '1');
-- ARGV: prefix, key, outcome, rows, reason, now, the reporting job's run (or ''), then dropped counts by rule (name, n)…
-- A final outcome settles the object for its runs and deletes both hashes, so an outcome reported twice counts once.
-- Returns the runs to finalize: those it completed, and cancelled or failed runs it counted an object for.
local flat = redis.call('HGETALL', KEYS[1])
local prefix, key, outcome, rows, reason, now, jobRun = ARGV[1], ARGV[2], ARGV[3], tonumber(ARGV[4]), ARGV[5], ARGV[6], ARGV[7]
local final = outcome ~= 'transformed'
-- The job's own run (the run id the ledger records) counts its final outcome when it was detached from the object
-- while the job could still run (a run being cancelled, from a job a worker took meanwhile).
if final and jobRun ~= '' and redis.call('HEXISTS', KEYS[3], jobRun) == 1 and redis.call('HEXISTS', KEYS[1], jobRun) == 0 then
  table.insert(flat, jobRun)
  table.insert(flat, '1')
end
local finalize = {}
for i = 1, #flat, 2 do
  local run, flag = flat[i], flat[i + 1]
  local h = prefix .. ':run:' .. run
  if not final then
    if flag == '0' then
      redis.call('HSET', KEYS[1], run, '1')
      redis.call('HINCRBY', h, 'transformed', 1)
    end
  elseif redis.call('EXISTS', h) == 1 then -- a run whose record expired is not brought back
    redis.call('HINCRBY', h, outcome, 1)
    redis.call('HINCRBY', h, 'settled', 1)
    if outcome == 'loaded' then
      redis.call('HINCRBY', h, 'readings', rows)
      for j = 8, #ARGV, 2 do
        if tonumber(ARGV[j + 1]) > 0 then redis.call('HINCRBY', h, 'dropped_' .. ARGV[j], ARGV[j + 1]) end
      end
    end
    if outcome == 'failed' and redis.call('HLEN', h .. ':errors') < 1000 then
      redis.call('HSET', h .. ':errors', key, reason)
      local ttl = redis.call('TTL', h) -- a run already recorded: its keys expire together
      if ttl > 0 then redis.call('EXPIRE', h .. ':errors', ttl) end
    end
    local state = redis.call('HGET', h, 'state')
    -- a run that already ended (cancelled, or its planning failed) is recorded again with this object counted
    if complete_if_done(h, now) or state == 'cancelled' or state == 'failed' then table.insert(finalize, run) end
  end
end
if final then
  redis.call('DEL', KEYS[1], KEYS[3])
  -- the reporting job says so in its own hash (gone with the job): until BullMQ marks it finished,
  -- a planner attaching another run to the object sees that the outcome was given (see enqueueTransform)
  if KEYS[2] ~= '' and redis.call('EXISTS', KEYS[2]) == 1 then redis.call('HSET', KEYS[2], 'pvOutcome', outcome) end
end
return finalize
`;

const ATTACH_SCRIPT = `
-- KEYS[1] = run hash; ARGV: prefix, run id, page, chunk, transform job ids…
-- Attaches the run to a chunk of a page's objects once (a planner that redoes the page after a crash
-- attaches nothing twice), and returns the ids the run still waits for: those to enqueue.
local prefix, run, page, chunk = ARGV[1], ARGV[2], tonumber(ARGV[3]), tonumber(ARGV[4])
local s = redis.call('HMGET', KEYS[1], 'state', 'plan_chunk')
if s[1] ~= 'running' then return {} end
local done = false
if s[2] then
  local p, c = string.match(s[2], '^(%d+):(%d+)$')
  done = tonumber(p) == page and tonumber(c) >= chunk
end
local n, out = 0, {}
for i = 5, #ARGV do
  local k = prefix .. ':obj:' .. ARGV[i] .. ':runs'
  if not done then n = n + redis.call('HSETNX', k, run, '0') end
  if redis.call('HEXISTS', k, run) == 1 then table.insert(out, ARGV[i]) end
end
if not done then
  redis.call('HINCRBY', KEYS[1], 'attached', n)
  redis.call('HSET', KEYS[1], 'plan_chunk', page .. ':' .. chunk)
end
return out
`;

const COMMIT_PAGE_SCRIPT = `
-- KEYS[1] = run hash, KEYS[2] = its page plan; ARGV: page, objects planned, of them skipped
-- Counts a planned page once: returns 0 when the page was already committed.
if tonumber(redis.call('HGET', KEYS[1], 'plan_page') or '0') ~= tonumber(ARGV[1]) then return 0 end
redis.call('HINCRBY', KEYS[1], 'planned', ARGV[2])
redis.call('HINCRBY', KEYS[1], 'skipped', ARGV[3])
redis.call('HSET', KEYS[1], 'plan_page', tonumber(ARGV[1]) + 1)
redis.call('DEL', KEYS[2])
return 1
`;

const FINISH_PLANNING_SCRIPT = `${COMPLETION_CHECK}
-- KEYS[1] = run hash; ARGV: now
redis.call('HSET', KEYS[1], 'planning_done', '1')
if complete_if_done(KEYS[1], ARGV[1]) then return 1 end
return 0
`;

const START_SCRIPT = `
-- KEYS[1] = run hash; ARGV: now. A queued run becomes running (a cancelled one stays cancelled).
if redis.call('HGET', KEYS[1], 'state') ~= 'queued' then return 0 end
redis.call('HSET', KEYS[1], 'state', 'running', 'started_at', ARGV[1])
return 1
`;

const FAIL_SCRIPT = `
-- KEYS[1] = run hash; ARGV: reason, now. A queued or running run fails (a finished one stays as it ended).
local s = redis.call('HGET', KEYS[1], 'state')
if s ~= 'queued' and s ~= 'running' then return 0 end
redis.call('HSET', KEYS[1], 'state', 'failed', 'fatal_error', ARGV[1], 'finished_at', ARGV[2])
return 1
`;

const CANCEL_SCRIPT = `
-- KEYS[1] = run hash; ARGV: now. Returns the state the run had ('' when unknown); a run not yet finished becomes cancelled.
local s = redis.call('HGET', KEYS[1], 'state')
if not s then return '' end
if s == 'queued' or s == 'running' then redis.call('HSET', KEYS[1], 'state', 'cancelled', 'finished_at', ARGV[1]) end
return s
`;

const DETACH_SCRIPT = `
-- ARGV: prefix, run id, '1' to remember the detach (the object's job may run yet) or '0', its TTL s, transform job ids…
-- Detaches the run from those objects; returns the ids no run waits for any more.
local out = {}
for i = 5, #ARGV do
  local k = ARGV[1] .. ':obj:' .. ARGV[i] .. ':runs'
  if redis.call('HDEL', k, ARGV[2]) == 1 then
    if ARGV[3] == '1' then
      local d = ARGV[1] .. ':obj:' .. ARGV[i] .. ':detached'
      redis.call('HSET', d, ARGV[2], '1')
      redis.call('EXPIRE', d, ARGV[4])
    end
    if redis.call('EXISTS', k) == 0 then table.insert(out, ARGV[i]) end
  end
end
return out
`;

const RETRY_SCRIPT = `
-- KEYS[1] = the object's runs (hash); ARGV: prefix, key, event, reason, one more run id (or ''), events remembered per run at most
local prefix, key, event, reason, also, most = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5], tonumber(ARGV[6])
local runs = redis.call('HKEYS', KEYS[1])
if also ~= '' then table.insert(runs, also) end
-- whether this retry is news to the run: a full set still knows its own events, a new one counts unremembered
local function fresh(events)
  if redis.call('SCARD', events) < most then return redis.call('SADD', events, event) == 1 end
  return redis.call('SISMEMBER', events, event) == 0
end
for _, run in ipairs(runs) do
  local h = prefix .. ':run:' .. run
  local ttl = redis.call('TTL', h)
  if ttl == -2 then
    -- the run's record expired: nothing to tell
  elseif fresh(h .. ':retry-events') then
    redis.call('HINCRBY', h, 'retried', 1)
    if redis.call('HEXISTS', h .. ':retries', key) == 1 or redis.call('HLEN', h .. ':retries') < 1000 then
      redis.call('HSET', h .. ':retries', key, reason)
      redis.call('HINCRBY', h .. ':retry-counts', key, 1)
    end
    if ttl > 0 then
      for _, suffix in ipairs({':retry-events', ':retries', ':retry-counts'}) do redis.call('EXPIRE', h .. suffix, ttl) end
    end
  end
end
return #runs
`;

type ScriptedRedis = Redis & {
  pvRecordRetry(runsKey: string, ...args: string[]): Promise<number>;
  pvRecordOutcome(
    runsKey: string,
    jobKey: string,
    detachedKey: string,
    ...args: Array<string | number>
  ): Promise<string[]>;
  pvAttach(runKey: string, ...args: Array<string | number>): Promise<string[]>;
  pvStart(runKey: string, now: string): Promise<number>;
  pvFail(runKey: string, reason: string, now: string): Promise<number>;
  pvCommitPage(runKey: string, pageKey: string, page: number, planned: number, skipped: number): Promise<number>;
  pvFinishPlanning(runKey: string, now: string): Promise<number>;
  pvCancel(runKey: string, now: string): Promise<string>;
  pvDetach(...args: string[]): Promise<string[]>;
};

/** Where a run's planning stands, and how many of its objects are still outstanding. */
export interface PlanProgress {
  state: RunRecord['state'];
  /** The next page to plan (pages before it are committed). */
  page: number;
  /** Objects attached to the run whose outcome has not come yet. */
  outstanding: number;
}

/** One page's plan, kept until the page is committed so that a planner redoing it plans the same objects. */
export interface PagePlan {
  page: number;
  /** New or changed objects (retired prize parts included). */
  toLoad: PlannedObject[];
  /** How many listed objects the ledger already had. */
  skipped: number;
}

/**
 * Runs and their live counts, in Redis, in memory that does not grow with a
 * run's size: counters per run, one small hash per outstanding object (the
 * runs waiting for it), and the page being planned. An object's final outcome
 * deletes its hash in the same script that counts it, so a job retried after a
 * crash never counts twice; a page is counted when it is committed, once. An
 * object shared by overlapping runs (same key and ETag, so the same transform
 * job) reports its outcome to every run attached to it.
 */
export class RunStore {
  readonly #redis: ScriptedRedis;
  readonly #prefix: string;
  /** Seconds a finished run stays in Redis (it is also recorded in the sink). */
  readonly #ttl: number;
  readonly #maxRetryEvents: number;

  /**
   * @param ttlSeconds seconds a finished run stays in Redis. @defaultValue 7 days
   * @param maxRetryEvents retry events a run remembers at most. @defaultValue {@link MAX_RETRY_EVENTS}
   */
  constructor(redis: Redis, prefix: string, ttlSeconds = 7 * 86_400, maxRetryEvents = MAX_RETRY_EVENTS) {
    const r = redis as ScriptedRedis;
    if (typeof r.pvRecordOutcome !== 'function') {
      r.defineCommand('pvRecordOutcome', { numberOfKeys: 3, lua: OUTCOME_SCRIPT });
      r.defineCommand('pvAttach', { numberOfKeys: 1, lua: ATTACH_SCRIPT });
      r.defineCommand('pvCommitPage', { numberOfKeys: 2, lua: COMMIT_PAGE_SCRIPT });
      r.defineCommand('pvFinishPlanning', { numberOfKeys: 1, lua: FINISH_PLANNING_SCRIPT });
      r.defineCommand('pvCancel', { numberOfKeys: 1, lua: CANCEL_SCRIPT });
      r.defineCommand('pvStart', { numberOfKeys: 1, lua: START_SCRIPT });
      r.defineCommand('pvFail', { numberOfKeys: 1, lua: FAIL_SCRIPT });
      r.defineCommand('pvDetach', { numberOfKeys: 0, lua: DETACH_SCRIPT });
      r.defineCommand('pvRecordRetry', { numberOfKeys: 1, lua: RETRY_SCRIPT });
    }
    this.#redis = r;
    this.#prefix = prefix;
    this.#ttl = ttlSeconds;
    this.#maxRetryEvents = maxRetryEvents;
  }

  #run(id: string): string {
    return `${this.#prefix}:run:${id}`;
  }

  #objectRuns(jobId: string): string {
    return `${this.#prefix}:obj:${jobId}:runs`;
  }

  /** The runs detached from an object while its job could still run (see {@link detach}). */
  #objectDetached(jobId: string): string {
    return `${this.#prefix}:obj:${jobId}:detached`;
  }

  /** Records a new run in state `queued`. */
  async create(id: string, request: RunRequest): Promise<void> {
    const now = new Date().toISOString();
    await this.#redis
      .multi()
      .hset(this.#run(id), { id, state: 'queued', request: JSON.stringify(request), created_at: now })
      .zadd(`${this.#prefix}:runs`, Date.now(), id)
      // the index of runs forgets ids older than the runs' TTL (their records are gone): it stays bounded
      .zremrangebyscore(`${this.#prefix}:runs`, '-inf', `(${Date.now() - this.#ttl * 1000}`)
      .exec();
  }

  /** The planner took the run: a queued run becomes running (a cancelled one is left as it is). */
  async start(id: string): Promise<void> {
    await this.#redis.pvStart(this.#run(id), new Date().toISOString());
  }

  /**
   * Attaches the run to chunk `chunk` of page `page` (transform job ids), once:
   * a planner redoing the page attaches nothing twice. Resolves with the ids the
   * run waits for (to enqueue); none when the run is no longer running.
   */
  async attach(id: string, page: number, chunk: number, jobIds: readonly string[]): Promise<string[]> {
    if (jobIds.length === 0) return [];
    return this.#redis.pvAttach(this.#run(id), this.#prefix, id, page, chunk, ...jobIds);
  }

  /** The run's pages (listing prefixes), fixed when its planning first started; null before. */
  async pages(id: string): Promise<PlanPage[] | null> {
    const raw = await this.#redis.get(`${this.#run(id)}:pages`);
    return raw === null ? null : (JSON.parse(raw) as PlanPage[]);
  }

  /** Fixes the run's pages (a later attempt reads them back: page numbers stay meaningful). */
  async savePages(id: string, pages: readonly PlanPage[]): Promise<PlanPage[]> {
    await this.#redis.set(`${this.#run(id)}:pages`, JSON.stringify(pages), 'NX');
    const fixed = (await this.pages(id)) ?? [...pages];
    await this.#redis.hset(this.#run(id), 'plan_pages', fixed.length);
    return fixed;
  }

  /** Where the run's planning stands. */
  async progress(id: string): Promise<PlanProgress> {
    const [state, page, attached, settled] = await this.#redis.hmget(
      this.#run(id),
      'state',
      'plan_page',
      'attached',
      'settled',
    );
    return {
      state: (state ?? 'failed') as RunRecord['state'],
      page: Number(page ?? 0),
      outstanding: Number(attached ?? 0) - Number(settled ?? 0),
    };
  }

  /** The plan of the page being planned, if an earlier attempt made it. */
  async pagePlan(id: string, page: number): Promise<PagePlan | null> {
    const plan = await this.currentPagePlan(id);
    return plan?.page === page ? plan : null;
  }

  /** The plan of the page being planned, whatever its number (null when none is kept). */
  async currentPagePlan(id: string): Promise<PagePlan | null> {
    const raw = await this.#redis.get(`${this.#run(id)}:page`);
    return raw === null ? null : (JSON.parse(raw) as PagePlan);
  }

  /** Keeps a page's plan until the page is committed. */
  async savePagePlan(id: string, plan: PagePlan): Promise<void> {
    await this.#redis.set(`${this.#run(id)}:page`, JSON.stringify(plan));
  }

  /**
   * Commits a planned page: its objects count as planned (and the ledger's as
   * skipped), and the next page becomes current. Resolves false when the page
   * was committed before (nothing counted twice).
   */
  async commitPage(id: string, page: number, planned: number, skipped: number): Promise<boolean> {
    return (await this.#redis.pvCommitPage(this.#run(id), `${this.#run(id)}:page`, page, planned, skipped)) === 1;
  }

  /**
   * Cancels a queued or running run. Resolves with the state it had (a
   * finished run is left as it is), or null when it is unknown.
   */
  async cancel(id: string): Promise<RunRecord['state'] | null> {
    const had = await this.#redis.pvCancel(this.#run(id), new Date().toISOString());
    return had === '' ? null : (had as RunRecord['state']);
  }

  /**
   * Detaches the run from objects; resolves with those no run waits for any
   * more (their jobs may go). With `jobMayRun` the detach is remembered (for
   * the TTL of a run), so that if the object's job runs after all (a worker
   * took it before it could be removed), its outcome still counts for the run
   * it was enqueued for, which the ledger records (see {@link OutcomeDetail.jobRun}).
   */
  async detach(id: string, jobIds: readonly string[], jobMayRun = false): Promise<string[]> {
    if (jobIds.length === 0) return [];
    return this.#redis.pvDetach(this.#prefix, id, jobMayRun ? '1' : '0', String(this.#ttl), ...jobIds);
  }

  /** Forgets the detaches remembered for objects whose jobs are gone (removed: no outcome will come). */
  async forgetDetached(jobIds: readonly string[]): Promise<void> {
    if (jobIds.length > 0) await this.#redis.del(...jobIds.map((id) => this.#objectDetached(id)));
  }

  /** The runs waiting for the object of this transform job. */
  async waitingRuns(jobId: string): Promise<string[]> {
    return this.#redis.hkeys(this.#objectRuns(jobId));
  }

  /**
   * Reports an object's outcome to every run attached to it, and a final
   * outcome also to the reporting job's own run if it was detached meanwhile
   * (see {@link OutcomeDetail.jobRun}). Returns the runs to finalize (the
   * caller enqueues it): those this outcome completed, and cancelled or failed
   * runs whose recorded counts it changed.
   */
  async recordOutcome(
    jobId: string,
    key: string,
    outcome: ObjectOutcome,
    detail: OutcomeDetail = {},
  ): Promise<string[]> {
    const dropped = detail.dropped ?? noneDropped();
    return this.#redis.pvRecordOutcome(
      this.#objectRuns(jobId),
      detail.jobKey ?? '',
      this.#objectDetached(jobId),
      this.#prefix,
      key,
      outcome,
      detail.rows ?? 0,
      detail.reason ?? '',
      new Date().toISOString(),
      detail.jobRun ?? '',
      ...READING_RULE_IDS.flatMap((id) => [id, dropped[id]]),
    );
  }

  /** Adds rows a commit of this run replaced (its objects changed, or re-delivered others' keys). */
  async addReplaced(id: string, rows: number): Promise<void> {
    await this.#redis.hincrby(this.#run(id), 'replaced', rows);
  }

  /** Adds metadata warnings to a run (each once; at most {@link MAX_WARNINGS} kept). */
  async addWarnings(id: string, warnings: readonly string[]): Promise<void> {
    if (warnings.length === 0) return;
    const key = `${this.#run(id)}:warnings`;
    const have = await this.#redis.scard(key);
    if (have >= MAX_WARNINGS) return;
    await this.#redis.sadd(key, ...warnings.slice(0, MAX_WARNINGS - have));
  }

  /**
   * Reports that an object's work is tried again, to every run attached to it
   * (and to `runId` when given, e.g. the run of a load job whose object already
   * reported its outcome). `event` identifies this retry (e.g. `attempt:2`,
   * `stall:1`), so that the same retry reported twice counts once; `reason` is
   * `stage: why`.
   */
  async recordRetry(jobId: string, key: string, event: string, reason: string, runId = ''): Promise<void> {
    await this.#redis.pvRecordRetry(
      this.#objectRuns(jobId),
      this.#prefix,
      key,
      `${jobId}:${event}`,
      reason,
      runId,
      String(this.#maxRetryEvents),
    );
  }

  /** Reports that a run's planning is tried again (key '' in its retries). */
  async recordPlanRetry(id: string, event: string, reason: string): Promise<void> {
    await this.#redis.pvRecordRetry(
      this.#objectRuns(`plan-${id}`),
      this.#prefix,
      '',
      `plan:${event}`,
      reason,
      id,
      String(this.#maxRetryEvents),
    );
  }

  /** Every page is committed. Returns true when that already completes the run. */
  async finishPlanning(id: string): Promise<boolean> {
    return (await this.#redis.pvFinishPlanning(this.#run(id), new Date().toISOString())) === 1;
  }

  /** The run could not be planned: a queued or running run fails (a finished or cancelled one is left as it is). */
  async fail(id: string, reason: string): Promise<void> {
    await this.#redis.pvFail(this.#run(id), reason, new Date().toISOString());
  }

  /** Lets a finished run's keys expire. */
  async expire(id: string): Promise<void> {
    const m = this.#redis.multi();
    for (const suffix of ['', ':pages', ':page', ':errors', ':retry-events', ':retries', ':retry-counts', ':warnings'])
      m.expire(`${this.#run(id)}${suffix}`, this.#ttl);
    await m.exec();
  }

  /** One run, or null when unknown (or expired). */
  async get(id: string): Promise<RunRecord | null> {
    const [h, errors, retried, retryCounts, warnings, ttl] = await Promise.all([
      this.#redis.hgetall(this.#run(id)),
      this.#redis.hgetall(`${this.#run(id)}:errors`),
      this.#redis.hgetall(`${this.#run(id)}:retries`),
      this.#redis.hgetall(`${this.#run(id)}:retry-counts`),
      this.#redis.smembers(`${this.#run(id)}:warnings`),
      this.#redis.ttl(this.#run(id)),
    ]);
    if (!h.id) return null;
    const n = (f: string) => Number(h[f] ?? 0);
    const errs = Object.entries(errors)
      .map(([key, reason]) => ({ key, reason }))
      .sort((a, b) => (a.key < b.key ? -1 : 1));
    if (h.fatal_error) errs.unshift({ key: '', reason: h.fatal_error });
    const dropped = noneDropped();
    for (const rule of READING_RULE_IDS) dropped[rule] = n(`dropped_${rule}`);
    return {
      runId: h.id,
      state: h.state as RunRecord['state'],
      request: JSON.parse(h.request ?? '{}') as RunRequest,
      counts: {
        planned: n('planned'),
        transformed: n('transformed'),
        loaded: n('loaded'),
        skipped: n('skipped'),
        failed: n('failed'),
        readings: n('readings'),
        retried: n('retried'),
      },
      replaced: n('replaced'),
      dropped,
      failures: errs,
      warnings: warnings.sort(),
      retries: Object.entries(retried)
        .map(([key, reason]) => ({ key, reason, count: Number(retryCounts[key] ?? 1) }))
        .sort((a, b) => (a.key < b.key ? -1 : 1)),
      createdAt: h.created_at ?? '',
      startedAt: h.started_at ?? null,
      finishedAt: h.finished_at ?? null,
      // finalization writes pv_runs, then sets the TTL
      recorded: isFinished(String(h.state)) && ttl >= 0,
      planning: {
        pagesDone: n('plan_page'),
        pages: n('plan_pages'),
        outstanding: n('attached') - n('settled'),
        done: h.planning_done === '1',
      },
    };
  }

  /**
   * Finished runs (completed or failed) among the newest `limit` whose keys
   * have no TTL yet: their finalization, which records them in the sink and
   * then sets the TTL, never ran to its end.
   */
  async unrecorded(limit = 1000): Promise<string[]> {
    const ids = await this.#redis.zrevrange(`${this.#prefix}:runs`, 0, limit - 1);
    if (ids.length === 0) return [];
    const m = this.#redis.multi();
    for (const id of ids) m.hget(this.#run(id), 'state').ttl(this.#run(id));
    const res = (await m.exec()) ?? [];
    return ids.filter((_, i) => {
      const state = res[2 * i]?.[1];
      return isFinished(String(state)) && res[2 * i + 1]?.[1] === -1;
    });
  }

  /** The newest runs first. */
  async list(limit = 50): Promise<RunRecord[]> {
    const ids = await this.#redis.zrevrange(`${this.#prefix}:runs`, 0, limit - 1);
    const runs = await Promise.all(ids.map((id) => this.get(id)));
    return runs.filter((r): r is RunRecord => r !== null);
  }
}
