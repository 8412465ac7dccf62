import type { DuckDBConnection } from '@duckdb/node-api';
import { PermanentError, type StagedManifest } from '@pv-pipeline/core';
import { batchPrecedence } from '../precedence.js';
import { appendTempRows } from './temp-rows.js';

/**
 * `temp.pv_batch_files`: one row per staged file of the batch being committed,
 * `(file, indexed, object_id, rank, ord, pos, grp)`: its path as `read_parquet`
 * names it, whether it is of layout `channel_index`, its object's id and its
 * precedence in the batch (see precedence.ts).
 */
export const BATCH_FILES = 'temp.pv_batch_files';

/**
 * `temp.pv_batch_channels`: one row per channel its manifest lists,
 * `(file, channel, ss_id, sensor, metric_id, units)`, `channel` its position
 * in the list (which is what a file of layout `channel_index` holds).
 */
export const BATCH_CHANNELS = 'temp.pv_batch_channels';

/**
 * Writes {@link BATCH_FILES} and {@link BATCH_CHANNELS} for a batch's staged
 * files (with DuckDB's appender, see temp-rows.ts), in the caller's transaction.
 *
 * @param objectIds the `object_id` of each file's source key (registerObjects)
 * @throws PermanentError for a file of layout `channel_index` whose manifest lists no channel
 */
export async function writeBatchTables(
  conn: DuckDBConnection,
  files: readonly StagedManifest[],
  objectIds: ReadonlyMap<string, number>,
): Promise<void> {
  for (const m of files) {
    if (m.layout === 'channel_index' && (!m.channels || m.channels.length === 0)) {
      throw new PermanentError(
        `${m.key}: staged without text (layout channel_index) but its manifest lists no channel`,
      );
    }
  }
  const precedence = batchPrecedence(files);
  await appendTempRows(
    conn,
    'pv_batch_files',
    [
      { name: 'file', type: 'VARCHAR' },
      { name: 'indexed', type: 'BOOLEAN' },
      { name: 'object_id', type: 'BIGINT' },
      { name: 'rank', type: 'BIGINT' },
      { name: 'ord', type: 'BIGINT' },
      { name: 'pos', type: 'BIGINT' },
      { name: 'grp', type: 'VARCHAR' },
    ],
    files.map((m, i) => {
      const p = precedence[i]!;
      return [m.staged, m.layout === 'channel_index', objectIds.get(m.key), p.rank, p.order, p.pos, m.group];
    }),
  );
  await appendTempRows(
    conn,
    'pv_batch_channels',
    [
      { name: 'file', type: 'VARCHAR' },
      { name: 'channel', type: 'BIGINT' },
      { name: 'ss_id', type: 'BIGINT' },
      { name: 'sensor', type: 'VARCHAR' },
      { name: 'metric_id', type: 'BIGINT' },
      { name: 'units', type: 'VARCHAR' },
    ],
    files.flatMap((m) => (m.channels ?? []).map((c, i) => [m.staged, i, m.ss_id, c.sensor, c.metric_id, c.units])),
  );
}

/** Drops the tables of {@link writeBatchTables}. */
export async function dropBatchTables(conn: DuckDBConnection): Promise<void> {
  await conn.run(`DROP TABLE IF EXISTS ${BATCH_FILES}`);
  await conn.run(`DROP TABLE IF EXISTS ${BATCH_CHANNELS}`);
}
