import type { RunCounts } from '@pv-pipeline/stages';

/**
 * The progress bar's format: cli-progress placeholders, and those of
 * {@link ProgressFrame.payload}. Not cli-progress's own `{eta}`: it estimates
 * from the bar's first values and shows NaN or Infinity until it can.
 */
export const PROGRESS_BAR_FORMAT =
  ' {bar} {percentage}% | {value}/{total} objects | {loaded} loaded, {readings} readings | {failed} failed | ETA {time_left}';

/** What the bar shows for some counts at some time. */
export interface ProgressFrame {
  /** Objects done: skipped, transformed or failed. */
  value: number;
  /** Objects planned (at least 1, so that an empty run is not 0/0). */
  total: number;
  payload: { loaded: string; readings: string; failed: number; time_left: string };
}

/** Shown in place of an ETA until one can be computed (no object done yet). */
export const NO_ETA = '--';

/**
 * Objects done: skipped ones, and each object to load once transformed (it is
 * then only waiting for its batch's commit) or failed. An object that fails at
 * commit after its transform counts twice, so the sum is capped at the planned.
 */
export function objectsDone(c: Readonly<RunCounts>): number {
  return Math.min(c.planned, c.skipped + c.transformed + c.failed);
}

/**
 * Seconds left at the rate objects were done since `since` (the counts and
 * time when planning finished: the skipped objects do not count towards the
 * rate). Null until an object is done after `since` (the rate is unknown),
 * 0 once all are.
 */
export function etaSeconds(
  done: number,
  total: number,
  since: { done: number; atMs: number },
  nowMs: number,
): number | null {
  const progressed = done - since.done;
  const elapsedMs = nowMs - since.atMs;
  if (done >= total) return 0;
  if (progressed <= 0 || elapsedMs <= 0) return null;
  return ((total - done) * elapsedMs) / progressed / 1000;
}

/** `--` (unknown), `42s`, `3m 05s`, `2h 07m`, or `>99h`. */
export function formatEta(seconds: number | null): string {
  if (seconds === null || !Number.isFinite(seconds) || seconds < 0) return NO_ETA;
  const s = Math.round(seconds);
  const pad = (n: number) => String(n).padStart(2, '0');
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m ${pad(s % 60)}s`;
  if (s < 100 * 3600) return `${Math.floor(s / 3600)}h ${pad(Math.floor((s % 3600) / 60))}m`;
  return '>99h';
}

/**
 * The frames of one run's bar. The first frame (the counts once planning is
 * done) starts the ETA's clock; later frames estimate the time left from the
 * objects done since.
 */
export class RunProgress {
  private since: { done: number; atMs: number } | null = null;

  frame(c: Readonly<RunCounts>, nowMs: number): ProgressFrame {
    const done = objectsDone(c);
    this.since ??= { done, atMs: nowMs };
    return {
      value: done,
      total: Math.max(c.planned, 1),
      payload: {
        loaded: c.loaded.toLocaleString('en-US'),
        readings: c.readings.toLocaleString('en-US'),
        failed: c.failed,
        time_left: formatEta(etaSeconds(done, c.planned, this.since, nowMs)),
      },
    };
  }
}
