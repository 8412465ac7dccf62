import { createHash } from 'node:crypto';

/**
 * A short stable id derived from its parts (sha256, hex, 32 chars). Every id that
 * crosses a boundary (job ids, staged file names, load job ids) comes from here.
 */
export function derivedId(...parts: ReadonlyArray<string | number>): string {
  const h = createHash('sha256');
  for (const p of parts) {
    h.update(String(p));
    h.update('\0');
  }
  return h.digest('hex').slice(0, 32);
}
