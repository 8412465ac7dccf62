import type { Sink } from '@pv-pipeline/sinks';
import { publishQualityReport } from './publish.js';
import type { QualityJson } from './quality-json.js';

/** What a refresh after a run did. */
export interface RefreshOutcome {
  /** The systems the run loaded objects of, whose report was recomputed. */
  systems: number[];
  /** The report's JSON, or null when the run loaded nothing (the report was left as it was). */
  json: QualityJson | null;
}

/**
 * Refreshes the report in `dir` after a run: the systems the run loaded
 * objects of (its rows in the ledger) are recomputed over all their days, the
 * report's other systems are kept (see {@link publishQualityReport}'s merge).
 */
export async function refreshReportAfterRun(
  sink: Sink,
  dir: string,
  runId: string,
  options: { memoryLimit?: string } = {},
): Promise<RefreshOutcome> {
  const reader = await sink.openReader();
  let systems: number[];
  try {
    const id = runId.replaceAll("'", "''");
    const rows = await reader.query(
      `SELECT DISTINCT ss_id FROM ${reader.table('pv_ingest_ledger')} WHERE run_id = '${id}' ORDER BY ss_id`,
    );
    systems = rows.map((r) => Number(r.ss_id));
  } finally {
    await reader.close();
  }
  if (systems.length === 0) return { systems, json: null };
  const json = await publishQualityReport({
    sink,
    out: dir,
    request: { systems },
    merge: true,
    ...(options.memoryLimit ? { memoryLimit: options.memoryLimit } : {}),
  });
  return { systems, json };
}
