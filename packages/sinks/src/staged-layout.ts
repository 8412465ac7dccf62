import { PermanentError, type StagedManifest } from '@pv-pipeline/core';

/**
 * Refuses a batch holding staged files without text (layout `channel_index`),
 * which only a DuckDB sink reads: a sink that rewrites or loads the staged
 * columns needs the names in them. Such files come from workers started for a
 * DuckDB sink (`PV_SINK`) feeding a loader of another sink.
 */
export function assertNamedStagedFiles(sinkUrl: string, batch: readonly StagedManifest[]): void {
  const indexed = batch.find((m) => m.layout === 'channel_index');
  if (indexed) {
    throw new PermanentError(
      `${sinkUrl}: ${indexed.key} was staged without text (layout channel_index), which only a DuckDB sink reads; start the workers with this sink's PV_SINK`,
    );
  }
}
