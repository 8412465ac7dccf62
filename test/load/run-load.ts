/**
 * `npm run load`: a bounded load test on loopback (its own redis-server and
 * `pv-pipeline serve all` over the sample mirror). Prints the figures as
 * Markdown for RELIABILITY.md and as JSON.
 *
 *   npm run load [-- --requests 3000 --concurrency 64 --queued-runs 200 --keep-completed 200]
 */
import { parseArgs } from 'node:util';
import { type LoadFigures, runLoad } from './load-harness.js';

const { values } = parseArgs({
  options: {
    requests: { type: 'string', default: '3000' },
    concurrency: { type: 'string', default: '64' },
    'trigger-every': { type: 'string', default: '10' },
    'queued-runs': { type: 'string', default: '200' },
    'keep-completed': { type: 'string', default: '200' },
  },
});
const figures = await runLoad({
  requests: Number(values.requests),
  concurrency: Number(values.concurrency),
  triggerEvery: Number(values['trigger-every']),
  queuedRuns: Number(values['queued-runs']),
  keepCompleted: Number(values['keep-completed']),
});

const mb = (b: number) => `${(b / 1024 / 1024).toFixed(1)} MiB`;
const row = (what: string, l: LoadFigures['latency']['all']) =>
  `| ${what} | ${l.count} | ${l.p50} | ${l.p95} | ${l.p99} | ${l.max} |`;
const o = figures.options;
process.stdout.write(
  [
    `Burst: ${o.requests} requests, ${o.concurrency} in flight, one in ${o.triggerEvery} a trigger; then ${o.queuedRuns} real runs queued at once (the whole sample mirror each, Parquet and CSV by turns), status read throughout; completed jobs kept per queue: ${o.keepCompleted}.`,
    '',
    '| requests | count | p50 ms | p95 ms | p99 ms | max ms |',
    '|---|---|---|---|---|---|',
    row('triggers (POST /api/runs)', figures.latency.trigger),
    row('status reads (GET /api/runs, /api/runs/:id)', figures.latency.read),
    row('all of the burst', figures.latency.all),
    row(`status reads while ${o.queuedRuns} queued runs were worked through`, figures.readsDuringJobs),
    '',
    `Answers by status: ${Object.entries(figures.statuses)
      .map(([s, n]) => `${s === '0' ? 'no answer' : s}: ${n}`)
      .join(', ')}.`,
    `Queued runs finished: ${figures.runsFinished} of ${o.queuedRuns} (each the whole sample mirror, Parquet and CSV by turns): ${figures.queuedOutcomes.completed} completed, ${figures.queuedOutcomes.loaded} objects loaded, ${figures.queuedOutcomes.skipped} skipped (in the ledger), ${figures.queuedOutcomes.failed} failed, ${figures.queuedOutcomes.readings.toLocaleString('en-US')} readings loaded (summed over the runs).`,
    `Kept at the end: ${Object.entries(figures.kept)
      .map(([q, k]) => `${q} ${k.completed} completed jobs, events stream ${k.events}`)
      .join('; ')}.`,
    `Redis: used_memory_peak ${mb(figures.redis.usedMemoryPeakBytes)}, used_memory at the end ${mb(figures.redis.usedMemoryEndBytes)}, ${figures.redis.keys} keys. Took ${figures.seconds} s.`,
    '',
    '```json',
    JSON.stringify(figures),
    '```',
    '',
  ].join('\n'),
);
