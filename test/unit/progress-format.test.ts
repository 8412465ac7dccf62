import type { RunCounts } from '@pv-pipeline/stages';
import cliProgress from 'cli-progress';
import { describe, expect, it } from 'vitest';
import {
  etaSeconds,
  formatEta,
  NO_ETA,
  objectsDone,
  PROGRESS_BAR_FORMAT,
  RunProgress,
} from '../../src/commands/progress-format.js';

const counts = (c: Partial<RunCounts>): RunCounts => ({
  planned: 0,
  transformed: 0,
  loaded: 0,
  skipped: 0,
  failed: 0,
  readings: 0,
  ...c,
});

/**
 * The line cli-progress draws for a frame (its own formatter, a 10-character
 * bar), with its own ETA estimate as it is before it has a rate.
 */
function render(frame: ReturnType<RunProgress['frame']>): string {
  return cliProgress.Format.Formatter(
    {
      format: PROGRESS_BAR_FORMAT,
      barsize: 10,
      barCompleteString: '#'.repeat(10),
      barIncompleteString: '-'.repeat(10),
      barGlue: '',
      autopaddingChar: '', // as cli-progress's option defaults set it
    },
    {
      progress: frame.value / frame.total,
      value: frame.value,
      total: frame.total,
      eta: Number.NaN,
      startTime: Date.now(),
      stopTime: null,
      maxWidth: 200,
    },
    frame.payload,
  );
}

describe('objectsDone', () => {
  it('counts skipped, transformed and failed objects, not only loaded ones', () => {
    expect(objectsDone(counts({ planned: 100, skipped: 10 }))).toBe(10);
    expect(objectsDone(counts({ planned: 100, skipped: 10, transformed: 30 }))).toBe(40);
    expect(objectsDone(counts({ planned: 100, skipped: 10, transformed: 30, loaded: 20, failed: 2 }))).toBe(42);
  });

  it('never passes the planned (an object failing at commit was transformed too)', () => {
    expect(objectsDone(counts({ planned: 10, transformed: 10, failed: 3 }))).toBe(10);
  });
});

describe('etaSeconds', () => {
  const since = { done: 10, atMs: 1_000 };

  it('is unknown (null) until an object is done after the clock started', () => {
    expect(etaSeconds(10, 100, since, 1_000)).toBeNull();
    expect(etaSeconds(10, 100, since, 60_000)).toBeNull();
  });

  it('extrapolates the rate since the clock started, skipped objects aside', () => {
    // 20 objects in 10 s: 2/s, 70 left: 35 s
    expect(etaSeconds(30, 100, since, 11_000)).toBe(35);
    // 45 in 15 s: 3/s, 45 left: 15 s
    expect(etaSeconds(55, 100, since, 16_000)).toBe(15);
  });

  it('is 0 once every object is done, even with none done after the clock started', () => {
    expect(etaSeconds(100, 100, since, 11_000)).toBe(0);
    expect(etaSeconds(10, 10, { done: 10, atMs: 1_000 }, 1_000)).toBe(0);
  });
});

describe('formatEta', () => {
  it('shows -- while unknown, never NaN or Infinity', () => {
    expect(formatEta(null)).toBe(NO_ETA);
    expect(formatEta(Number.NaN)).toBe(NO_ETA);
    expect(formatEta(Number.POSITIVE_INFINITY)).toBe(NO_ETA);
    expect(formatEta(-1)).toBe(NO_ETA);
  });

  it('shows seconds, minutes and hours', () => {
    expect(formatEta(0)).toBe('0s');
    expect(formatEta(42.4)).toBe('42s');
    expect(formatEta(59.6)).toBe('1m 00s');
    expect(formatEta(185)).toBe('3m 05s');
    expect(formatEta(2 * 3600 + 7 * 60 + 30)).toBe('2h 07m');
    expect(formatEta(100 * 3600)).toBe('>99h');
  });
});

describe('RunProgress', () => {
  it('starts its clock on the first frame, then shows objects, readings and a real ETA as they complete', () => {
    const p = new RunProgress();
    // planned: 1000 objects, 100 already in the ledger
    const first = p.frame(counts({ planned: 1000, skipped: 100 }), 0);
    expect(first).toMatchObject({ value: 100, total: 1000 });
    expect(render(first)).toBe(' #--------- 10% | 100/1000 objects | 0 loaded, 0 readings | 0 failed | ETA --');
    // 5 s later: 200 transformed, nothing committed yet (the batch is still filling)
    expect(render(p.frame(counts({ planned: 1000, skipped: 100, transformed: 200 }), 5_000))).toBe(
      ' ###------- 30% | 300/1000 objects | 0 loaded, 0 readings | 0 failed | ETA 18s',
    );
    // 10 s: a batch committed
    expect(
      render(
        p.frame(
          counts({ planned: 1000, skipped: 100, transformed: 399, failed: 1, loaded: 300, readings: 1_234_567 }),
          10_000,
        ),
      ),
    ).toBe(' #####----- 50% | 500/1000 objects | 300 loaded, 1,234,567 readings | 1 failed | ETA 13s');
    // all transformed: ETA 0 while the last batch commits
    expect(render(p.frame(counts({ planned: 1000, skipped: 100, transformed: 899, failed: 1 }), 20_000))).toMatch(
      /^ #{10} 100% \| 1000\/1000 objects .* ETA 0s$/,
    );
  });

  it('shows an empty run as 0 of 1 (not 0/0), with nothing left to wait for', () => {
    const frame = new RunProgress().frame(counts({}), 0);
    expect(frame).toMatchObject({ value: 0, total: 1 });
    expect(frame.payload.time_left).toBe('0s');
  });
});
