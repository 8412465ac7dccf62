import { type DroppedCounts, noneDropped, READING_RULE_IDS } from '@pv-pipeline/core';
import { isFinished, type RunCounts, type RunReport, type RunRequest } from '@pv-pipeline/stages';
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
}

/** Warnings kept per run at most. */
const MAX_WARNINGS = 100;

/** How an object ended for the runs waiting on it. */
export type ObjectOutcome = 'transformed' | 'loaded' | 'skipped' | 'failed';

const OUTCOME_SCRIPT = `
-- KEYS[1] = object's run set; ARGV: prefix, key, outcome, rows, reason, now, then the dropped counts by rule (name, n)…
local runs = redis.call('SMEMBERS', KEYS[1])
local prefix, key, outcome, rows, reason, now = ARGV[1], ARGV[2], ARGV[3], tonumber(ARGV[4]), ARGV[5], ARGV[6]
local completed = {}
for _, run in ipairs(runs) do
  local h = prefix .. ':run:' .. run
  if outcome == 'transformed' then
    if redis.call('SADD', h .. ':transformed', key) == 1 then redis.call('HINCRBY', h, 'transformed', 1) end
  else
    if redis.call('SADD', h .. ':done', key) == 1 then
      redis.call('HINCRBY', h, outcome, 1)
      if outcome == 'loaded' then
        redis.call('HINCRBY', h, 'readings', rows)
        for i = 7, #ARGV, 2 do
          if tonumber(ARGV[i + 1]) > 0 then redis.call('HINCRBY', h, 'dropped_' .. ARGV[i], ARGV[i + 1]) end
        end
      end
      if outcome == 'failed' and redis.call('HLEN', h .. ':errors') < 1000 then redis.call('HSET', h .. ':errors', key, reason) end
    end
    local s = redis.call('HMGET', h, 'state', 'planning_done', 'planned', 'loaded', 'skipped', 'failed')
    if s[1] == 'running' and s[2] == '1' and (tonumber(s[4] or '0') + tonumber(s[5] or '0') + tonumber(s[6] or '0')) >= tonumber(s[3] or '0') then
      redis.call('HSET', h, 'state', (tonumber(s[6] or '0') > 0) and 'partial' or 'completed', 'finished_at', now)
      table.insert(completed, run)
    end
  end
end
if outcome ~= 'transformed' then redis.call('DEL', KEYS[1]) end
return completed
`;

const FINISH_PLANNING_SCRIPT = `
-- KEYS[1] = run hash; ARGV: planned, now
redis.call('HSET', KEYS[1], 'planned', ARGV[1], 'planning_done', '1')
local s = redis.call('HMGET', KEYS[1], 'state', 'planned', 'loaded', 'skipped', 'failed')
if s[1] == 'running' and (tonumber(s[3] or '0') + tonumber(s[4] or '0') + tonumber(s[5] or '0')) >= tonumber(s[2]) then
  redis.call('HSET', KEYS[1], 'state', (tonumber(s[5] or '0') > 0) and 'partial' or 'completed', 'finished_at', ARGV[2])
  return 1
end
return 0
`;

const SKIP_SCRIPT = `
-- KEYS[1] = run hash; ARGV = object keys
local n = 0
for _, key in ipairs(ARGV) do n = n + redis.call('SADD', KEYS[1] .. ':done', key) end
redis.call('HINCRBY', KEYS[1], 'skipped', n)
return n
`;

const RETRY_SCRIPT = `
-- KEYS[1] = object's run set; ARGV: prefix, key, event, reason, one more run id (or '')
local prefix, key, event, reason, also = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5]
local runs = redis.call('SMEMBERS', KEYS[1])
if also ~= '' then table.insert(runs, also) end
for _, run in ipairs(runs) do
  local h = prefix .. ':run:' .. run
  if redis.call('SADD', h .. ':retry-events', event) == 1 then
    redis.call('HINCRBY', h, 'retried', 1)
    if redis.call('HEXISTS', h .. ':retries', key) == 1 or redis.call('HLEN', h .. ':retries') < 1000 then
      redis.call('HSET', h .. ':retries', key, reason)
      redis.call('HINCRBY', h .. ':retry-counts', key, 1)
    end
  end
end
return #runs
`;

type ScriptedRedis = Redis & {
  pvRecordRetry(runsKey: string, ...args: string[]): Promise<number>;
  pvSkip(runKey: string, ...keys: string[]): Promise<number>;
  pvRecordOutcome(runsKey: string, ...args: Array<string | number>): Promise<string[]>;
  pvFinishPlanning(runKey: string, planned: number, now: string): Promise<number>;
};

