import type { StagedManifest } from '@pv-pipeline/core';

/**
 * Which object keeps a reading that two objects deliver (the same
 * `(ss_id, timestamp, sensor)`), the one rule every sink applies:
 * - objects of one group (the byte ranges of one prize file) rank by their
 *   `order`: the later in the file keeps it, whatever order they commit in;
 * - otherwise the object committed later keeps it (the later in its batch).
 */

/** An object's precedence within its batch: compare `rank`, then `order`, then `pos` (higher wins). */
export interface BatchPrecedence {
  /** The batch position of the object, or of the last object of its group in the batch. */
  rank: number;
  /** Its order within its group (0 without one). */
  order: number;
  /** Its own batch position. */
  pos: number;
}

/** The precedence of every object of a batch, by position. */
export function batchPrecedence(batch: readonly StagedManifest[]): BatchPrecedence[] {
  const lastOfGroup = new Map<string, number>();
  batch.forEach((m, i) => {
    if (m.group !== null) lastOfGroup.set(m.group, i);
  });
  return batch.map((m, i) => ({
    rank: m.group === null ? i : lastOfGroup.get(m.group)!,
    order: m.order ?? 0,
    pos: i,
  }));
}

/** Whether `a` keeps a reading against `b` (both of one batch). */
export function outranks(a: BatchPrecedence, b: BatchPrecedence): boolean {
  return a.rank !== b.rank ? a.rank > b.rank : a.order !== b.order ? a.order > b.order : a.pos > b.pos;
}

/**
 * Whether a committed object keeps a reading against an incoming one: only
 * when both are of one group and the committed one is later in it.
 */
export function committedKeeps(
  committed: { group: string | null; order: number | null },
  incoming: Pick<StagedManifest, 'group' | 'order'>,
): boolean {
  return (
    committed.group !== null && committed.group === incoming.group && (committed.order ?? 0) > (incoming.order ?? 0)
  );
}
