import type { StagedManifest } from '@pv-pipeline/core';
import type { CommitResult, Sink } from '@pv-pipeline/sinks';
import type { StagingArea } from '../staging/staging-area.js';

/**
 * The staged file of a manifest that lives in the staging area, or null: none
 * (no rows), or a readings file a worker placed in the dataset itself, which
 * is the sink's and never removed as a staged file.
 */
export function stagedRef(m: StagedManifest): string | null {
  return m.placed ? null : m.staged;
}

/**
 * Commits a batch whose staged files live in a staging area: makes them local
 * (a download for S3 staging), hands the sink manifests with local paths (a
 * placed file, or one the sink reads in place such as a `gs://` file for a
 * BigQuery load job, as it is; `synced` where the staging area synced the
 * file), and releases the local copies whatever the outcome.
 */
export async function commitStaged(
  sink: Sink,
  staging: StagingArea,
  batch: readonly StagedManifest[],
  runId: string,
): Promise<CommitResult> {
  const copied = (m: StagedManifest) => stagedRef(m) !== null && !sink.readsStagedInPlace?.(m);
  const local = await staging.localize(batch.flatMap((m) => (copied(m) ? [m.staged!] : [])));
  try {
    return await sink.commit(
      batch.map((m) => (copied(m) ? { ...m, staged: local.path(m.staged!), synced: local.synced } : m)),
      runId,
    );
  } finally {
    await local.release();
  }
}
