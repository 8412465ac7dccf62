import type { StagedManifest } from '@pv-pipeline/core';
import type { Sink } from '@pv-pipeline/sinks';
import type { StagingArea } from '@pv-pipeline/stages';
import type { Job } from 'bullmq';
import type { Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';
import type { LoadJobData } from '../src/job-payloads.js';
import type { LedgerCache } from '../src/ledger-cache.js';
import { LoadProcessor, type LoadProcessorDeps } from '../src/load-processor.js';
import type { PipelineQueues } from '../src/queues.js';
import type { RunStore } from '../src/run-store.js';
import { stagedManifest } from './staged-manifest-fixture.js';

const job = (i: number) =>
  ({
    stalledCounter: 0,
    attemptsMade: 0,
    opts: {},
    data: { kind: 'readings', runId: 'r', manifest: stagedManifest(i) },
  }) as unknown as Job<LoadJobData>;

/** A loader over in-memory fakes; `commits` records each batch's keys. */
function loader(extra: Partial<LoadProcessorDeps>) {
  const commits: string[][] = [];
  const sink = {
    ledgerEtags: async () => new Map(),
    commit: async (batch: readonly StagedManifest[]) => {
      commits.push(batch.map((m) => m.key));
      return { rows: batch.reduce((n, m) => n + m.rows, 0), replaced: 0 };
    },
  } as unknown as Sink;
  const staging = {
    localize: async () => ({ path: (ref: string) => ref, synced: false, release: async () => undefined }),
    remove: async () => undefined,
  } as unknown as StagingArea;
  const redis = { multi: () => ({ hincrby: () => undefined, exec: async () => [] }) } as unknown as Redis;
  const p = new LoadProcessor({
    sink,
    staging,
    runs: { recordOutcome: async () => [] } as unknown as RunStore,
    ledger: { set: async () => undefined } as unknown as LedgerCache,
    queues: {} as PipelineQueues,
    catalog: async () => {
      throw new Error('not used');
    },
    redis,
    prefix: '{t}',
    logger: { warn: () => undefined, error: () => undefined } as unknown as LoadProcessorDeps['logger'],
    batchRows: 1_000_000,
    batchObjects: 500,
    maxWaitMs: 3_600_000, // an hour: only the idle check can commit these batches
    idlePollMs: 1,
    ...extra,
  });
  return { p, commits };
}

describe('LoadProcessor batching', () => {
  it('commits waiting manifests in one batch as soon as nothing more is on its way', async () => {
    let idle = false;
    let asked = 0;
    const { p, commits } = loader({
      upstreamIdle: async () => {
        asked++;
        return idle;
      },
    });
    const done = [p.process(job(1)), p.process(job(2))];
    // not idle yet: the manifests keep waiting while the loader asks again
    while (asked < 3) await new Promise((r) => setTimeout(r, 1));
    expect(commits).toEqual([]);
    done.push(p.process(job(3)));
    idle = true;
    expect(await Promise.all(done)).toEqual([{ rows: 10 }, { rows: 10 }, { rows: 10 }]);
    expect(commits).toEqual([['k1', 'k2', 'k3']]);
  });

  it('an idle check that fails leaves the batch to the age limit and keeps asking', async () => {
    let calls = 0;
    const { p, commits } = loader({
      upstreamIdle: async () => {
        if (++calls < 3) throw new Error('redis down');
        return true;
      },
    });
    expect(await p.process(job(1))).toEqual({ rows: 10 });
    expect(commits).toEqual([['k1']]);
    expect(calls).toBe(3);
  });
});
