/**
 * The cluster under faults: S3 errors and broken connections, workers and the
 * loader killed, Redis restarted and unreachable, staging full or unwritable.
 * After each scenario the fact table equals the ground truth (an inline run of
 * the same objects) with no duplicated key, and the run reports name what was
 * retried and what failed. `npm test` runs one round; `npm run chaos` more
 * (`CHAOS_ROUNDS`), and writes the figures (`CHAOS_FIGURES`).
 */
import { LOADER_STEPS } from '@pv-pipeline/queue';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { prng } from '../support/bigquery-fake/faults.js';
import type { RunRecord } from '../support/deployment.js';
import { waitFor } from '../support/wait-for.js';
import { ChaosCluster, exited } from './chaos-cluster.js';
import { CHAOS, chaosMirrorParams } from './chaos-settings.js';
import { S3_FAULT_KINDS } from './s3-fault-proxy.js';

const ROUNDS = CHAOS.rounds;
/** Objects a round needs: S3 8, kills 24, loader steps 7 × 1, Redis 2 × 8, staging 2 × 4. */
const PER_ROUND = 8 + 24 + 7 + 16 + 8;
const random = prng(CHAOS.seed);
const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));
const reported = (r: RunRecord) => r.retries.some((x) => x.reason.startsWith('load: loader lost'));

