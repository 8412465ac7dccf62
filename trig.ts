import { createRedisConnection, openQueues, DEFAULT_TUNING, RunStore, JOB_NAMES } from '@pv-pipeline/queue';
const c = createRedisConnection(process.env.REDIS_URL!, { blocking: false });
const q = openQueues(c, '{pv}', DEFAULT_TUNING);
const runs = new RunStore(c, '{pv}');
const id = 'run-smoke-' + Date.now();
const request = { systems: 'all' as const, from: '2010-01-01', to: '2025-12-31', format: 'parquet' as const };
await runs.create(id, request);
await q.plan.add(JOB_NAMES.plan, { runId: id, request }, { jobId: id });
const t0 = Date.now();
for (let i = 0; i < 120; i++) { const r = await runs.get(id); if (r?.state === 'completed' || r?.state === 'failed') { console.log(Date.now()-t0, 'ms', JSON.stringify(r)); break; } await new Promise(r => setTimeout(r, 500)); }
await q.close(); c.disconnect();
