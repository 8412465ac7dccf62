import { BadInputError, type StagedManifest } from '@pv-pipeline/core';
import { duckdbType, PV_READINGS, quoteIdent } from '@pv-pipeline/schema';
import { sqlString } from '../sql-literal.js';

/** A calendar day, `YYYY-MM-DD` (the day of a manifest decides its partition). */
export const DAY = /^(\d{4})-(\d{2})-\d{2}$/;

/** Checks what the sink relies on in a manifest: a day, an integer system, a staged file when it has rows. */
export function validateManifest(m: StagedManifest): void {
  if (!DAY.test(m.day)) throw new BadInputError(m.key, `manifest day "${m.day}" is not YYYY-MM-DD`);
  if (!Number.isSafeInteger(m.ss_id) || m.ss_id < 0) {
    throw new BadInputError(m.key, `manifest ss_id ${m.ss_id} is not a system id`);
  }
  if (!Number.isSafeInteger(m.rows) || m.rows < 0) throw new BadInputError(m.key, `manifest rows ${m.rows} is invalid`);
  if (m.rows > 0 && !m.staged) throw new BadInputError(m.key, `manifest has ${m.rows} rows but no staged file`);
}

/**
 * The SELECT list turning a staged file into `PV_READINGS` columns: every column
 * cast to its schema type, `source_key` from the manifest, non-nullable columns
 * checked, and `ss_id` checked against the manifest (it is also the partition path).
 */
export function readingsSelect(m: StagedManifest): string {
  return PV_READINGS.columns
    .map((c) => {
      const name = quoteIdent(c.name);
      if (c.name === 'source_key') return `CAST(${sqlString(m.key)} AS ${duckdbType(c.type)}) AS ${name}`;
      const cast = `CAST(${name} AS ${duckdbType(c.type)})`;
      if (c.name === 'ss_id') {
        return `CASE WHEN ${name} IS DISTINCT FROM ${m.ss_id} THEN error('ss_id ' || coalesce(${name}::VARCHAR, 'NULL') || ' differs from the manifest (${m.ss_id})') ELSE ${cast} END AS ${name}`;
      }
      if (!c.nullable) return `CASE WHEN ${name} IS NULL THEN error('NULL in ${c.name}') ELSE ${cast} END AS ${name}`;
      return `${cast} AS ${name}`;
    })
    .join(', ');
}

/** Epoch µs (decimal string) → ISO instant, for the ledger's time-range columns. */
export function usToIso(us: string | null): string | null {
  return us === null ? null : new Date(Number(us) / 1000).toISOString();
}

/** The manifests of a batch, checked, one per source key: when a key occurs twice its last manifest wins (in that one's batch position). */
export function lastManifestPerKey(batch: readonly StagedManifest[]): Map<string, StagedManifest> {
  const byKey = new Map<string, StagedManifest>();
  for (const m of batch) {
    validateManifest(m);
    byKey.delete(m.key); // keep batch order of the winning manifest
    byKey.set(m.key, m);
  }
  return byKey;
}

/**
 * Commit times of a dataset's ledger: ISO instants with microseconds, strictly
 * increasing within the process and after every commit already in the ledger
 * (a loader restarted on a node whose clock is behind still writes the latest rows).
 */
export class CommitClock {
  #lastUs = 0n;

  /** The next commit time, later than `afterUs` (epoch µs; the ledger's latest `loaded_at`). */
  next(afterUs = 0n): string {
    let us = BigInt(Date.now()) * 1000n;
    if (us <= this.#lastUs) us = this.#lastUs + 1n;
    if (us <= afterUs) us = afterUs + 1n;
    this.#lastUs = us;
    const iso = new Date(Number(us / 1000n)).toISOString(); // …sss Z
    return `${iso.slice(0, -1)}${String(us % 1000n).padStart(3, '0')}Z`;
  }
}
