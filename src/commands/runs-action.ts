import { setTimeout as sleep } from 'node:timers/promises';
import { parseSystemsOption } from '@pv-pipeline/core';
import { commandFailed } from './command-failure.js';

/** Options of `pv-pipeline runs trigger`, as commander parses them. */
export interface RunsTriggerOptions {
  api: string;
  token: string;
  systems: string;
  from?: string;
  to?: string;
  format: string;
  wait?: boolean;
  json?: boolean;
}

/** The fields of a run record this command reads. */
interface RunRecord {
  runId: string;
  state: string;
  recorded?: boolean;
  counts: { planned: number; loaded: number; skipped: number; failed: number; readings: number };
  failures: Array<{ key: string; reason: string }>;
}

/** How often a followed run is read. */
const POLL_MS = 1000;
/** How long a poll may fail in a row (the API restarting, a lost connection) before the command gives up. */
const POLL_FAILURES_MS = 60_000;
/** How long a finished run may wait for its record in the sink (the loader's finalization). */
const RECORD_WAIT_MS = 300_000;
/** Exit codes by final state, as `pv-pipeline run`'s. */
const EXIT: Record<string, number> = { completed: 0, partial: 2 };

/** The action of `pv-pipeline runs trigger`: 0/2/1 as the run ended, 1 when it could not be triggered. */
export async function runsTrigger(opts: RunsTriggerOptions): Promise<number> {
  try {
    const base = opts.api.replace(/\/+$/, '');
    const headers = { authorization: `Bearer ${opts.token}`, 'content-type': 'application/json' };
    const body = {
      systems: parseSystemsOption(opts.systems),
      ...(opts.from ? { from: opts.from } : {}),
      ...(opts.to ? { to: opts.to } : {}),
      format: opts.format,
    };
    const res = await fetch(`${base}/api/runs`, { method: 'POST', headers, body: JSON.stringify(body) });
    const created = (await res.json().catch(() => ({}))) as { runId?: string; error?: string };
    if (res.status !== 202 || !created.runId) {
      process.stderr.write(`pv-pipeline runs trigger: ${res.status} ${created.error ?? res.statusText}\n`);
      return 1;
    }
    process.stderr.write(`run ${created.runId} queued\n`);
    if (!opts.wait) {
      process.stdout.write(opts.json ? `${JSON.stringify(created, null, 2)}\n` : `${created.runId}\n`);
      return 0;
    }
    let last = '';
    let failingSince: number | null = null;
    let finishedAt: number | null = null;
    for (;;) {
      let run: RunRecord;
      try {
        const r = await fetch(`${base}/api/runs/${created.runId}`, { headers, signal: AbortSignal.timeout(10_000) });
        if (!r.ok) throw new Error(`GET /api/runs/${created.runId}: ${r.status}`);
        run = (await r.json()) as RunRecord;
        failingSince = null;
      } catch (err) {
        failingSince ??= Date.now();
        if (Date.now() - failingSince > POLL_FAILURES_MS) throw err;
        process.stderr.write(`${new Date().toISOString()} reading the run failed (${(err as Error).message}); again\n`);
        await sleep(POLL_MS);
        continue;
      }
      const c = run.counts;
      const line = `${run.state}: ${c.planned} planned · ${c.loaded} loaded · ${c.skipped} skipped · ${c.failed} failed · ${c.readings.toLocaleString('en-US')} readings`;
      if (line !== last) process.stderr.write(`${new Date().toISOString()} ${line}\n`);
      last = line;
      if (['completed', 'partial', 'failed', 'cancelled'].includes(run.state)) {
        // over once the loader has also written it into the sink (pv_runs): stopping earlier could lose that row
        finishedAt ??= Date.now();
        if (run.recorded === false && Date.now() - finishedAt < RECORD_WAIT_MS) {
          await sleep(POLL_MS);
          continue;
        }
        process.stdout.write(opts.json ? `${JSON.stringify(run, null, 2)}\n` : `${line}\n`);
        for (const f of run.failures) process.stderr.write(`failed: ${f.key}: ${f.reason}\n`);
        return EXIT[run.state] ?? 1;
      }
      await sleep(POLL_MS);
    }
  } catch (err) {
    return commandFailed('runs trigger', err);
  }
}

/** Options of `pv-pipeline runs cancel`, as commander parses them. */
export interface RunsCancelOptions {
  api: string;
  token: string;
  json?: boolean;
}

/**
 * The action of `pv-pipeline runs cancel ID` (DELETE /api/runs/:id): 0 when
 * the run was cancelled, 1 when it is unknown, already finished, or the API
 * refused.
 */
export async function runsCancel(runId: string, opts: RunsCancelOptions): Promise<number> {
  try {
    const base = opts.api.replace(/\/+$/, '');
    const res = await fetch(`${base}/api/runs/${encodeURIComponent(runId)}`, {
      method: 'DELETE',
      headers: { authorization: `Bearer ${opts.token}` },
    });
    const body = (await res.json().catch(() => ({}))) as Partial<RunRecord> & { error?: string };
    if (res.status !== 200) {
      process.stderr.write(`pv-pipeline runs cancel: ${res.status} ${body.error ?? res.statusText}\n`);
      return 1;
    }
    process.stdout.write(opts.json ? `${JSON.stringify(body, null, 2)}\n` : `run ${runId} cancelled\n`);
    return 0;
  } catch (err) {
    return commandFailed('runs cancel', err);
  }
}
