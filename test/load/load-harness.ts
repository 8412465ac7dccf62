import { performance } from 'node:perf_hooks';
import { DEFAULT_PREFIX, DEFAULT_TUNING, JOB_NAMES, openQueues, QUEUE_NAMES, RunStore } from '@pv-pipeline/queue';
import { isFinished } from '@pv-pipeline/stages';
import type { Redis } from 'ioredis';
import { SAMPLE_MIRROR } from '../support/cli.js';
import { type ServeAll, startServeAll } from '../support/serve-all.js';
import { waitFor } from '../support/wait-for.js';

/** How hard to push. */
export interface LoadOptions {
  /** HTTP requests in the burst (a mix of triggers and status reads). */
  requests: number;
  /** Requests in flight at once. */
  concurrency: number;
  /** One request in this many is a trigger (`POST /api/runs`); the rest read status. */
  triggerEvery: number;
  /** Runs queued straight into Redis (as the API does, without its rate limit), each a plan job. */
  queuedRuns: number;
  /** Completed jobs each queue keeps (the production default is 10,000). */
  keepCompleted: number;
}

/** Latency percentiles of one kind of request, ms. */
export interface Latency {
  count: number;
  p50: number;
  p95: number;
  p99: number;
  max: number;
}

/** What a load run measured. */
export interface LoadFigures {
  options: LoadOptions;
  /** Answers by HTTP status (0: no answer at all). */
  statuses: Record<string, number>;
  latency: { trigger: Latency; read: Latency; all: Latency };
  /** Reads answered while the queued runs were being worked through. */
  readsDuringJobs: Latency;
  /** Runs the queued-run phase saw finish, of how many. */
  runsFinished: number;
  /**
   * What the queued runs did, summed over them (an object shared by runs
   * planned at once counts for each): runs completed, objects loaded, skipped
   * and failed, readings loaded.
   */
  queuedOutcomes: { completed: number; loaded: number; skipped: number; failed: number; readings: number };
  /** Jobs each queue kept as completed at the end, and its events stream length. */
  kept: Record<string, { completed: number; events: number }>;
  redis: { usedMemoryPeakBytes: number; usedMemoryEndBytes: number; keys: number };
  seconds: number;
}

function percentiles(ms: number[]): Latency {
  const s = [...ms].sort((a, b) => a - b);
  const at = (p: number) => (s.length === 0 ? 0 : s[Math.min(s.length - 1, Math.ceil(p * s.length) - 1)]!);
  const r = (x: number) => Math.round(x * 10) / 10;
  return { count: s.length, p50: r(at(0.5)), p95: r(at(0.95)), p99: r(at(0.99)), max: r(s.at(-1) ?? 0) };
}

/** Runs `fn(i)` for i < n with at most `concurrency` at once. */
async function pool(n: number, concurrency: number, fn: (i: number) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(concurrency, n) }, async () => {
      while (next < n) await fn(next++);
    }),
  );
}

/** A number from `INFO memory`. */
const memory = async (redis: Redis, field: string) =>
  Number(new RegExp(`^${field}:(\\d+)`, 'm').exec(await redis.info('memory'))?.[1] ?? 0);

/** A request body for trigger `i`: a sample system over one of its days (mostly already loaded: planned, skipped). */
function triggerBody(i: number): object {
  const days = ['2015-06-0', '2019-03-2', '2022-01-0'];
  const systems = [4, 15, 1283];
  const k = i % 3;
  return { systems: [systems[k]], from: `${days[k]}1`, to: `${days[k]}${(i % 4) + 2}`, format: 'parquet' };
}

/**
 * Queued run `i`: the whole sample mirror, in Parquet and CSV by turns, so that
 * the first runs of each format transform and load every object (the workers
 * and the loader busy while the API is read) and later ones plan, find them in
 * the ledger and skip them.
 */
function queuedRequest(i: number) {
  return {
    systems: 'all' as const,
    from: '2010-01-01',
    to: '2025-12-31',
    format: i % 2 ? ('csv' as const) : ('parquet' as const),
  };
}

/**
 * Starts `serve all` on its own Redis over the sample mirror and (1) fires a
 * burst of triggers and status reads, (2) queues many runs at once and reads
 * status while the planner, workers and loader work through them. Measures
 * latency per request kind, answers by status, Redis peak memory, and what the
 * queues kept.
 */
