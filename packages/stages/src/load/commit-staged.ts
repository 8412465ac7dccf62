import type { StagedManifest } from '@pv-pipeline/core';
import type { CommitResult, Sink } from '@pv-pipeline/sinks';
import type { StagingArea } from '../staging/staging-area.js';

/**
 * Commits a batch whose staged files live in a staging area: makes them local
 * (a download for S3 staging), hands the sink manifests with local paths, and
 * releases the local copies whatever the outcome.
 */
export async function commitStaged(
  sink: Sink,
  staging: StagingArea,
  batch: readonly StagedManifest[],
  runId: string,
): Promise<CommitResult> {
  const local = await staging.localize(batch.flatMap((m) => (m.staged ? [m.staged] : [])));
  try {
    return await sink.commit(
      batch.map((m) => (m.staged ? { ...m, staged: local.path(m.staged) } : m)),
      runId,
    );
  } finally {
    await local.release();
  }
}
