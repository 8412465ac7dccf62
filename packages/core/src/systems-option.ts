import { BadInputError } from './errors.js';

/** Parses `--systems 4,50` / `all`: the ids sorted and unique; otherwise a BadInputError naming `--systems`. */
export function parseSystemsOption(text: string): number[] | 'all' {
  const t = text.trim().toLowerCase();
  if (t === 'all') return 'all';
  const parts = t
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  if (parts.length === 0 || parts.some((p) => !/^\d+$/.test(p) || Number(p) <= 0)) {
    throw new BadInputError('--systems', `"${text}" is not "all" or a comma-separated list of system ids`);
  }
  return [...new Set(parts.map(Number))].sort((a, b) => a - b);
}