describe('chaos: the cluster under faults', { timeout: 240_000 * ROUNDS }, () => {
  const c = new ChaosCluster('cluster', chaosMirrorParams(Math.ceil((PER_ROUND * ROUNDS) / 31) + 1));

  beforeAll(async () => {
    await c.start();
  }, 600_000);
  afterAll(() => c.destroy(), 120_000);

  it('S3 replies 500, 503 and SlowDown, resets connections, sends slow and truncated bodies: every reading once', async () => {
    const name = 's3-faults';
    for (let round = 0; round < ROUNDS; round++) {
      const slice = c.slices.take(8);
      const before = { ...c.proxy.injected };
      const logFrom = c.proxy.log.length;
      c.proxy.rate = 0.25;
      let run: Awaited<ReturnType<typeof c.run>>;
      try {
        run = await c.run(name, slice);
      } finally {
        c.proxy.rate = 0;
      }
      for (const k of S3_FAULT_KINDS) c.figures.fault(name, k, c.proxy.injected[k] - before[k]);
      expect(run.state).toBe('completed');
      expect(run.counts).toMatchObject({ planned: 8, loaded: 8, failed: 0 });
      // a truncated object body never passes for data: the object is fetched again, and the report says so
      const cut = c.proxy.log
        .slice(logFrom)
        .filter((x) => x.kind === 'truncatedBody' && /^GET [^?]*\/pvdata\//.test(x.request));
      for (const x of cut) {
        const key = slice.keys.find((k) => decodeURIComponent(x.request).includes(k));
        expect(run.retries.find((r) => r.key === key)?.reason, x.request).toMatch(/transform: .*GetObject/);
      }
      await c.verify(name, [slice]);
    }
    expect(Object.values(c.figures.scenario(name).faults).filter((n) => n > 0).length).toBeGreaterThanOrEqual(4);
  });

  it('workers SIGKILLed at random moments, repeatedly, and restarted: every reading once', async () => {
    const name = 'worker-kills';
    c.proxy.latencyMs = 300; // a slow network: the run lasts long enough to be hit
    try {
      for (let round = 0; round < ROUNDS; round++) {
        const slice = c.slices.take(24);
        let kills = 0;
        const run = await c.run(name, slice, async (id) => {
          await c.until(id, 'the run to start transforming', (r) => r.state === 'running');
          for (let k = 0; k < 3; k++) {
            await pause(150 + random() * 700); // the moment of the kill, drawn from the seed
            if ((await c.d.run(id)).state !== 'running') break;
            const tag = random() < 0.5 ? 'worker-1' : 'worker-2';
            await c.d.stop(tag, 'SIGKILL');
            c.spawn('worker', tag);
            kills++;
          }
        });
        c.figures.fault(name, 'workerSigkill', kills);
        expect(kills).toBeGreaterThanOrEqual(1);
        expect(run.counts).toMatchObject({ planned: 24, loaded: 24, failed: 0 });
        await c.verify(name, [slice]);
      }
    } finally {
      c.proxy.latencyMs = 0;
    }
    expect(c.figures.scenario(name).reasons.join('\n')).toMatch(/worker lost mid-job/);
  });

  it('the loader killed between every pair of its steps (crash hook): every reading once, the redo reported', async () => {
    const name = 'loader-steps';
    for (let round = 0; round < ROUNDS; round++) {
      const slices = [];
      for (const step of LOADER_STEPS) {
        const slice = c.slices.take(1);
        slices.push(slice);
        await c.d.stop('loader');
        const doomed = c.spawn('loader', 'loader', { PV_FAULT_EXIT_AT: step });
        const redo = { what: `the redo after the crash at ${step} reported`, ok: (r: RunRecord) => reported(r) };
        const run = await c.run(
          name,
          slice,
          async () => {
            await exited(doomed, `the loader to crash at step ${step}`);
            c.figures.fault(name, `loaderKilledAt:${step}`);
            c.spawn('loader');
          },
          step === 'finalized' ? undefined : redo, // finalization is per run, not per object: no object redone
        );
        expect(run.counts, step).toMatchObject({ planned: 1, loaded: 1, failed: 0 });
      }
      await c.verify(name, slices);
    }
  });

  it('Redis killed and restarted mid-run (AOF): the services reconnect, every reading once', async () => {
    const name = 'redis-restart';
    for (let round = 0; round < ROUNDS; round++) {
      const slice = c.slices.take(8);
      const run = await c.run(name, slice, async (id) => {
        await c.until(id, 'two objects transformed', (r) => r.counts.transformed >= 2);
        await c.d.redis.stop(true);
        await c.d.redis.start();
        c.figures.fault(name, 'redisSigkillRestart');
      });
      expect(run.counts).toMatchObject({ planned: 8, loaded: 8, failed: 0 });
      await c.verify(name, [slice]);
    }
  });

  it('Redis unreachable for longer than a job lock: the services wait, reconnect, every reading once', async () => {
    const name = 'redis-outage';
    for (let round = 0; round < ROUNDS; round++) {
      const slice = c.slices.take(8);
      const run = await c.run(name, slice, async (id) => {
        await c.until(id, 'two objects transformed', (r) => r.counts.transformed >= 2);
        await c.d.redis.stop();
        await waitFor(async () => (await fetch(`http://127.0.0.1:${c.d.port}/readyz`)).status === 503, {
          timeoutMs: 10_000,
          what: 'the api to report Redis unreachable',
        });
        await pause(4_000); // the outage itself: longer than the 3 s job locks
        await c.d.redis.start();
        c.figures.fault(name, 'redisDown4s');
      });
      expect(run.counts).toMatchObject({ planned: 8, loaded: 8, failed: 0 });
      await c.verify(name, [slice]);
    }
  });

  it('staging disk full: the transforms are retried (reported) and the run completes once there is room', async (ctx) => {
    if (!c.staging.canFill) ctx.skip(); // needs the tmpfs (root with mount rights)
    const name = 'staging-full';
    for (let round = 0; round < ROUNDS; round++) {
      const slice = c.slices.take(4);
      c.staging.fill();
      let filled = true;
      try {
        const run = await c.run(name, slice, async (id) => {
          await c.until(id, 'a retry for lack of space', (r) => /no space left/i.test(JSON.stringify(r.retries)));
          c.staging.unfill();
          filled = false;
          c.figures.fault(name, 'stagingFull');
        });
        expect(run.counts).toMatchObject({ planned: 4, loaded: 4, failed: 0 });
      } finally {
        if (filled) c.staging.unfill();
      }
      await c.verify(name, [slice]);
    }
  });

  it('staging unwritable: its objects fail with the reason; the same run again after the fix loads them', async (ctx) => {
    if (!c.staging.canMakeReadOnly) ctx.skip(); // root without mount rights: no file mode stops root
    const name = 'staging-unwritable';
    for (let round = 0; round < ROUNDS; round++) {
      const slice = c.slices.take(4);
      c.staging.readOnly();
      let failed: Awaited<ReturnType<typeof c.run>>;
      try {
        failed = await c.run(name, slice);
        c.figures.fault(name, 'stagingReadOnly');
      } finally {
        c.staging.writable();
      }
      expect(failed.counts).toMatchObject({ planned: 4, loaded: 0, failed: 4 });
      for (const e of failed.failures)
        expect(e.reason).toMatch(/staging .*cannot write .*(read-only|permission denied)/i);
      const again = await c.run(name, slice);
      expect(again.counts).toMatchObject({ planned: 4, loaded: 4, failed: 0 });
      await c.verify(name, [slice]);
    }
  });
});
