import { BadInputError } from './errors.js';

const DAY = /^\d{4}-\d{2}-\d{2}$/;

/**
 * Checks `--from` / `--to` as days (`YYYY-MM-DD`, a real date) and their
 * order; a BadInputError naming the option otherwise. Either may be absent.
 */
export function assertDayRange(from: string | undefined, to: string | undefined): void {
  for (const [name, day] of [
    ['--from', from],
    ['--to', to],
  ] as const) {
    if (
      day !== undefined &&
      (!DAY.test(day) || new Date(Date.parse(`${day}T00:00:00Z`) || 0).toISOString().slice(0, 10) !== day)
    ) {
      throw new BadInputError(name, `"${day}" is not a day (YYYY-MM-DD)`);
    }
  }
  if (from && to && from > to) throw new BadInputError('--from', 'is after --to');
}
