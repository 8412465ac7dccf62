import { createHash } from 'node:crypto';
import { BadInputError } from '@pv-pipeline/core';
import type { ExportRequest } from './export-options.js';

/** The splits a bucket can land in. */
export const SPLITS = ['train', 'valid', 'test'] as const;
/** One of {@link SPLITS}. */
export type SplitName = (typeof SPLITS)[number];

/** Time boundaries of a split in time, epoch seconds (bucket starts; each block is `[start, end)`). */
export interface TimeBlocks {
  train: [number, number];
  valid: [number, number] | null;
  test: [number, number] | null;
}

/** Where every bucket goes. */
export interface SplitPlan {
  mode: ExportRequest['split'];
  /** Blocks in time for the systems split in time; null for `system`. */
  blocks: TimeBlocks | null;
  /** The split of each system held out whole (`system`: every system; `both`: the test systems). */
  systems: Map<number, SplitName>;
}

/** A system's place in `[0, 1)`, stable for a seed: the first 48 bits of sha256(`seed:ss_id`). */
export function systemHash(seed: string, ssId: number): number {
  return Number.parseInt(createHash('sha256').update(`${seed}:${ssId}`).digest('hex').slice(0, 12), 16) / 2 ** 48;
}

/**
 * Systems to splits by their seeded hash: ordered by it, the first
 * round(n × test) (at least one when test > 0) go to test, the next to valid,
 * the rest to train. A system never lands in two splits.
 */
export function assignSystems(
  ids: readonly number[],
  seed: string,
  valid: number,
  test: number,
): Map<number, SplitName> {
  const ordered = [...ids].sort((a, b) => systemHash(seed, a) - systemHash(seed, b) || a - b);
  const count = (share: number) => (share > 0 ? Math.max(1, Math.round(ordered.length * share)) : 0);
  const nTest = count(test);
  const nValid = count(valid);
  if (nTest + nValid >= ordered.length) {
    throw new BadInputError(
      '--split',
      `${ordered.length} system(s) cannot fill train${valid > 0 ? ', valid' : ''}${test > 0 ? ' and test' : ''} by system: export more systems, or split in time`,
    );
  }
  return new Map(
    ordered.map((id, i): [number, SplitName] => [id, i < nTest ? 'test' : i < nTest + nValid ? 'valid' : 'train']),
  );
}

/**
 * Contiguous blocks over `[lo, hi)` (bucket-aligned): train first, then valid,
 * then test, each boundary on the grid, with `embargoS` dropped after each
 * boundary so that no bucket of one split neighbours another's.
 */
export function timeBlocks(
  lo: number,
  hi: number,
  intervalS: number,
  valid: number,
  test: number,
  embargoS: number,
): TimeBlocks {
  // whole buckets; the epsilon keeps 0.7 × 100 buckets at 70 (floating point makes it 69.999…)
  const at = (share: number) => lo + Math.floor(((hi - lo) / intervalS) * share + 1e-9) * intervalS;
  const trainEnd = at(1 - valid - test);
  const validEnd = at(1 - test);
  const gap = Math.ceil(embargoS / intervalS) * intervalS;
  return {
    train: [lo, trainEnd],
    valid: valid > 0 ? [trainEnd + gap, validEnd] : null,
    test: test > 0 ? [(valid > 0 ? validEnd : trainEnd) + gap, hi] : null,
  };
}

/** The plan of a request over the systems' span `[lo, hi)`. */
export function planSplits(
  request: ExportRequest,
  ids: readonly number[],
  lo: number,
  hi: number,
  intervalS: number,
): SplitPlan {
  const { split, valid, test, embargoS, seed } = request;
  if (split === 'system') return { mode: split, blocks: null, systems: assignSystems(ids, seed, valid, test) };
  const held = split === 'both' ? assignSystems(ids, seed, 0, test) : new Map<number, SplitName>();
  const heldOut = new Map([...held].filter(([, s]) => s === 'test'));
  return {
    mode: split,
    blocks: timeBlocks(lo, hi, intervalS, valid, split === 'both' ? 0 : test, embargoS),
    systems: heldOut,
  };
}

/**
 * The time split of a bucket (`ts`: SQL of its start, epoch seconds) as SQL:
 * the block it falls in, or NULL in an embargo (and for a split by system,
 * where every system is held out whole).
 */
export function timeSplitSql(plan: SplitPlan, ts: string): string {
  const b = plan.blocks;
  if (!b) return 'CAST(NULL AS VARCHAR)';
  const arms = SPLITS.flatMap((name) => {
    const block = b[name];
    return block && block[1] > block[0] ? [`WHEN ${ts} >= ${block[0]} AND ${ts} < ${block[1]} THEN '${name}'`] : [];
  });
  return arms.length > 0 ? `CASE ${arms.join(' ')} END` : 'CAST(NULL AS VARCHAR)';
}