export async function runLoad(options: LoadOptions): Promise<LoadFigures> {
  const started = performance.now();
  const d: ServeAll = await startServeAll({ mirror: SAMPLE_MIRROR, env: { PV_LOG_LEVEL: 'warn' } });
  const redis = d.client();
  try {
    const statuses: Record<string, number> = {};
    const trig: number[] = [];
    const reads: number[] = [];
    const runIds: string[] = [];
    const timed = async (into: number[], path: string, init?: RequestInit) => {
      const t = performance.now();
      let status = 0;
      try {
        const res = await d.api(path, init);
        status = res.status;
        const body = (await res.json()) as { runId?: string };
        if (status === 202 && body.runId) runIds.push(body.runId);
      } catch {
        // no answer: counted as status 0
      }
      into.push(performance.now() - t);
      statuses[status] = (statuses[status] ?? 0) + 1;
    };
    // (1) the burst
    await pool(options.requests, options.concurrency, async (i) => {
      if (i % options.triggerEvery === 0) {
        await timed(trig, '/api/runs', { method: 'POST', body: JSON.stringify(triggerBody(i)) });
      } else {
        const id = runIds[i % Math.max(1, runIds.length)];
        await timed(reads, i % 2 === 0 && id ? `/api/runs/${id}` : '/api/runs?limit=20');
      }
    });

    // (2) many queued runs: what the API does per trigger, without its rate limit
    const tuning = { ...DEFAULT_TUNING, keepCompletedCount: options.keepCompleted };
    const queues = openQueues(redis, DEFAULT_PREFIX, tuning);
    const store = new RunStore(redis, DEFAULT_PREFIX);
    const queued: string[] = [];
    for (let i = 0; i < options.queuedRuns; i++) {
      const id = `load-${String(i).padStart(6, '0')}`;
      await store.create(id, queuedRequest(i));
      queued.push(id);
    }
    await queues.plan.addBulk(
      queued.map((id, i) => ({
        name: JOB_NAMES.plan,
        data: { runId: id, request: queuedRequest(i) },
        opts: { jobId: id },
      })),
    );
    const during: number[] = [];
    let finished = 0;
    let reading = true;
    const reader = (async () => {
      for (let i = 0; reading; i++) {
        await timed(during, i % 2 === 0 ? `/api/runs/${queued[i % queued.length]}` : '/api/runs?limit=50');
      }
    })();
    try {
      await waitFor(
        async () => {
          const pending = [
            ...Object.values(await queues.plan.getJobCounts('waiting', 'active', 'delayed', 'prioritized')),
            ...Object.values(await queues.load.getJobCounts('waiting', 'active', 'delayed', 'prioritized')),
          ];
          return pending.every((n) => n === 0);
        },
        { timeoutMs: 600_000, intervalMs: 250, what: 'the queued runs to be worked through' },
      );
    } finally {
      reading = false;
      await reader;
    }
    const outcomes: LoadFigures['queuedOutcomes'] = { completed: 0, loaded: 0, skipped: 0, failed: 0, readings: 0 };
    for (const id of queued) {
      const run = await store.get(id);
      if (isFinished(run?.state ?? '')) finished++;
      if (run?.state === 'completed') outcomes.completed++;
      outcomes.loaded += run?.counts.loaded ?? 0;
      outcomes.skipped += run?.counts.skipped ?? 0;
      outcomes.failed += run?.counts.failed ?? 0;
      outcomes.readings += run?.counts.readings ?? 0;
    }

    const kept: LoadFigures['kept'] = {};
    for (const name of Object.values(QUEUE_NAMES)) {
      kept[name] = {
        completed: await redis.zcard(`${DEFAULT_PREFIX}:${name}:completed`),
        events: await redis.xlen(`${DEFAULT_PREFIX}:${name}:events`),
      };
    }
    await queues.close();
    return {
      options,
      statuses,
      latency: { trigger: percentiles(trig), read: percentiles(reads), all: percentiles([...trig, ...reads]) },
      readsDuringJobs: percentiles(during),
      runsFinished: finished,
      queuedOutcomes: outcomes,
      kept,
      redis: {
        usedMemoryPeakBytes: await memory(redis, 'used_memory_peak'),
        usedMemoryEndBytes: await memory(redis, 'used_memory'),
        keys: await redis.dbsize(),
      },
      seconds: Math.round((performance.now() - started) / 100) / 10,
    };
  } finally {
    redis.disconnect();
    await d.destroy();
  }
}
