import { READING_RULE_IDS, type ReadingRuleId } from '@pv-pipeline/core';

/** One reading rule: a reason a cell or value does not become a reading. */
export interface ReadingRule {
  id: ReadingRuleId;
  /** What the rule drops, as the README and the quality report state it. */
  description: string;
}

/** Values that mean "no reading" in PVDAQ, matched exactly. */
export const SENTINELS: readonly number[] = [-999, -7999, -9999, -99999];
const SENTINEL_SET: ReadonlySet<number> = new Set(SENTINELS);
/**
 * The largest sentinel: a finite value above it is a reading under every
 * value rule (NaN is not above it). A loop over millions of values checks
 * this before it calls {@link ruleForValue}: a call that V8 does not inline
 * boxes its double argument.
 */
export const SENTINEL_MAX = Math.max(...SENTINELS);

/**
 * The reading rules, in the order they are applied, one per id of
 * {@link READING_RULE_IDS}. Every reader (daily CSV, daily Parquet, prize CSV,
 * residential feed) applies them, and every dropped reading is counted under
 * the id of the rule that dropped it.
 */
export const READING_RULES: readonly ReadingRule[] = [
  {
    id: 'missing',
    description:
      'an empty cell, a null, or a missing-value word (NaN in any spelling, null, NA, N/A, None, #N/A): no reading',
  },
  { id: 'sentinel', description: `a sentinel value (${SENTINELS.join(', ')}), matched exactly: no reading` },
  {
    id: 'non_finite',
    description:
      'a value that is not a finite decimal number: ±Infinity (any spelling), a number that overflows a double (1e999), hex/binary/octal notation (0x1A, 0b1, 0o7): no reading',
  },
  {
    id: 'duplicate',
    description:
      'a reading repeated for the same UTC instant and channel within one object: the last in file order is kept',
  },
];

// every id has its rule, in the order of the ids
if (READING_RULES.map((r) => r.id).join() !== READING_RULE_IDS.join()) {
  throw new Error('READING_RULES and READING_RULE_IDS disagree');
}

/**
 * The rule that drops a numeric value, or null when it is a reading: NaN is
 * missing (Parquet's and pandas' missing marker), ±Infinity non-finite, a
 * sentinel a sentinel.
 */
export function ruleForValue(v: number): ReadingRuleId | null {
  if (Number.isNaN(v)) return 'missing';
  if (v === Number.POSITIVE_INFINITY || v === Number.NEGATIVE_INFINITY) return 'non_finite';
  if (v <= SENTINEL_MAX && SENTINEL_SET.has(v)) return 'sentinel';
  return null;
}

const MISSING_WORDS = new Set(['', 'nan', '-nan', '+nan', 'null', 'na', 'n/a', 'none', '#n/a', 'nil']);
const INFINITY_WORDS = /^[+-]?(inf|infinity|∞)$/i;

/**
 * A text cell as a value: the number, or the id of the rule that drops it
 * (missing or non-finite; sentinels are numbers and are judged by
 * {@link ruleForValue}), or undefined when the text is not a number at all
 * (the object then fails, naming the cell).
 */
export function parseCell(cell: string): number | ReadingRuleId | undefined {
  const first = cell.charCodeAt(0);
  // fast path: a plain decimal number (no leading blank, no 0x/0b/0o prefix)
  if (first > 32 && !(first === 48 && cell.length > 2 && isRadixLetter(cell.charCodeAt(1)))) {
    const n = Number(cell);
    if (Number.isFinite(n)) return n;
  }
  const t = cell.trim();
  if (MISSING_WORDS.has(t.toLowerCase())) return 'missing';
  if (INFINITY_WORDS.test(t)) return 'non_finite';
  if (/^[+-]?0[xXbBoO]/.test(t)) return /^[+-]?0(x[0-9a-f]+|b[01]+|o[0-7]+)$/i.test(t) ? 'non_finite' : undefined;
  const n = Number(t);
  if (Number.isNaN(n)) return undefined;
  // a decimal number that overflows a double (1e999)
  return Number.isFinite(n) ? n : 'non_finite';
}

/** `x`, `b` or `o`, either case. */
function isRadixLetter(code: number): boolean {
  const c = code | 32;
  return c === 120 || c === 98 || c === 111;
}
