import { READING_RULE_IDS, type StagedManifest } from '@pv-pipeline/core';
import type { LedgerRow } from '@pv-pipeline/schema';

/**
 * The ledger columns a manifest fills (every column of `pv_ingest_ledger`
 * but `run_id` and `loaded_at`, which the commit sets), the time range as
 * epoch µs (each sink writes instants its own way). One mapping for every sink.
 */
export type LedgerFields = Omit<LedgerRow, 'run_id' | 'loaded_at' | 'min_timestamp' | 'max_timestamp'> & {
  min_timestamp: bigint | null;
  max_timestamp: bigint | null;
};

/** The ledger fields of a manifest, with the ETag to record (stream mode first records a pending one). */
export function ledgerFieldsOf(m: StagedManifest, etag: string = m.etag): LedgerFields {
  const dropped = Object.fromEntries(READING_RULE_IDS.map((id) => [`dropped_${id}`, m.dropped[id]])) as Pick<
    LedgerRow,
    `dropped_${(typeof READING_RULE_IDS)[number]}`
  >;
  return {
    source_key: m.key,
    etag,
    ss_id: m.ss_id,
    day: m.day,
    rows: m.rows,
    min_timestamp: m.minTimestamp === null ? null : BigInt(m.minTimestamp),
    max_timestamp: m.maxTimestamp === null ? null : BigInt(m.maxTimestamp),
    ...dropped,
    dropped_by_sensor: Object.keys(m.droppedBySensor).length > 0 ? JSON.stringify(m.droppedBySensor) : null,
    source_group: m.group,
    source_order: m.order,
  };
}
