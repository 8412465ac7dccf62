/**
 * The ids of the reading rules, in the order they are applied: each names a
 * reason a reading is dropped, and every count of dropped readings (manifest,
 * ledger, run reports, quality report) is kept by these ids. The rules
 * themselves live with the readers (`@pv-pipeline/pvdaq`, `rules/`).
 */
export const READING_RULE_IDS = ['missing', 'sentinel', 'non_finite', 'duplicate'] as const;

/** One of {@link READING_RULE_IDS}. */
export type ReadingRuleId = (typeof READING_RULE_IDS)[number];

/** Readings dropped, by the rule that dropped them. */
export type DroppedCounts = Record<ReadingRuleId, number>;

/** Zero for every rule. */
export function noneDropped(): DroppedCounts {
  return { missing: 0, sentinel: 0, non_finite: 0, duplicate: 0 };
}

/** Adds `more` into `into` (in place) and returns it. */
export function addDropped(into: DroppedCounts, more: Partial<DroppedCounts>): DroppedCounts {
  for (const id of READING_RULE_IDS) into[id] += more[id] ?? 0;
  return into;
}