/**
 * Runs and their live counts, in Redis. Counts are derived from sets of
 * object keys, so a job retried after a crash never counts twice. An object
 * shared by overlapping runs (same key and ETag, so the same transform job)
 * reports its outcome to every run attached to it.
 */
export class RunStore {
  readonly #redis: ScriptedRedis;
  readonly #prefix: string;
  /** Seconds a finished run stays in Redis (it is also recorded in the sink). */
  readonly #ttl: number;

  constructor(redis: Redis, prefix: string, ttlSeconds = 7 * 86_400) {
    const r = redis as ScriptedRedis;
    if (typeof r.pvRecordOutcome !== 'function') {
      r.defineCommand('pvRecordOutcome', { numberOfKeys: 1, lua: OUTCOME_SCRIPT });
      r.defineCommand('pvFinishPlanning', { numberOfKeys: 1, lua: FINISH_PLANNING_SCRIPT });
      r.defineCommand('pvSkip', { numberOfKeys: 1, lua: SKIP_SCRIPT });
      r.defineCommand('pvRecordRetry', { numberOfKeys: 1, lua: RETRY_SCRIPT });
    }
    this.#redis = r;
    this.#prefix = prefix;
    this.#ttl = ttlSeconds;
  }

  #run(id: string): string {
    return `${this.#prefix}:run:${id}`;
  }

  #objectRuns(jobId: string): string {
    return `${this.#prefix}:obj:${jobId}:runs`;
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

  /** The planner took the run. */
  async start(id: string): Promise<void> {
    await this.#redis.hset(this.#run(id), { state: 'running', started_at: new Date().toISOString() });
  }

  /** Attaches runs to the objects (transform job ids) whose outcome they wait for. */
  async attach(id: string, jobIds: readonly string[]): Promise<void> {
    if (jobIds.length === 0) return;
    const m = this.#redis.multi();
    for (const j of jobIds) m.sadd(this.#objectRuns(j), id);
    await m.exec();
  }

  /** Detaches a run from an object (it was found already loaded). */
  async detach(id: string, jobId: string): Promise<void> {
    await this.#redis.srem(this.#objectRuns(jobId), id);
  }

  /** Counts objects the planner skipped for one run (already in the ledger). */
  async skip(id: string, keys: readonly string[]): Promise<void> {
    for (let i = 0; i < keys.length; i += 1000) {
      await this.#redis.pvSkip(this.#run(id), ...keys.slice(i, i + 1000));
    }
  }

  /**
   * Reports an object's outcome to every run attached to it. Returns the runs
   * this outcome completed (their finalization is the caller's to enqueue).
   */
  async recordOutcome(
    jobId: string,
    key: string,
    outcome: ObjectOutcome,
    rows = 0,
    reason = '',
    dropped: DroppedCounts = noneDropped(),
  ): Promise<string[]> {
    return this.#redis.pvRecordOutcome(
      this.#objectRuns(jobId),
      this.#prefix,
      key,
      outcome,
      rows,
      reason,
      new Date().toISOString(),
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
    await this.#redis.pvRecordRetry(this.#objectRuns(jobId), this.#prefix, key, `${jobId}:${event}`, reason, runId);
  }

  /** Reports that a run's planning is tried again (key '' in its retries). */
  async recordPlanRetry(id: string, event: string, reason: string): Promise<void> {
    await this.#redis.pvRecordRetry(this.#objectRuns(`plan-${id}`), this.#prefix, '', `plan:${event}`, reason, id);
  }

  /** Planning is over: `planned` objects in range. Returns true when that already completes the run. */
  async finishPlanning(id: string, planned: number): Promise<boolean> {
    return (await this.#redis.pvFinishPlanning(this.#run(id), planned, new Date().toISOString())) === 1;
  }

  /** The run could not be planned at all. */
  async fail(id: string, reason: string): Promise<void> {
    await this.#redis
      .multi()
      .hset(this.#run(id), { state: 'failed', fatal_error: reason, finished_at: new Date().toISOString() })
      .exec();
  }

  /** Lets a finished run's keys expire. */
  async expire(id: string): Promise<void> {
    const m = this.#redis.multi();
    for (const suffix of [
      '',
      ':done',
      ':transformed',
      ':errors',
      ':retry-events',
      ':retries',
      ':retry-counts',
      ':warnings',
    ])
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
